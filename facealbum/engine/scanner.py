"""Scanning a folder: walk it, decide what needs analysing, analyse in worker processes.

The parent's work per photo stays tiny (a stat while walking, a message to a worker);
reading, decoding, detecting and encoding all happen in the workers, because dlib's
encoder holds the GIL and only processes use more than one core for it.
"""

from __future__ import annotations

import functools
import os
import stat
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from facealbum.engine.pool import ProcessPool, WorkerError, WorkerStartError
from facealbum.model import PHOTO_EXTENSIONS, PhotoAnalysis, PhotoStatus

# -- what is on disk, what the library knows --------------------------------------------


@dataclass(frozen=True)
class DiskPhoto:
    """A photo file as found on disk."""

    path: str
    size: int  # bytes
    mtime: float  # seconds since the epoch


@dataclass(frozen=True)
class KnownPhoto:
    """What the library remembers of a photo path from an earlier scan."""

    size: int
    mtime: float
    fingerprint: str | None
    status: str  # "pending" means it was never analysed to the end
    detector: str | None = None  # that found its faces; None: before it was recorded


# Photos analysed before the library recorded the detector were all analysed with HOG.
DETECTOR_BEFORE_RECORDED = "hog"


@dataclass(frozen=True)
class UnreadFolder:
    """A folder under a walked root whose photos the walk could not see."""

    path: str
    reason: str  # for the user: "cannot be read: permission denied", BARE_FOLDER
    # True: the folder exists but holds nothing at all, as an unmounted drive's mount point
    # does. A user who deletes photos rarely leaves a folder bare, so the library's photos
    # under it are kept until the user says they are gone (prune).
    empty: bool = False


@dataclass(frozen=True)
class ScanPlan:
    to_analyse: list[DiskPhoto]  # new paths, changed files, and photos still pending
    removed: list[str]  # known paths no longer on disk, with evidence they are gone
    unchanged: int
    # Known paths under a folder that could not be read: nothing is known of them.
    kept_unread: list[str] = field(default_factory=list)
    # Known paths that seem gone but are too many to remove without the user's yes.
    held_back: list[str] = field(default_factory=list)
    # Unchanged photos in to_analyse because their faces were found by another detector.
    redetect: list[str] = field(default_factory=list)


# A scan that would remove more than this share of the photos it walked past (and at least
# PRUNE_MIN_PHOTOS) holds the removal back until the user confirms: a user tidying up
# deletes some photos; a failing drive, a share that half-mounted or a sync client that
# emptied its folders loses most of them at once.
PRUNE_SHARE = 0.5
PRUNE_MIN_PHOTOS = 10
BARE_FOLDER = "empty (an unplugged drive?)"


class PhotoWalk:
    """Every photo file under `root`, in a stable (sorted) order; iterate it once.

    Hidden files and folders (leading dot) are skipped, as are the folders in `skip`
    (real paths: the library's own folder, which must never index its own thumbnails).
    Symlinked folders are followed, each real folder at most once, so a link loop ends.
    Folders that cannot be read, and bare ones, are collected in `unread` as the walk
    goes, so that the library keeps what it knows under them. Raises FileNotFoundError /
    NotADirectoryError when `root` itself is missing: an unplugged drive must not look
    like a folder whose photos were deleted.
    """

    def __init__(self, root: Path, skip: Iterable[str] = ()) -> None:
        self.root = os.path.abspath(os.fspath(root))
        self.skip = {os.path.realpath(p) for p in skip}
        self.unread: list[UnreadFolder] = []

    def __iter__(self) -> Iterator[DiskPhoto]:
        top = self.root
        if not os.path.isdir(top):
            if os.path.exists(top):
                raise NotADirectoryError(top)
            raise FileNotFoundError(top)
        seen: set[str] = set(self.skip)
        stack = [top]
        while stack:
            folder = stack.pop()
            real = os.path.realpath(folder)
            if real in seen:
                continue
            seen.add(real)
            photos, subfolders = self._read_folder(folder)
            yield from photos
            stack.extend(reversed(subfolders))  # popped in sorted order

    def _read_folder(self, folder: str) -> tuple[list[DiskPhoto], list[str]]:
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:  # unreadable, or vanished mid-walk (unplugged)
            self.unread.append(UnreadFolder(folder, f"cannot be read: {_os_reason(exc)}"))
            return [], []
        if not entries:
            self.unread.append(UnreadFolder(folder, BARE_FOLDER, empty=True))
        photos: list[DiskPhoto] = []
        subfolders: list[str] = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_dir():  # follows symlinks; loops are caught by real path
                    subfolders.append(entry.path)
                    continue
                if not is_photo_name(entry.name):
                    continue
                st = entry.stat()  # follows a symlinked file to the photo itself
            except OSError:  # broken link, permission, vanished: that one file
                continue
            if stat.S_ISREG(st.st_mode):
                photos.append(DiskPhoto(entry.path, st.st_size, st.st_mtime))
        return photos, subfolders


