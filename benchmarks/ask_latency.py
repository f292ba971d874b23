"""`ask` latency with and without encoding, on an index built by `qabot eval --data DIR`.

For A/B comparisons of two checkouts on the same machine, minutes apart (the whole `ask`
varies by a few ms between runs here; its part after encoding is steadier):

    qabot eval --squad benchmarks/xquad/xquad.tr.json --data /tmp/ab   # once, builds the index
    cp -r /tmp/ab /tmp/ab2
    (cd OTHER_CHECKOUT && PYTHONPATH=. python benchmarks/ask_latency.py /tmp/ab)
    PYTHONPATH=. python benchmarks/ask_latency.py /tmp/ab2
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

from embeddings.config import EngineConfig
from embeddings.engine import Engine
from embeddings.evaluate import load_squad

XQUAD = Path(__file__).resolve().parent / "xquad"
QUESTIONS = 200
WARM_UP = 20


async def main(data_dir: Path) -> None:
    config = EngineConfig(data_dir=data_dir, model="bundled:multilingual-e5-small")
    async with await Engine.open(config) as engine:
        for language, parallel in (("tr", None), ("en", XQUAD / "xquad.en.json")):
            _, questions = load_squad(XQUAD / "xquad.tr.json", parallel)
            texts = [q.text for q in questions[::6]][:QUESTIONS]
            for text in texts[:WARM_UP]:
                await engine.ask(text)
            ask, encode = [], []
            for text in texts:
                started = time.perf_counter()
                engine.encoder.encode_queries([text])
                encode.append(time.perf_counter() - started)
                started = time.perf_counter()
                await engine.ask(text)
                ask.append(time.perf_counter() - started)
            a, e = statistics.median(ask) * 1000, statistics.median(encode) * 1000
            print(f"{language}: ask p50 {a:.1f} ms, encoding p50 {e:.1f} ms, rest {a - e:.1f} ms")


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
