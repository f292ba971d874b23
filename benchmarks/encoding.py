"""Bulk encoding throughput: the bundled engine's thread scaling and batch size, and the
process pool the engine uses for large jobs (embeddings/encoders/pool.py).

    python benchmarks/encoding.py [--passages 256] [--out results.json]
    python benchmarks/encoding.py --model sentence-transformers/all-MiniLM-L6-v2 --device cuda

Each configuration encodes the same XQuAD-tr passages with their sentences, as an index
build does (passage vectors, then each distinct sentence), in a fresh process, so that the
bundled engine's thread setting (read when it loads) is that configuration's own.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from embeddings import sentences  # noqa: E402
from embeddings.encoders import BUNDLED_MODEL, load_encoder  # noqa: E402
from embeddings.encoders.pool import EncoderPool  # noqa: E402
from embeddings.evaluate import load_squad  # noqa: E402
from embeddings.splitter import split_article  # noqa: E402

XQUAD_TR = REPO / "benchmarks" / "xquad" / "xquad.tr.json"


def passages(count: int) -> list[tuple[str, str, tuple[str, ...]]]:
    articles, _ = load_squad(XQUAD_TR)
    found = [(p.id, p.ranking_text, p.sentences) for a in articles for p in split_article(a)]
    return found[:count]


def measure(model: str, threads: int | None, workers: int, batch: int, device: str, count: int):
    """Passages per second at index time (passage and sentence vectors) for one setting."""
    if threads:
        os.environ["OMP_NUM_THREADS"] = str(threads)
    encoder = load_encoder(model, threads=threads, batch_size=batch, device=device)
    assert encoder is not None, f"{model} did not load"
    todo = passages(count)
    encoder.encode_passages([t for _, t, _ in todo[:4]])  # warm-up
    pool = EncoderPool(model, workers) if workers > 1 else None
    target = pool or encoder
    if pool:
        pool.encode_passages([t for _, t, _ in todo[: 2 * workers]])  # start every worker
    began = time.perf_counter()
    for start in range(0, len(todo), batch):
        part = todo[start : start + batch]
        target.encode_passages([t for _, t, _ in part])
        sentences.encode(target, [(i, s) for i, _, s in part])
    seconds = time.perf_counter() - began
    if pool:
        pool.close()
    return {
        "model": model,
        "device": getattr(encoder, "device", "cpu"),
        "threads": threads,
        "processes": workers,
        "batch": batch,
        "passages": len(todo),
        "sentences": sum(len(s) for _, _, s in todo),
        "seconds": round(seconds, 2),
        "passages_per_s": round(len(todo) / seconds, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=BUNDLED_MODEL)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--passages", type=int, default=256)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    bundled = args.model == BUNDLED_MODEL
    settings = (
        [(t, 1, b) for t in sorted({1, cores}) for b in (1, 16, 64)]
        + [(1, w, 64) for w in range(2, cores + 1)]
        if bundled
        else [(None, 1, b) for b in (16, 64, 256)]
    )
    context = multiprocessing.get_context("spawn")
    results = []
    for threads, workers, batch in settings:
        with ProcessPoolExecutor(1, mp_context=context) as one:
            found = one.submit(
                measure, args.model, threads, workers, batch, args.device, args.passages
            ).result()
        print(json.dumps(found), flush=True)
        results.append(found)
    report = {"cores": cores, "load_average": os.getloadavg(), "results": results}
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
