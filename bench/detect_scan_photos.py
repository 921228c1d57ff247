"""Detection settings measured on the scan benchmark's photos, whose true faces are known.

Used by ``bench/detect_resolution.py --scan-library DIR``. For each photo of a library
built by ``bench/scan.py --keep DIR`` (truth.json beside photos/), every candidate
decodes and detects as FaceEngine does; a true face counts as found when a detected
box's centre lies in the placed face's box (as bench/scan.py scores). The reference
(face_recognition's CLI pipeline) runs on the unrotated photos only: it ignores EXIF
orientation, so on the others it would measure the rotation, not the detector.
Times are CPU seconds of the measuring process (decode + detect), which other work
on the machine disturbs far less than wall time.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from scan_photos import true_found

Boxes = list[tuple[float, float, float, float]]
Detect = Callable[[bytes], tuple[Boxes, float]]


_engines: dict[str, Any] = {}  # per process: loading a detector must not count as detection


def _engine(c: Any) -> Any:
    from facealbum.engine.faces import FaceEngine

    if c.name not in _engines:
        _engines[c.name] = engine = FaceEngine(detect_side=c.side, upsample=c.upsample, grey=c.grey)
        engine.detect(np.zeros((64, 64, 3), np.uint8))
    return _engines[c.name]


def _measure_photo(job: tuple[Path, dict, list[Any], Detect, Callable]) -> dict:
    path, truth, candidates, reference, candidate_run = job
    data = path.read_bytes()
    row: dict[str, Any] = {"file": truth["file"], "placed": truth["faces"]}
    if truth["orientation"] == 1:
        boxes, cpu = _cpu(reference, data)
        row["reference"] = {"found": len(boxes), "true": true_found(boxes, truth["boxes"]),
                            "cpu": cpu}  # fmt: skip
    for c in candidates:
        engine = _engine(c)
        boxes, cpu = _cpu(lambda d, e=engine: candidate_run(e, d), data)
        row[c.name] = {"found": len(boxes), "true": true_found(boxes, truth["boxes"]), "cpu": cpu}
    return row


def _cpu(run: Callable[[bytes], tuple[Boxes, float]], data: bytes) -> tuple[Boxes, float]:
    started = time.process_time()
    boxes, _ = run(data)
    return boxes, time.process_time() - started


def measure_scan_photos(library: Path, candidates: list[Any], count: int, skip: int = 0) -> dict:
    """Summary and per-photo rows for `count` photos of the library after the first `skip`."""
    from detect_resolution import candidate_run, reference

    manifest = json.loads((library / "truth.json").read_text())
    truths = manifest["photos"][skip : skip + count]
    jobs = [(library / "photos" / t["file"], t, candidates, reference, candidate_run)
            for t in truths]  # fmt: skip
    with ProcessPoolExecutor(2) as pool:
        rows = list(pool.map(_measure_photo, jobs))
    upright = [r for r in rows if "reference" in r]
    summary: dict[str, dict] = {}
    for name in ["reference", *(c.name for c in candidates)]:
        scored = upright if name == "reference" else rows
        below = [r for r in upright if r[name]["true"] < r["reference"]["true"]]
        summary[name] = {
            "true_faces_found": sum(r[name]["true"] for r in scored),
            "true_faces_found_unrotated": sum(r[name]["true"] for r in upright),
            "false_detections": sum(r[name]["found"] - r[name]["true"] for r in scored),
            "unrotated_photos_below_reference": len(below),
            "true_faces_missed_vs_reference": sum(
                r["reference"]["true"] - r[name]["true"] for r in below
            ),
            "cpu_ms_per_photo": round(sum(r[name]["cpu"] for r in scored) / len(scored) * 1e3, 1),
        }
    ref_cpu = summary["reference"]["cpu_ms_per_photo"]
    for s in summary.values():
        s["cpu_vs_reference"] = round(s["cpu_ms_per_photo"] / ref_cpu, 3)
    return {
        "what": "scan benchmark photos (bench/scan.py): true faces found per detection setting; "
        "reference = face_recognition CLI pipeline on the unrotated photos; cpu = decode + "
        "detect, CPU time of one process",
        "photos": len(rows),
        "unrotated_photos": len(upright),
        "true_faces_placed": sum(r["placed"] for r in rows),
        "true_faces_placed_unrotated": sum(r["placed"] for r in upright),
        "summary": summary,
        "per_photo": rows,
    }
