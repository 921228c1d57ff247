"""The library's tables, as numbered migrations applied in order.

A migration is never edited once released: a change to the schema is a new
migration appended to MIGRATIONS.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


# Ids are AUTOINCREMENT so a deleted photo's or face's id is never reused: the
# index, the undo log and the views all hold ids across sessions.
_INITIAL = (
    """CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )""",
    """CREATE TABLE folders (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        path TEXT NOT NULL UNIQUE,
        added_at TEXT NOT NULL DEFAULT (datetime('now'))
    )""",
    """CREATE TABLE photos (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
        path TEXT NOT NULL UNIQUE,
        size INTEGER NOT NULL,
        mtime REAL NOT NULL,
        fingerprint TEXT,
        width INTEGER,
        height INTEGER,
        taken_at TEXT,
        status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'ok', 'error')),
        error TEXT,
        scanned_at TEXT NOT NULL DEFAULT (datetime('now'))
    )""",
    # Matches photo_ids' ORDER BY (newest first, then path), so the view's
    # list of 100k ids is an index walk rather than a sort.
    "CREATE INDEX photos_by_date ON photos (taken_at DESC, path)",
    "CREATE INDEX photos_by_folder ON photos (folder_id, taken_at DESC, path)",
    "CREATE INDEX photos_by_fingerprint ON photos (fingerprint)",
    """CREATE TABLE people (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE,
        hidden INTEGER NOT NULL DEFAULT 0,
        cover_face_id INTEGER REFERENCES faces(id) ON DELETE SET NULL,
        created_at TEXT NOT NULL DEFAULT (datetime('now'))
    )""",
    # Clusters of not-yet-named faces; hidden = "do not show me this group".
    """CREATE TABLE face_groups (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        hidden INTEGER NOT NULL DEFAULT 0
    )""",
    """CREATE TABLE faces (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
        box_left REAL NOT NULL,
        box_top REAL NOT NULL,
        box_right REAL NOT NULL,
        box_bottom REAL NOT NULL,
        score REAL NOT NULL,
        size_px INTEGER NOT NULL,
        sharpness REAL NOT NULL,
        encoding BLOB NOT NULL,
        person_id INTEGER REFERENCES people(id) ON DELETE SET NULL,
        group_id INTEGER REFERENCES face_groups(id) ON DELETE SET NULL,
        assigned_by TEXT CHECK (assigned_by IN ('user', 'auto', 'suggested')),
        confidence REAL
    )""",
    "CREATE INDEX faces_by_photo ON faces (photo_id)",
    "CREATE INDEX faces_by_person ON faces (person_id)",
    "CREATE INDEX faces_by_group ON faces (group_id)",
    # "This face is not this person": kept forever so suggestions never repeat it.
    """CREATE TABLE rejections (
        face_id INTEGER NOT NULL REFERENCES faces(id) ON DELETE CASCADE,
        person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
        created_at TEXT NOT NULL DEFAULT (datetime('now')),
        PRIMARY KEY (face_id, person_id)
    ) WITHOUT ROWID""",
    # Each row describes how to reverse one user action (JSON payload).
    """CREATE TABLE undo_log (
        id INTEGER PRIMARY KEY,
        description TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at TEXT NOT NULL DEFAULT (datetime('now'))
    )""",
)

# People: suggestions are a cache of the best person for an unassigned face (rebuilt from
# encodings and rejections at any time); face_hints are names other tools stored in the
# photo's XMP face regions, offered until the user confirms or rejects them.
_PEOPLE_SUGGESTIONS = (
    """CREATE TABLE suggestions (
        face_id INTEGER PRIMARY KEY REFERENCES faces(id) ON DELETE CASCADE,
        person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
        distance REAL NOT NULL,
        confidence REAL NOT NULL
    )""",
    "CREATE INDEX suggestions_by_person ON suggestions (person_id)",
    """CREATE TABLE face_hints (
        face_id INTEGER PRIMARY KEY REFERENCES faces(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        rejected INTEGER NOT NULL DEFAULT 0
    )""",
)

# The database generation at which each face's encoding was last written, so that an
# index saved at an older generation catches up on just those faces. NULL = unknown
# (a write that did not stamp it): such a face is always treated as newly written,
# and the trigger makes any change of an encoding unknown until it is stamped again.
# Faces already present count as written at the current generation.
_ENCODING_GENERATION = (
    "ALTER TABLE faces ADD COLUMN encoding_generation INTEGER",
    """UPDATE faces SET encoding_generation = COALESCE(
        (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'index_generation'), 0)""",
    "CREATE INDEX faces_by_encoding_generation ON faces (encoding_generation)",
    """CREATE TRIGGER faces_encoding_changed AFTER UPDATE OF encoding ON faces
    BEGIN
        UPDATE faces SET encoding_generation = NULL WHERE id = NEW.id;
    END""",
)

# A photo that vanishes from disk (moved to a folder scanned later, renamed while the
# library was closed) keeps its faces and what the user decided about them here, found
# again by content fingerprint wherever the file reappears in the library, in any later
# scan, until it expires. A file name that is not valid UTF-8 keeps its exact bytes in
# path_bytes; path then holds a readable form, unique all the same.
_VANISHED_PHOTOS = (
    "ALTER TABLE photos ADD COLUMN path_bytes BLOB",
    """CREATE TABLE vanished_photos (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        fingerprint TEXT NOT NULL,
        path TEXT NOT NULL,
        width INTEGER,
        height INTEGER,
        taken_at TEXT,
        vanished_at TEXT NOT NULL DEFAULT (datetime('now'))
    )""",
    "CREATE INDEX vanished_by_fingerprint ON vanished_photos (fingerprint)",
    "CREATE INDEX vanished_by_time ON vanished_photos (vanished_at)",
    """CREATE TABLE vanished_faces (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        vanished_id INTEGER NOT NULL REFERENCES vanished_photos(id) ON DELETE CASCADE,
        box_left REAL NOT NULL,
        box_top REAL NOT NULL,
        box_right REAL NOT NULL,
        box_bottom REAL NOT NULL,
        score REAL NOT NULL,
        size_px INTEGER NOT NULL,
        sharpness REAL NOT NULL,
        encoding BLOB NOT NULL,
        person_id INTEGER REFERENCES people(id) ON DELETE SET NULL,
        assigned_by TEXT,
        confidence REAL,
        hint_name TEXT,
        hint_rejected INTEGER
    )""",
    "CREATE INDEX vanished_faces_by_photo ON vanished_faces (vanished_id)",
    "CREATE INDEX vanished_faces_by_person ON vanished_faces (person_id)",
    """CREATE TABLE vanished_rejections (
        face_id INTEGER NOT NULL REFERENCES vanished_faces(id) ON DELETE CASCADE,
        person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
        PRIMARY KEY (face_id, person_id)
    ) WITHOUT ROWID""",
)

# Which face detector found a photo's faces, so that finding faces again with another
# one knows what is left to do and resumes after a kill. NULL: analysed before this was
# recorded, when dlib's HOG was the only detector used.
_PHOTO_DETECTOR = ("ALTER TABLE photos ADD COLUMN detector TEXT",)

# "Not a face": the user's word that a detection is a pet, a poster or a texture. Such a
# face keeps its row and its encoding (the vector index holds every encoding; searches
# leave these out), never has a person or a group, and keeps the mark across rescans and
# while its photo is vanished. The partial index lists the marked faces without a scan.
_NOT_A_FACE = (
    "ALTER TABLE faces ADD COLUMN not_a_face INTEGER NOT NULL DEFAULT 0",
    "CREATE INDEX faces_not_a_face ON faces (id) WHERE not_a_face = 1",
    "ALTER TABLE vanished_faces ADD COLUMN not_a_face INTEGER NOT NULL DEFAULT 0",
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial", _INITIAL),
    Migration(2, "people suggestions and xmp hints", _PEOPLE_SUGGESTIONS),
    Migration(3, "generation of each face's encoding", _ENCODING_GENERATION),
    Migration(4, "vanished photos and raw file names", _VANISHED_PHOTOS),
    Migration(5, "the detector that found each photo's faces", _PHOTO_DETECTOR),
    Migration(6, "faces the user marked as not a face", _NOT_A_FACE),
)

LATEST_VERSION = MIGRATIONS[-1].version
