"""Benchmark: how long a backup of a large library takes, and how large it is.

    python bench/backup.py                 # 100k faces
    python bench/backup.py --faces 20000   # a quick run

Builds a library of synthetic rows (as bench/open_library.py does), then times
Album.backup (SQLite's online backup, a quick_check of the copy, the rename), and a
restore of that backup into the closed library. Decides whether the daily backup may
run inside Album.open (target: open + first search < 1 s) or must run beside it.
Writes bench/results/backup.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from open_library import encodings, fill  # noqa: E402

from facealbum.album import Album  # noqa: E402
from facealbum.album import backup as album_backup  # noqa: E402
from facealbum.config import DATABASE_NAME  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "backup.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    load_before = os.getloadavg()
    vectors, kind = encodings(args.faces)
    with tempfile.TemporaryDirectory() as tmp:
        lib = Path(tmp) / "library"
        album = Album.open(lib)
        fill(album, vectors)
        album.close()
        Album.open(lib).close()  # the day's backup, made beside the open: out of the timing
        album = Album.open(lib)
        backups, made = [], None
        for _ in range(args.repeat):
            start = time.perf_counter()
            made = album.backup("bench")
            backups.append(time.perf_counter() - start)
        album.close()
        start = time.perf_counter()
        album_backup.restore(lib, made.stem)
        restore_s = time.perf_counter() - start
        result = {
            "faces": args.faces,
            "encodings": kind,
            "database_mb": round((lib / DATABASE_NAME).stat().st_size / 1e6, 1),
            "backup_mb": round(made.stat().st_size / 1e6, 1),
            "backup_s": {
                "median": round(statistics.median(backups), 3),
                "runs": [round(s, 3) for s in backups],
            },
            "restore_s (a before-restore backup, then the copy)": round(restore_s, 3),
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
            "load_average_before": [round(x, 2) for x in load_before],
        }
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
