"""Benchmark: a small scan from the command line, workers forked ready against spawned.

    python bench/worker_start.py              # about a minute on 2 cores
    python bench/worker_start.py --rounds 3

On Linux, scan workers are forked from a fork server that imported the engine and read
the models once (engine/worker_start.py); elsewhere each worker is spawned and loads them
itself. Each round scans a new folder of a few photos (reduced copies of the development
photos, ../shared/faces beside the repository or $FACEALBUM_TEST_FACES) into a new
library, once each way, alternating which goes first, through `facealbum scan` in a
process of its own: a small scan is where start-up is most of the work. Wall seconds and
the CPU seconds of every process involved (the fork server and its workers included:
this process adopts orphans, as bench/scan.py does). Medians. Writes
bench/results/worker_start.json.
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
sys.path.insert(0, str(REPO_ROOT / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from library_builder import reduced_copy  # noqa: E402
from scan import _become_subreaper, _timed  # noqa: E402

FACES_DIR = Path(os.environ.get("FACEALBUM_TEST_FACES", REPO_ROOT.parent / "shared" / "faces"))
RESULTS = Path(__file__).resolve().parent / "results" / "worker_start.json"
FOLDER_SIZES = (2, 20)
LONG_SIDE = 2000
# The command line, with the start method chosen by the first argument.
DRIVER = """
import sys
from facealbum.engine import pool
if sys.argv[1] == "spawned":
    pool._start_method = lambda: "spawn"
from facealbum.cli.main import main
raise SystemExit(main(sys.argv[2:]))
"""
WAYS = ("forked", "spawned")


def scan_once(way: str, folder: Path, library: Path) -> dict:
    command = [sys.executable, "-c", DRIVER, way, "--library", str(library)]
    done, timing = _timed([*command, "scan", str(folder), "--json"])
    report = json.loads(done.stdout)
    if report["errors"] or report["done"] != len(list(folder.iterdir())):
        raise SystemExit(f"the {way} scan of {folder} went wrong: {report}")
    return timing


def summary(runs: list[dict]) -> dict:
    return {
        "wall_s_median": round(statistics.median(r["seconds"] for r in runs), 3),
        "cpu_s_median": round(statistics.median(r["cpu_seconds"] for r in runs), 3),
        "wall_s": [round(r["seconds"], 3) for r in runs],
        "cpu_s": [round(r["cpu_seconds"], 3) for r in runs],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    if not (FACES_DIR / "labels.csv").is_file():
        raise SystemExit(f"development faces not found at {FACES_DIR}")
    if sys.platform != "linux":
        raise SystemExit("workers are forked on Linux only: nothing to compare here")
    sources = sorted((FACES_DIR / "people").rglob("*.jpg"))[: max(FOLDER_SIZES)]
    adopts = _become_subreaper()
    results: dict[str, dict] = {}
    work = Path(tempfile.mkdtemp(prefix="facealbum-worker-start-"))
    try:
        for size in FOLDER_SIZES:
            runs: dict[str, list[dict]] = {way: [] for way in WAYS}
            for round_no in range(args.rounds):
                order = WAYS if round_no % 2 == 0 else WAYS[::-1]
                for way in order:
                    folder = work / f"{size}-{round_no}-{way}"
                    for i, source in enumerate(sources[:size]):
                        quality = 85 + round_no % 10  # new bytes: nothing taken for a move
                        reduced_copy(source, folder / f"{i}.jpg", LONG_SIDE, quality=quality)
                    runs[way].append(scan_once(way, folder, work / f"library-{folder.name}"))
                    shutil.rmtree(folder)
                last = {way: runs[way][-1] for way in WAYS}
                print(f"{size} photos, round {round_no + 1}:", {
                    way: f"{r['seconds']:.2f} s, cpu {r['cpu_seconds']:.2f} s"
                    for way, r in last.items()
                }, flush=True)  # fmt: skip
            forked, spawned = summary(runs["forked"]), summary(runs["spawned"])
            results[f"{size}_photos"] = {
                "forked": forked,
                "spawned": spawned,
                "wall_saved_s": round(spawned["wall_s_median"] - forked["wall_s_median"], 3),
                "cpu_saved_s": round(spawned["cpu_s_median"] - forked["cpu_s_median"], 3),
            }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out = {
        "benchmark": "worker_start",
        "what": "a `facealbum scan` of a new folder of 2000 px photos into a new library",
        "rounds": args.rounds,
        "cpu_seconds_counted": "all processes" if adopts else "processes waited for",
        **results,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    RESULTS.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