def walk_photos(root: Path) -> Iterator[DiskPhoto]:
    """Every photo file under `root` (see PhotoWalk, which also tells what it could not read)."""
    return iter(PhotoWalk(root))


def _os_reason(exc: OSError) -> str:
    return (exc.strerror or type(exc).__name__).lower()


def folder_offline_reason(path: str, photo_count: int) -> str | None:
    """Why a library folder cannot be read now, None when it can. Cheap (one directory
    listing started): the app asks it for every folder each time it lists them."""
    if not os.path.isdir(path):
        return "not found (an unplugged drive?)" if not os.path.exists(path) else "not a folder"
    try:
        with os.scandir(path) as it:
            bare = next(it, None) is None
    except OSError as exc:
        return f"cannot be read: {_os_reason(exc)}"
    if bare and photo_count:
        return "empty, but it held photos (an unplugged drive?)"
    return None


def is_photo_name(name: str) -> bool:
    """Whether a file name has one of the photo extensions the engine can read."""
    return os.path.splitext(name)[1].lower() in PHOTO_EXTENSIONS


def is_under(path: str, folder: str) -> bool:
    return path.startswith(folder.rstrip(os.sep) + os.sep)


def plan_scan(
    disk: Iterable[DiskPhoto],
    known: Mapping[str, KnownPhoto],
    unread: Sequence[UnreadFolder] = (),
    prune: bool = False,
    detector: str | None = None,
) -> ScanPlan:
    """Compare the disk with the library.

    `known` must hold only the photos under the walked folder, else photos of other
    folders are reported as removed. A photo that failed before is not retried while
    its file is unchanged. A known photo counts as removed only with evidence: its
    folder was read and the file is not there. Under a folder that could not be read it
    is kept; under a bare folder, and when removals are a large share of `known`, it is
    held back unless `prune` (the user said those photos are gone). `detector`: find the
    faces again, with this detector, of every photo whose faces another one found.
    """
    to_analyse: list[DiskPhoto] = []
    redetect: list[str] = []
    on_disk: set[str] = set()
    unchanged = 0
    for photo in disk:
        on_disk.add(photo.path)
        before = known.get(photo.path)
        if (
            before is None
            or before.status == PhotoStatus.PENDING
            or before.size != photo.size
            or before.mtime != photo.mtime
        ):
            to_analyse.append(photo)
        elif (
            detector is not None
            and before.status == PhotoStatus.OK
            and (before.detector or DETECTOR_BEFORE_RECORDED) != detector
        ):
            to_analyse.append(photo)
            redetect.append(photo.path)
        else:
            unchanged += 1
    removed: list[str] = []
    kept: list[str] = []
    held: list[str] = []
    for path in known:
        if path in on_disk:
            continue
        blocking = next((u for u in unread if is_under(path, u.path)), None)
        if blocking is None:
            removed.append(path)
        elif blocking.empty and not prune:
            held.append(path)
        elif not blocking.empty:
            kept.append(path)
        else:
            removed.append(path)
    if not prune and len(removed) >= PRUNE_MIN_PHOTOS and len(removed) > PRUNE_SHARE * len(known):
        held += removed
        removed = []
    return ScanPlan(
        to_analyse, removed, unchanged, kept_unread=kept, held_back=held, redetect=redetect
    )


# -- results ----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Analysed:
    analysis: PhotoAnalysis

    @property
    def path(self) -> str:
        """Every result has a path, so callers can key on it whatever the outcome."""
        return self.analysis.path


@dataclass(frozen=True)
class Moved:
    """A new path whose content is a photo that vanished from `old_path`: not re-analysed."""

    path: str
    size: int
    mtime: float
    fingerprint: str
    old_path: str


@dataclass(frozen=True)
class Failed:
    path: str
    size: int
    mtime: float
    reason: str  # a sentence for the user


ScanResult = Analysed | Moved | Failed

__all__ = [
    "Analysed",
    "DiskPhoto",
    "Failed",
    "KnownPhoto",
    "Moved",
    "PhotoWalk",
    "ScanClock",
    "ScanPlan",
    "ScanPool",
    "ScanResult",
    "UnreadFolder",
    "WorkerStartError",
    "folder_offline_reason",
    "is_photo_name",
    "is_under",
    "plan_scan",
    "walk_photos",
]


# -- the worker side --------------------------------------------------------------------


