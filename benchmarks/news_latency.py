"""What news-aware answering adds to `ask` at scale: the time words read, the candidates'
stories and dates looked up, each story kept once, its other outlets listed.

Indexes the synthetic corpus of `qabot bench` (dated articles, 17 minutes apart) lexical
only, once, in DIR; then times, question by question and alternating, `Engine.ask` and the
path it had before (retrieve, the top k, their passages, the highlights). Retrieval is the
same in both, so the difference is what the news logic costs; without a model there are
more candidates (BM25's 100 against the fusion's 60 at most), so it errs high.

    PYTHONPATH=. python benchmarks/news_latency.py /tmp/news100k [--passages 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

from embeddings import retrieval
from embeddings.config import EngineConfig
from embeddings.engine import Engine
from embeddings.evaluate import load_squad

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # beside this file, not in the package

XQUAD = Path(__file__).resolve().parent / "xquad"
K = 5


async def before(engine: Engine, question: str) -> None:
    """`Engine.ask` as it was: no time words, no stories."""
    snap = engine.snapshot
    found = await engine.retrieve(question, snap=snap)
    top = found.ranking[:K]
    stored = await engine.passages([rowid for rowid, _ in top])
    rows = [(stored[r], score) for r, score in top if r in stored]
    await asyncio.to_thread(retrieval.hits, question, found, rows, snap.sentences, engine.profile)


async def main(folder: Path, passages: int, count: int) -> None:
    config = EngineConfig(corpus_dir=folder / "corpus", data_dir=folder / "data", model=None)
    if not (folder / "data").exists():
        print(f"writing and indexing {passages:,} passages…", file=sys.stderr)
        bench.write_corpus(folder / "corpus", passages)
        async with await Engine.open(config) as engine:
            report = await engine.update()
            print(
                f"indexed {report.articles:,} articles in {report.seconds:.0f} s", file=sys.stderr
            )
    _, tr = load_squad(XQUAD / "xquad.tr.json")
    _, en = load_squad(XQUAD / "xquad.tr.json", XQUAD / "xquad.en.json")
    sets = {
        "tr": [q.text for q in tr[::6]][:count],
        "en": [q.text for q in en[::6]][:count],
        "tr, 'en son' added": ["En son " + q.text for q in tr[::6]][:count],
        "tr, 'geçen hafta' added": ["Geçen hafta " + q.text for q in tr[::6]][:count],
    }
    async with await Engine.open(config) as engine:
        print(f"{engine.snapshot.passages:,} passages, {engine.snapshot.articles:,} articles")
        for name, texts in sets.items():
            for text in texts[:20]:  # warm-up
                await engine.ask(text, k=K)
                await before(engine, text)
            old, new = [], []
            for text in texts:
                started = time.perf_counter()
                await before(engine, text)
                old.append(time.perf_counter() - started)
                started = time.perf_counter()
                await engine.ask(text, k=K)
                new.append(time.perf_counter() - started)
            a, b = statistics.median(old) * 1000, statistics.median(new) * 1000
            diff = statistics.median(n - o for n, o in zip(new, old, strict=True)) * 1000
            print(
                f"{name}: before p50 {a:.2f} ms, now {b:.2f} ms, added (paired p50) {diff:.2f} ms"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--questions", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(main(args.folder, args.passages, args.questions))
