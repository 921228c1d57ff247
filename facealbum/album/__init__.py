"""The facade: one object, Album, that the UI and the command line share.

library opens a library and answers about its folders, photos and searches; index_sync
keeps the database and the vector index in step; scan, people, grouping and xmp_names
do one job each behind it.
"""

from facealbum.album.library import Album, LibraryError, StoreBusy, StoreError

__all__ = ["Album", "LibraryError", "StoreBusy", "StoreError"]
