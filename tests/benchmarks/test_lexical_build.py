"""benchmarks/lexical_build.py at a tiny size: it writes the synthetic corpus, builds the
lexical index from it and reports what it built; the index it leaves answers, and
benchmarks/fts5_insert.py times inserting its terms again."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

from embeddings.config import EngineConfig
from embeddings.engine import Engine

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def test_builds_a_lexical_index_that_answers(tmp_path: Path) -> None:
    corpus, data = tmp_path / "corpus", tmp_path / "data"
    done = subprocess.run(
        [sys.executable, BENCHMARKS / "lexical_build.py", corpus, data, "--passages", "300"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    found = re.search(r"([\d,]+) articles, ([\d,]+) passages", done.stdout)
    assert found, done.stdout
    assert int(found[2].replace(",", "")) == 300
    assert re.search(r"cpu: main [\d.]+ s, workers [\d.]+ s", done.stdout)

    async def ask() -> str:
        config = EngineConfig(corpus_dir=corpus, data_dir=data, model=None)
        async with await Engine.open(config) as engine:
            assert (await engine.stats()).passages == 300
            answer = await engine.ask("Normanlar", k=1)
            return answer.passages[0].text

    assert "Norman" in asyncio.run(ask())

    timed = subprocess.run(
        [sys.executable, str(BENCHMARKS / "fts5_insert.py"), str(data), "--sizes-mib", "1,16"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert timed.stdout.startswith("300 passages")
    assert len(re.findall(r"hash +(1|16) MiB: [\d.]+ s wall", timed.stdout)) == 4  # 2 rounds