def _photo_handler(detector: str, min_face_px: int) -> Callable[[DiskPhoto, object], ScanResult]:
    """Runs once in each worker process: builds its own FaceEngine, models loaded."""
    import cv2

    from facealbum.engine.faces import FaceEngine

    # A scan runs one worker per core: OpenCV's own threads (YuNet, resizing) would only
    # contend with the other workers, and cost YuNet 1.4x the CPU for the same photo.
    cv2.setNumThreads(1)
    engine = FaceEngine(detector=detector, min_face_px=min_face_px)
    # Now, not on the first photo: workers started ahead of the scan (ScanWorkers) are
    # ready when its photos come, and missing model files stop the scan with one clear
    # message instead of failing every photo.
    engine.load_models()

    def handle(photo: DiskPhoto, moved_candidates: object) -> ScanResult:
        return analyse_photo(engine, photo, moved_candidates or {})

    return handle


def analyse_photo(
    engine: object, photo: DiskPhoto, moved_candidates: Mapping[str, str]
) -> ScanResult:
    """What a worker does with one photo; never raises."""
    from facealbum.engine.images import ImageLoadError, fingerprint, read_photo_bytes

    fail = functools.partial(Failed, photo.path, photo.size, photo.mtime)
    try:
        data = None
        if moved_candidates:
            data = read_photo_bytes(photo.path)
            digest = fingerprint(data)
            old_path = moved_candidates.get(digest)
            if old_path is not None:
                return Moved(photo.path, photo.size, photo.mtime, digest, old_path)
        # The bytes already read are analysed as they are: the file is read only once.
        return Analysed(engine.analyse_file(photo.path, data))  # type: ignore[attr-defined]
    except ImageLoadError as exc:
        return fail(exc.reason)
    except MemoryError:
        return fail("not enough memory to analyse this photo")
    except Exception as exc:  # a bug or a dlib error must cost one photo, not the scan
        return fail(f"analysis failed: {type(exc).__name__}: {exc}")


# -- the pool ---------------------------------------------------------------------------


class ScanPool:
    """Analyses photos in worker processes, each with its own FaceEngine.

    Use as a context manager; workers start on the first run and are reused by later
    runs. Workers = Settings.effective_workers().
    """

    def __init__(
        self,
        workers: int,
        detector: str,
        min_face_px: int,
    ) -> None:
        setup = functools.partial(_photo_handler, detector, min_face_px)
        # Two photos per worker: one running, one waiting, so no worker idles between
        # photos while memory and cancel latency stay bounded.
        self._pool = ProcessPool(workers, setup, depth=2, name="facealbum-scan")

    @property
    def workers(self) -> int:
        return self._pool.workers

    def start(self) -> None:
        """Start the workers now; each loads its models while the caller plans the scan."""
        self._pool.start()

    def __enter__(self) -> ScanPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self, at_once: bool = False) -> None:
        self._pool.close(at_once)

    def run(
        self,
        photos: Sequence[DiskPhoto],
        moved_candidates: Mapping[str, str] | None = None,
        cancel: threading.Event | None = None,
        pause: threading.Event | None = None,
    ) -> Iterator[ScanResult]:
        """Analyse `photos`, yielding one result per photo in completion order.

        moved_candidates maps the fingerprint of each photo that vanished from disk to
        its old path; a photo with such a fingerprint comes back as Moved, undetected.
        Pause holds back new photos; cancel drops what is left and returns promptly.
        Raises WorkerStartError when the workers cannot start (e.g. face models missing).
        """
        context = dict(moved_candidates) if moved_candidates else None
        for photo, outcome in self._pool.run(photos, context, cancel=cancel, pause=pause):
            if isinstance(outcome, WorkerError):
                yield Failed(photo.path, photo.size, photo.mtime, outcome.reason)
            else:
                yield outcome


# -- progress ---------------------------------------------------------------------------


@dataclass
class ScanClock:
    """Photos per second over a sliding window, and the time left at that pace."""

    total: int
    window: float = 30.0  # seconds of history the speed is measured over
    now: Callable[[], float] = time.monotonic
    done: int = 0
    _samples: deque = field(default_factory=deque, repr=False)  # (time, done)

    def __post_init__(self) -> None:
        self._samples.append((self.now(), 0))

    def tick(self, n: int = 1) -> None:
        """Count n more photos as done."""
        self.done += n
        t = self.now()
        self._samples.append((t, self.done))
        # Keep one sample older than the window as the anchor to measure from.
        while len(self._samples) > 2 and self._samples[1][0] <= t - self.window:
            self._samples.popleft()

    @property
    def photos_per_second(self) -> float:
        first_t, first_done = self._samples[0]
        elapsed = self.now() - first_t
        if elapsed <= 0:
            return 0.0
        return (self.done - first_done) / elapsed

    @property
    def eta_seconds(self) -> float | None:
        """Seconds left, or None while there is no pace to go by."""
        left = max(0, self.total - self.done)
        if left == 0:
            return 0.0
        rate = self.photos_per_second
        return left / rate if rate > 0 else None
