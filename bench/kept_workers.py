"""Benchmark: a scan of a few new photos with the app's kept workers, against new workers.

    python bench/kept_workers.py              # about a minute on 2 cores
    python bench/kept_workers.py --rounds 3

The app keeps a scan's worker processes for a while after the scan (ScanController), so
that a user adding one folder after another does not wait for new workers to load their
models each time. Each round adds a folder of PHOTOS new photos (reduced copies of the
development photos, ../shared/faces beside the repository or $FACEALBUM_TEST_FACES) to a
library and times its scan twice over, alternating which goes first: with workers kept
from the previous scan (ScanWorkers, as the app passes them) and with none given (the
scan starts its own and stops them). Medians of wall seconds and their ratio. Writes
bench/results/kept_workers.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "tests"))

from library_builder import reduced_copy  # noqa: E402

from facealbum.album import Album  # noqa: E402
from facealbum.album.scan_workers import ScanWorkers  # noqa: E402

FACES_DIR = Path(os.environ.get("FACEALBUM_TEST_FACES", REPO_ROOT.parent / "shared" / "faces"))
RESULTS = Path(__file__).resolve().parent / "results" / "kept_workers.json"
PHOTOS = 5  # a handful of new photos: the case where start-up is most of the wait
LONG_SIDE = 2000


def new_folder(sources: list[Path], into: Path, round_no: int, kind: str) -> Path:
    folder = into / f"round{round_no}-{kind}"
    for i, source in enumerate(sources):
        reduced_copy(source, folder / f"{i}.jpg", LONG_SIDE, quality=85 + round_no % 10)
    return folder


def timed_scan(album: Album, folder: Path, workers: ScanWorkers | None) -> float:
    album.add_folder(folder)
    started = time.monotonic()
    final = album.scan([folder], workers=workers)
    seconds = time.monotonic() - started
    if final.done != PHOTOS or final.errors:
        raise SystemExit(f"scan of {folder} went wrong: {final}")
    return seconds


def _summary(seconds: list[float]) -> dict:
    return {"median": round(statistics.median(seconds), 3), "all": [round(s, 3) for s in seconds]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    people = sorted((FACES_DIR / "people").glob("*/*.jpg"))
    if len(people) < PHOTOS:
        raise SystemExit(f"development faces not found at {FACES_DIR}")
    root = Path(tempfile.mkdtemp(prefix="facealbum-kept-workers-"))
    kept, fresh = [], []
    try:
        with Album.open(root / "library") as album, ScanWorkers(album.settings) as workers:
            timed_scan(album, new_folder(people[:PHOTOS], root, 0, "warm-up"), workers)
            for r in range(1, args.rounds + 1):
                sources = people[(r * PHOTOS) % len(people) :][:PHOTOS]
                sources += people[: PHOTOS - len(sources)]
                order = ("kept", "fresh") if r % 2 else ("fresh", "kept")
                for kind in order:
                    folder = new_folder(sources, root, r, kind)
                    if kind == "kept":
                        kept.append(timed_scan(album, folder, workers))
                    else:
                        fresh.append(timed_scan(album, folder, None))
                print(f"  round {r}: kept {kept[-1]:.2f} s, fresh {fresh[-1]:.2f} s", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    result = {
        "benchmark": "kept_workers",
        "what": f"wall seconds to scan a folder of {PHOTOS} new {LONG_SIDE} px photos",
        "rounds": args.rounds,
        "kept_workers_s": _summary(kept),
        "new_workers_s": _summary(fresh),
        "new_over_kept": round(statistics.median(fresh) / statistics.median(kept), 2),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("kept_workers_s", "new_workers_s")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
