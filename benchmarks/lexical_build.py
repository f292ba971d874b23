"""A lexical-only first build of a corpus folder, as `qabot index --model none` runs it, in
this process: seconds until the index answers, CPU of this process and of its analysis
workers, peak memory. Faster than `qabot bench` for a large corpus (it skips the serving
and update phases).

    python benchmarks/lexical_build.py CORPUS_DIR DATA_DIR [--passages 1000000]

DATA_DIR is emptied first. With --passages, a missing CORPUS_DIR is written first with
`qabot bench`'s synthetic corpus of that many passages (not timed). Run under
`/usr/bin/time -v` for the peak memory of the workers too.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import shutil
import sys
import time
from pathlib import Path

BEGAN = time.perf_counter()
REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "benchmarks")]

from embeddings.config import EngineConfig  # noqa: E402
from embeddings.engine import Engine  # noqa: E402


async def build(corpus: Path, data: Path) -> None:
    config = EngineConfig(corpus_dir=corpus, data_dir=data, model=None)
    async with await Engine.open(config) as engine:
        start = time.perf_counter()
        report = await engine.update()
        print(
            f"update {time.perf_counter() - start:.2f} s, answerable"
            f" {time.perf_counter() - BEGAN:.2f} s from the start (imports in, corpus writing out),"
            f" {report.articles:,} articles, {report.passages:,} passages",
            flush=True,
        )


def main() -> int:
    global BEGAN
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("data", type=Path)
    parser.add_argument("--passages", type=int, help="write the synthetic corpus if missing")
    args = parser.parse_args()
    if args.passages and not args.corpus.is_dir():
        import bench

        print(bench.write_corpus(args.corpus, args.passages), flush=True)
        BEGAN = time.perf_counter()  # the imports are counted, writing the corpus is not
    shutil.rmtree(args.data, ignore_errors=True)
    asyncio.run(build(args.corpus, args.data))
    own = resource.getrusage(resource.RUSAGE_SELF)
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(
        f"cpu: main {own.ru_utime + own.ru_stime:.1f} s,"
        f" workers {workers.ru_utime + workers.ru_stime:.1f} s;"
        f" peak memory of the main process {own.ru_maxrss // 1024:,} MiB;"
        f" {time.perf_counter() - BEGAN:.2f} s in all (the WAL checkpointed)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
