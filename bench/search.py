"""Benchmark: template search latency and recall@10, exact numpy vs HNSW (usearch, FAISS).

Run by hand (`make bench` or `.venv/bin/python bench/search.py [--sizes 100000 1000000]`).
Synthetic unit vectors in 128-D (the dlib descriptor's dimension), queries near stored
vectors (a stored vector plus noise, like a second photo of a stored face). Prints, per index
size and per method: build time, p50/p99 latency of one query (k=10), and recall@10 against
the exact answer computed in the same run.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from faceledger.core.matching import ExactIndex  # noqa: E402

DIM = 128


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    out = np.empty((n, DIM), dtype=np.float32)
    for start in range(0, n, 100_000):
        block = rng.standard_normal((min(100_000, n - start), DIM), dtype=np.float32)
        out[start : start + block.shape[0]] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def timed(search, queries: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    results, times = [], []
    for q in queries:
        start = time.perf_counter()
        results.append(np.asarray(search(q)))
        times.append(time.perf_counter() - start)
    return results, np.array(times) * 1000


def recall(found: list[np.ndarray], truth: list[np.ndarray]) -> float:
    return float(np.mean([len(set(f.tolist()) & set(t.tolist())) / len(t) for f, t in zip(found, truth, strict=True)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--methods", nargs="+", default=["exact", "usearch", "faiss"],
                        help="HNSW builds take minutes at 1 M on 2 cores")
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    print(f"{'size':>9} {'method':34} {'build s':>8} {'p50 ms':>7} {'p99 ms':>7} {'recall@10':>9}")
    for size in args.sizes:
        vectors = unit(rng, size)
        picks = rng.integers(0, size, args.queries)
        queries = vectors[picks] + 0.05 * rng.standard_normal((args.queries, DIM), dtype=np.float32)

        start = time.perf_counter()
        exact = ExactIndex()
        exact.add(face_ids=np.arange(size), subject_ids=np.arange(size), vectors=vectors)
        build = time.perf_counter() - start
        truth, ms = timed(lambda q, exact=exact: [m.face_id for m in exact.search(q, k=10)], queries)
        print(f"{size:9,} {'exact numpy (faceledger ExactIndex)':34} {build:8.1f} {np.percentile(ms, 50):7.2f} "
              f"{np.percentile(ms, 99):7.2f} {1.0:9.3f}")
        del exact

        try:
            from usearch.index import Index

            if "usearch" not in args.methods:
                raise ImportError("not selected")
        except ImportError:
            print("usearch: not installed (make bench installs it) or not selected")
        else:
            for expansion in (64, 128):
                start = time.perf_counter()
                index = Index(ndim=DIM, metric="l2sq", dtype="f32", connectivity=16,
                              expansion_add=128, expansion_search=expansion)
                index.add(np.arange(size), vectors, threads=2)
                build = time.perf_counter() - start
                found, ms = timed(lambda q, index=index: index.search(q, 10).keys, queries)
                print(f"{size:9,} {f'usearch HNSW M=16 ef={expansion}':34} {build:8.1f} "
                      f"{np.percentile(ms, 50):7.2f} {np.percentile(ms, 99):7.2f} {recall(found, truth):9.3f}")
                del index
        try:
            import faiss

            if "faiss" not in args.methods:
                raise ImportError("not selected")
        except ImportError:
            print("faiss: not installed (make bench installs it) or not selected")
        else:
            faiss.omp_set_num_threads(1)
            start = time.perf_counter()
            index = faiss.IndexHNSWFlat(DIM, 16)
            index.hnsw.efConstruction = 128
            faiss.omp_set_num_threads(2)
            index.add(vectors)
            faiss.omp_set_num_threads(1)
            build = time.perf_counter() - start
            index.hnsw.efSearch = 64
            found, ms = timed(lambda q, index=index: index.search(q[None, :], 10)[1][0], queries)
            print(f"{size:9,} {'faiss HNSW M=16 ef=64':34} {build:8.1f} {np.percentile(ms, 50):7.2f} "
                  f"{np.percentile(ms, 99):7.2f} {recall(found, truth):9.3f}")
            del index


if __name__ == "__main__":
    main()
