"""Benchmark of the face index: build, open, top-10 latency and recall, exact vs HNSW.

    python bench/search.py        # 10k, 100k and 1M faces (the 1M build takes minutes)
    python bench/search.py --sizes 10000 --threshold-sizes 1000,5000
    python bench/search.py --m 12,16,24 --sizes 100000   # compare graph degrees side by side

Writes bench/results/search.json. Latencies are per query, one thread, as the app
searches; builds use every core. Recall@10 is against exact numpy search.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic import synthetic_encodings  # noqa: E402

from facealbum.engine import index as index_module  # noqa: E402
from facealbum.engine.index import FaceIndex  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "search.json"
K = 10
FACES_PER_IDENTITY = 20  # a family album: a few hundred people, many photos each


def rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def dataset(n: int, n_queries: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ids, encodings, and queries: faces of the same people that are not in the index."""
    x, _ = synthetic_encodings(n + n_queries, max(1, (n + n_queries) // FACES_PER_IDENTITY))
    return np.arange(n, dtype=np.int64), x[:n], x[n:]


def exact_truth(x: np.ndarray, queries: np.ndarray) -> np.ndarray:
    truth = np.empty((len(queries), K), dtype=np.int64)
    norms = np.einsum("ij,ij->i", x, x)
    for start in range(0, len(queries), 64):
        q = queries[start : start + 64]
        d2 = norms[None, :] - 2.0 * (q @ x.T)
        cand = np.argpartition(d2, K, axis=1)[:, :K]
        order = np.argsort(np.take_along_axis(d2, cand, 1), axis=1)
        truth[start : start + 64] = np.take_along_axis(cand, order, 1)
    return truth


def latency(index: FaceIndex, queries: np.ndarray) -> tuple[dict, np.ndarray]:
    found = np.full((len(queries), K), -1, dtype=np.int64)
    times = np.empty(len(queries))
    for i, q in enumerate(queries):
        t = time.perf_counter()
        ids, _ = index.search(q, K)
        times[i] = time.perf_counter() - t
        found[i, : len(ids)] = ids
    stats = {
        "mean_ms": round(float(times.mean()) * 1e3, 4),
        "p95_ms": round(float(np.percentile(times, 95)) * 1e3, 4),
    }
    return stats, found


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    hits = sum(len(set(f) & set(t)) for f, t in zip(found, truth, strict=True))
    return round(hits / truth.size, 5)


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.iterdir() if p.is_file())


def run_exact(n: int, ids, x, queries) -> dict:
    index = FaceIndex(Path(tempfile.mkdtemp()), exact_limit=n)
    index.rebuild(ids, x)
    stats, _ = latency(index, queries)
    return stats


def run_hnsw(n: int, m: int, efs: list[int], ids, x, queries, truth, workdir: Path) -> dict:
    directory = workdir / f"hnsw-{n}-{m}"
    index = FaceIndex(directory, exact_limit=0, m=m)
    t = time.perf_counter()
    index.rebuild(ids, x)
    build_s = time.perf_counter() - t
    t = time.perf_counter()
    index.save(1)
    save_s = time.perf_counter() - t
    del index
    rss_before = rss_bytes()
    opened = FaceIndex(directory, exact_limit=0, m=m)
    t = time.perf_counter()
    status = opened.open(1, lambda: (_ for _ in ()).throw(AssertionError("must load")))
    open_s = time.perf_counter() - t
    rss_open = rss_bytes() - rss_before
    assert status == "loaded", status
    by_ef = {}
    for ef in efs:
        opened._hnsw.set_ef(ef)  # the benchmark's one look inside: sweep the search width
        stats, found = latency(opened, queries)
        by_ef[str(ef)] = {**stats, "recall_at_10": recall(found, truth)}
    opened._hnsw.set_ef(opened.ef)
    result = {
        "M": m,
        "ef_construction": opened.ef_construction,
        "build_s": round(build_s, 3),
        "save_s": round(save_s, 3),
        "open_s": round(open_s, 4),
        "files_bytes": dir_bytes(directory),
        "rss_after_open_bytes": rss_open,
        "by_ef": by_ef,
    }
    for p in directory.iterdir():
        p.unlink()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--threshold-sizes", default="1000,2000,5000,10000,20000,50000")
    parser.add_argument("--m", default=str(index_module.HNSW_M), help="comma-separated M values")
    parser.add_argument("--ef", default="16,32,48,64,100,150")
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    threshold_sizes = [int(s) for s in args.threshold_sizes.split(",") if s]
    ms = [int(s) for s in args.m.split(",")]
    efs = [int(s) for s in args.ef.split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="facealbum-bench-"))

    threshold = []
    for n in threshold_sizes:
        ids, x, queries = dataset(n, args.queries)
        exact = run_exact(n, ids, x, queries)
        hnsw = FaceIndex(workdir, exact_limit=0)
        hnsw.rebuild(ids, x)
        approx, _ = latency(hnsw, queries)
        threshold.append({"n": n, "exact": exact, f"hnsw_ef{hnsw.ef}": approx})
        print(f"threshold n={n}: exact {exact} hnsw {approx}", flush=True)

    results: list = []
    write_report(args, threshold, results)
    for n in sizes:
        ids, x, queries = dataset(n, args.queries)
        truth = exact_truth(x, queries)
        exact = run_exact(n, ids, x, queries)
        row = {"n": n, "exact_numpy": exact, "hnsw": []}
        for m in ms:
            row["hnsw"].append(run_hnsw(n, m, efs, ids, x, queries, truth, workdir))
            print(f"n={n} M={m}: {json.dumps(row['hnsw'][-1])}", flush=True)
        print(f"n={n} exact: {exact}", flush=True)
        results.append(row)
        del x
        write_report(args, threshold, results)  # after each size: the 1M run takes long


def write_report(args: argparse.Namespace, threshold: list, results: list) -> None:
    report = {
        "what": "top-10 search over synthetic dlib-like encodings (bench/synthetic.py)",
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "note": "2 cores shared with other jobs: compare ratios, not absolutes",
        },
        "k": K,
        "queries": args.queries,
        "chosen": {
            "exact_limit": index_module.EXACT_LIMIT,
            "M": index_module.HNSW_M,
            "ef_construction": index_module.HNSW_EF_CONSTRUCTION,
            "ef": index_module.HNSW_EF,
        },
        "threshold": threshold,
        "sizes": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
