"""The Album facade: one object the UI and the command line share.

It owns a library folder (database, vector index, settings) and answers in small
frozen values. Every method may be called from any thread: the store keeps one
SQLite connection per thread and one writer lock, and the index is only touched
under that same lock (or its own, for searches).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from facealbum import config
from facealbum.album import search
from facealbum.album.index_sync import IndexSync
from facealbum.album.people import PeopleMixin
from facealbum.db import backup as db_backup
from facealbum.db import queries, scan_writes
from facealbum.db.migrations import MigrationError
from facealbum.db.store import Store, StoreBusy, StoreError, os_failure
from facealbum.engine.scanner import DETECTOR_BEFORE_RECORDED
from facealbum.interop import titles
from facealbum.model import (
    Artwork,
    Face,
    FaceInfo,
    FolderInfo,
    LibraryError,
    Match,
    PhotoInfo,
    ScanProgress,
    Tier,
)

if TYPE_CHECKING:
    from facealbum.album.scan import ScanJob
    from facealbum.album.scan_workers import ScanWorkers
    from facealbum.engine.query import QueryAnalyser

# Titles remembered for look-alikes: a session shows some hundreds of portraits, and a
# collection of 100,000 must not keep every title it ever showed (nor old ones of files
# that changed) for as long as it is open.
ARTWORKS_KEPT = 4096

# The disk errors are part of the facade: front ends catch them from here.
__all__ = ["Album", "LibraryError", "StoreBusy", "StoreError"]

log = logging.getLogger(__name__)


class Album(PeopleMixin):
    """One open library. Use Album.open(directory)."""

    def __init__(
        self,
        directory: Path,
        store: Store,
        settings: config.Settings,
        *,
        isolate_engine: bool = False,
    ) -> None:
        self.directory = directory
        self.settings = settings
        self._store = store
        self._sync = IndexSync(store, directory / config.INDEX_DIR_NAME)
        self._isolate_engine = isolate_engine
        self._query: QueryAnalyser | None = None  # finds the faces of query images
        self._query_settings: tuple[str, int] | None = None  # what it was built with
        self._query_lock = threading.Lock()
        self._daily_backup: threading.Thread | None = None
        # Titles of the photos shown as look-alikes, (path, mtime, its collection.csv's mtime)
        # -> Artwork, the most recently shown last; and each folder's collection.csv,
        # folder -> (mtime, titles).
        self._artworks: OrderedDict[tuple[str, float, float | None], Artwork] = OrderedDict()
        self._listed: dict[str, tuple[float, dict[str, Artwork]]] = {}
        self._artwork_lock = threading.Lock()
        self._closed = False

    # -- library -------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        directory: Path,
        create: bool = True,
        *,
        isolate_engine: bool = False,
        read_only: bool | None = None,
    ) -> Album:
        """Open (or create) the library in `directory`; loads or rebuilds its index.

        `isolate_engine`: find the faces of query images (faces_in_image, search_image) in
        a helper process, started on first use, instead of the calling thread. The GUI
        wants this: dlib holds the GIL for the whole encoding, and a crash in it must
        fail one request, not the window.
        `read_only`: None opens read-only when the library cannot be written; then every
        read works and every change raises StoreReadOnly.
        Raises LibraryError, or StoreError when the disk fails (busy, full, empty file).
        """
        directory = Path(directory).expanduser()
        db_path = directory / config.DATABASE_NAME
        if not db_path.is_file():
            if not create:
                raise LibraryError(f"no facealbum library in {directory}")
            if directory.exists() and not directory.is_dir():
                raise LibraryError(f"{directory} is a file, not a library folder")
            try:
                # Only a folder made here is made private: the user's own stays as it is.
                directory.mkdir(mode=config.PRIVATE_DIR_MODE, parents=True, exist_ok=True)
            except OSError as e:
                raise LibraryError(f"cannot create library folder {directory}: {e}") from e
        try:
            store = Store(db_path, read_only=read_only)
        except MigrationError as e:
            raise LibraryError(str(e)) from e
        except sqlite3.DatabaseError as e:
            raise LibraryError(f"{db_path} is not a usable library database: {e}") from e
        settings = config.load_settings(directory, _defaults_for(store))
        album = cls(directory, store, settings, isolate_engine=isolate_engine)
        try:
            album._sync.open()
        except BaseException:
            store.close()
            raise
        album._start_daily_backup()
        return album

    @property
    def index_state(self) -> str:
        """How the index was opened: "loaded", "caught up: +A -R" or "rebuilt: <why>"."""
        return self._sync.state

    def update_settings(self, settings: config.Settings) -> None:
        settings = settings.validated()
        self._store.check_writable()
        try:
            config.save_settings(self.directory, settings)
        except OSError as e:
            raise os_failure(e, self.directory, "the settings were not saved") from e
        self.settings = settings

    def close(self) -> None:
        """Stop the face analysis, save the index and close the database; safe to call twice.
        Raises StoreError when the index could not be saved (the database is closed all the
        same, every change in it kept)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._close_query_analyser()
            if self._daily_backup is not None:
                self._daily_backup.join()  # a restore may follow: let the copy finish
            self._sync.save()
        finally:
            self._store.close()

    @property
    def read_only(self) -> bool:
        """Whether the library was opened read-only (every change raises StoreReadOnly)."""
        return self._store.read_only

    def backup(self, reason: str) -> Path:
        """Back up the database into the library's backups folder now, before a risky
        change; returns the new file. Raises StoreError (nothing changed) when it cannot."""
        self._store.check_writable()
        return db_backup.make_backup(self._store.path, reason)

    def _start_daily_backup(self) -> None:
        """The day's backup, on a thread: a copy of a large library takes about a second,
        which an open (the window waits for it) must not."""
        if self._store.read_only:
            return
        self._daily_backup = threading.Thread(
            target=self._back_up_daily, name="facealbum-backup", daemon=True
        )
        self._daily_backup.start()

    def _back_up_daily(self) -> None:
        try:
            db_backup.backup_if_due(self._store.path)
        except (StoreError, OSError, sqlite3.Error) as e:
            # Not the user's action: the next change that fails says what is wrong.
            log.warning("daily backup of %s not made: %s", self.directory, e)

    def __enter__(self) -> Album:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- folders ------------------------------------------------------------------------

    def add_folder(self, path: str | Path) -> FolderInfo:
        """Add a photo folder. A folder that contains library folders absorbs them."""
        folder = _real_dir(path)
        text = str(folder)
        inner: list[int] = []
        for fid, other in self._folder_paths():
            if folder == other or other in folder.parents:
                raise LibraryError(f"{text} is already in the library (folder {other})")
            if folder in other.parents:
                inner.append(fid)
        with self._store.write() as conn:
            folder_id = scan_writes.add_folder(conn, text, inner)
        return self._folder_info(folder_id)

    def remove_folder(self, path_or_id: str | Path | int) -> int:
        """Forget a folder with its photos and faces (never touches the files); returns the
        number of faces removed."""
        folder_id = self._find_folder(path_or_id)
        self.backup("before-remove-folder")
        changes = self._sync.write_faces(
            lambda conn: scan_writes.remove_folder(conn, folder_id), then_save=True
        )
        return len(changes.removed_ids)

    def folders(self) -> list[FolderInfo]:
        """Every library folder, each with why it cannot be read now (None when it can)."""
        from facealbum.engine.scanner import folder_offline_reason

        rows = queries.folders(self._store.conn)
        return [queries.folder_info(r, folder_offline_reason(r[1], r[2])) for r in rows]

    def _folder_info(self, folder_id: int) -> FolderInfo:
        for info in self.folders():
            if info.id == folder_id:
                return info
        raise LibraryError(f"no library folder with id {folder_id}")

    def _folder_paths(self) -> list[tuple[int, Path]]:
        return [(fid, Path(path)) for fid, path in queries.folder_paths(self._store.conn)]

    def _find_folder(self, path_or_id: str | Path | int) -> int:
        if isinstance(path_or_id, int):
            if not queries.folder_exists(self._store.conn, path_or_id):
                raise LibraryError(f"no library folder with id {path_or_id}")
            return path_or_id
        wanted = {str(Path(path_or_id).expanduser().absolute())}
        try:
            wanted.add(str(Path(path_or_id).expanduser().resolve()))
        except OSError:
            pass
        for fid, p in self._folder_paths():
            if str(p) in wanted:
                return fid
        raise LibraryError(f"{path_or_id} is not a folder of this library")

    # -- scanning -----------------------------------------------------------------------

    def scan(
        self,
        folders: list[Path] | None = None,
        *,
        progress: Callable[[ScanProgress], None] | None = None,
        cancel: threading.Event | None = None,
        pause: threading.Event | None = None,
        prune: bool = False,
        workers: ScanWorkers | None = None,
    ) -> ScanProgress:
        """Bring the library up to date with the disk (blocking). `folders`: library folders,
        or sub-folders of them, to scan; None = all.

        Photos are removed only when their folder was read and they are not in it. A
        folder that cannot be read is offline: its photos stay (final.offline). Removals
        that are most of a folder, or under a bare folder (an empty mount point), wait
        for the user (final.held_back) unless `prune`. `workers`: worker processes to
        analyse with, left running (else the scan starts and stops its own)."""
        targets = self._scan_targets(folders)
        job = self._scan_job(targets, progress, cancel, pause, workers, prune=prune)
        final = job.run()
        # New faces join groups and get suggestions (a cancelled scan's faces too).
        self._update_people_after_scan(xmp_regions=job.xmp_regions)
        return final

    def find_faces_again(
        self,
        folders: list[Path] | None = None,
        *,
        detector: str | None = None,
        progress: Callable[[ScanProgress], None] | None = None,
        cancel: threading.Event | None = None,
        pause: threading.Event | None = None,
        workers: ScanWorkers | None = None,
    ) -> ScanProgress:
        """Find the faces of every photo again with `detector` (default: the recommended
        one), which becomes the library's; a scan besides (new and changed photos too).

        Every decision is kept: a face found again where an old one was keeps its id,
        person and rejections; a face with a person or a rejection that the detector does
        not find stays as it is. A cancelled or killed run resumes where it stopped: the
        photos already done carry the new detector's name."""
        detector = detector or config.RECOMMENDED_DETECTOR
        if detector not in config.DETECTORS:
            raise LibraryError(f"unknown face detector {detector!r}")
        if detector != self.settings.detector:
            self.update_settings(replace(self.settings, detector=detector))
        targets = self._scan_targets(folders)
        job = self._scan_job(targets, progress, cancel, pause, workers, redetect=True)
        final = job.run()
        # New faces join groups and get suggestions (a cancelled scan's faces too).
        self._update_people_after_scan(xmp_regions=job.xmp_regions)
        return final

    def _scan_job(
        self,
        targets: list[tuple[int, Path]],
        progress: Callable[[ScanProgress], None] | None,
        cancel: threading.Event | None,
        pause: threading.Event | None,
        workers: ScanWorkers | None,
        **mode: bool,
    ) -> ScanJob:
        # Imported here: the scan brings OpenCV, which opening the window need not wait for.
        from facealbum.album.scan import ScanJob

        folders = dict(self._folder_paths())
        return ScanJob(
            self._sync, self.settings, self.directory, folders, targets, self.backup,
            progress, cancel, pause, workers, **mode,
        )  # fmt: skip

    def _scan_targets(self, folders: list[Path] | None) -> list[tuple[int, Path]]:
        known = self._folder_paths()
        if folders is None:
            return known
        targets = []
        for path in folders:
            wanted = Path(path).expanduser().absolute()
            owner = next((fid for fid, p in known if p == wanted or p in wanted.parents), None)
            if owner is None:
                wanted = wanted.resolve()
                owner = next((fid for fid, p in known if p == wanted or p in wanted.parents), None)
            if owner is None:
                raise LibraryError(f"{path} is not in a folder of this library; add it first")
            targets.append((owner, wanted))
        # A target inside another target would be walked twice.
        roots = {p for _, p in targets}
        return [(fid, p) for fid, p in dict(targets).items() if not (set(p.parents) & roots)]

    # -- photos and faces ---------------------------------------------------------------

    def photo_ids(self, *, folder_id: int | None = None, person_id: int | None = None) -> list[int]:
        """Newest taken_at first (undated photos last), then by path."""
        return queries.photo_ids(self._store.conn, folder_id, person_id)

    def photo(self, photo_id: int) -> PhotoInfo | None:
        return queries.photos(self._store.conn, [photo_id]).get(photo_id)

    def photos(self, photo_ids: Sequence[int]) -> dict[int, PhotoInfo]:
        return queries.photos(self._store.conn, photo_ids)

    def unreadable_photos(self, folder_id: int | None = None) -> list[PhotoInfo]:
        """The photos a scan could not read, each with why (PhotoInfo.error), by path."""
        ids = queries.unreadable_photo_ids(self._store.conn, folder_id)
        found = queries.photos(self._store.conn, ids)
        return [found[i] for i in ids if i in found]

    def face_ids(self, which: str = "all", *, shuffle_seed: int | None = None) -> list[int]:
        """The faces of the library for a face browser: "all", "unnamed" (no person) or
        "ungrouped" (no person, no group); newest photo first, or shuffled by a seed.
        Faces marked as no face are left out."""
        try:
            return queries.face_ids(self._store.conn, which, shuffle_seed=shuffle_seed)
        except ValueError as e:
            raise LibraryError(str(e)) from e

    def faces_in_photo(self, photo_id: int) -> list[FaceInfo]:
        return queries.faces_in_photo(self._store.conn, photo_id)

    def face(self, face_id: int) -> FaceInfo | None:
        return queries.faces(self._store.conn, [face_id]).get(face_id)

    def artwork(self, photo_id: int) -> Artwork:
        """What the photo is called where its folder or metadata say so (a portrait's title,
        maker, date, link); else a title made from its file name. Reads the file (and a
        collection.csv beside it) on first use, then remembers it until either changes."""
        info = self.photo(photo_id)
        if info is None:
            raise LibraryError(f"no photo with id {photo_id}")
        path = Path(info.path)
        try:
            stamp = path.stat().st_mtime
        except OSError:  # offline or gone: what its name says
            return Artwork(title=titles.title_from_file_name(path))
        listed_stamp, listed = self._listed_artworks(path.parent)
        key = (info.path, stamp, listed_stamp)
        with self._artwork_lock:
            known = self._artworks.get(key)
            if known is not None:
                self._artworks.move_to_end(key)
        if known is None:
            known = titles.read_artwork(path, listed)
            with self._artwork_lock:
                self._artworks[key] = known
                while len(self._artworks) > ARTWORKS_KEPT:
                    self._artworks.popitem(last=False)
        return known

    def _listed_artworks(self, folder: Path) -> tuple[float | None, dict[str, Artwork]]:
        """(mtime, titles) of the folder's collection.csv, read once per change of the file;
        (None, {}) without one."""
        try:
            stamp = (folder / titles.COLLECTION_CSV).stat().st_mtime
        except OSError:
            return None, {}
        with self._artwork_lock:
            known = self._listed.get(str(folder))
        if known is not None and known[0] == stamp:
            return known
        listed = titles.read_collection_csv(folder)
        with self._artwork_lock:
            self._listed[str(folder)] = (stamp, listed)
        return stamp, listed

    def detector_of_photos(self) -> str | None:
        """The detector that found the faces of most photos (one query over the photos: run
        it off the GUI thread); None while no photo is analysed."""
        return _detector_of_photos(self._store)

    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(queries.stats(self._store.conn))
        index = self._sync.index
        out["index"] = {
            "kind": index.mode if index is not None else None,
            "size": len(index) if index is not None else 0,
            "state": self._sync.state,
        }
        return out

    # -- search -------------------------------------------------------------------------

    def _query_analyser(self) -> QueryAnalyser:
        """The analyser for query images, rebuilt when the detection settings changed."""
        from facealbum.engine.faces import usable_detector
        from facealbum.engine.query import make_query_analyser

        # A missing or damaged YuNet model falls back to HOG, as a scan does.
        wanted = (usable_detector(self.settings.detector)[0], self.settings.min_face_px)
        with self._query_lock:
            if self._closed:
                raise LibraryError("the library is closed")
            if self._query is not None and self._query_settings != wanted:
                self._query.close()
                self._query = None
            if self._query is None:
                self._query = make_query_analyser(*wanted, isolated=self._isolate_engine)
                self._query_settings = wanted
            return self._query

    def _close_query_analyser(self) -> None:
        with self._query_lock:
            query, self._query = self._query, None
        if query is not None:
            query.close()

    def faces_in_image(self, source: str | Path | np.ndarray) -> list[Face]:
        """Faces of a photo file or an upright RGB uint8 array (raises ImageLoadError;
        QueryEngineError when the helper process of an isolated engine failed)."""
        analyser = self._query_analyser()
        if isinstance(source, np.ndarray):
            return analyser.faces_in_pixels(source)
        return analyser.faces_in_file(source)

    def similar_to_encoding(
        self,
        encoding: np.ndarray,
        *,
        top: int = 10,
        tolerance: float | None = None,
        exclude_photo: int | None = None,
    ) -> list[Match]:
        """Look-alikes: photos whose best face is within `tolerance`, nearest first, one per
        photo, whoever they show."""
        tolerance = self.settings.tolerance if tolerance is None else float(tolerance)
        return search.nearest_photos(
            self._store.conn, self._sync.index, encoding, top, tolerance, exclude_photo
        )

    def search_person(
        self,
        encoding: np.ndarray,
        *,
        top: int | None = None,
        tolerance: float | None = None,
        exclude_photo: int | None = None,
        maybe: bool = True,
    ) -> list[Match]:
        """Every photo showing this face's person (album.search): the same-person tier,
        most certain first, then (with `maybe`) the uncertain ones up to `tolerance`.
        Each Match has its tier and confidence; `top` only limits."""
        tolerance = self.settings.tolerance if tolerance is None else float(tolerance)
        found = search.photos_of_person(
            self._store.conn, self._sync.index, encoding, tolerance, exclude_photo
        )
        if not maybe:
            found = [m for m in found if m.tier == Tier.SAME]
        return found if top is None else found[: max(top, 0)]

    def similar_to_face(
        self,
        face_id: int,
        *,
        top: int | None = None,
        tolerance: float | None = None,
        maybe: bool = True,
    ) -> list[Match]:
        """Other photos showing this face's person (its own photo excluded)."""
        encoding = queries.encoding_of(self._store.conn, face_id)
        info = self.face(face_id)
        if encoding is None or info is None:
            raise LibraryError(f"no face with id {face_id}")
        return self.search_person(
            encoding, top=top, tolerance=tolerance, exclude_photo=info.photo_id, maybe=maybe
        )

    def search_image(
        self,
        source: str | Path | np.ndarray,
        *,
        top: int | None = None,
        tolerance: float | None = None,
        maybe: bool = True,
    ) -> list[tuple[Face, list[Match]]]:
        """For each face found in `source`, the library photos showing that person."""
        return [
            (face, self.search_person(face.encoding, top=top, tolerance=tolerance, maybe=maybe))
            for face in self.faces_in_image(source)
        ]


def _real_dir(path: str | Path) -> Path:
    """The absolute, symlink-free form of an existing directory, or a LibraryError."""
    p = Path(path).expanduser()
    if not p.exists():
        raise LibraryError(f"{path}: no such folder")
    if not p.is_dir():
        raise LibraryError(f"{path} is not a folder")
    return p.resolve()


def _detector_of_photos(store: Store) -> str | None:
    """The detector that found the faces of most of the library's analysed photos; None
    while none is analysed."""
    analysed, detector = queries.most_used_detector(store.conn)
    return (detector or DETECTOR_BEFORE_RECORDED) if analysed else None


def _defaults_for(store: Store) -> config.Settings:
    """The settings a library gets for what its settings file does not say: a library whose
    photos were analysed keeps the detector that found their faces (the default changed to
    YuNet; HOG libraries move only when the user finds their faces again)."""
    detector = _detector_of_photos(store)
    if detector not in config.DETECTORS:
        return config.Settings()
    return config.Settings(detector=detector)
