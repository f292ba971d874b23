"""The benchmark end to end at a tiny size, lexical-only and with a real model: structure and
the accounting of real and stand-in vectors, not timings."""

from __future__ import annotations

import importlib
import json
import sqlite3
from contextlib import closing
from pathlib import Path
from types import ModuleType

import pytest

from embeddings.config import EngineConfig
from embeddings.corpus import load_corpus
from embeddings.engine import DB_NAME
from embeddings.sentences import cache_key

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
LANGUAGES = {"tr", "en"}


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """benchmarks/bench.py, imported as `qabot bench` does: by name, its folder on sys.path
    (the processes it spawns import it so)."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    return importlib.import_module("bench")


def test_generated_corpus_is_deterministic_with_distinct_articles(bench: ModuleType) -> None:
    pool = bench.sentence_pool()
    first = list(bench.generate_articles(300, pool))
    assert first == list(bench.generate_articles(300, pool))
    for key in ("id", "title", "url", "date"):
        assert len({record[key] for record in first}) == len(first)


def _assert_latencies(latency: dict, names: set[str]) -> None:
    assert set(latency) == LANGUAGES
    for lang in LANGUAGES:
        assert set(latency[lang]) == names
        for summary in latency[lang].values():
            assert 0 < summary["p50"] <= summary["p95"]


@pytest.mark.model
async def test_tiny_benchmark_end_to_end(
    bench: ModuleType, tmp_path: Path, minilm_path: str
) -> None:
    config = EngineConfig(data_dir=tmp_path)
    result = await bench.run_benchmark(config, [minilm_path], [300], queries=5, encode_limit=10)

    assert result["machine"]["cpu_count"] >= 1
    assert result["models"] == [minilm_path]
    entry = result["sizes"]["300"]
    assert entry["passages"] == entry["corpus"]["passages"] == 300
    corpus = load_corpus(tmp_path / "bench" / "300" / "corpus")
    assert len(corpus.articles) == entry["corpus"]["articles"]

    lexical = entry["lexical"]
    assert lexical["build"]["passages"] == 300
    assert lexical["build"]["passages_per_s"] > 0
    assert lexical["reindex_unchanged"]["embedded"] == 0
    assert lexical["reindex_unchanged"]["unchanged"] is True
    _assert_latencies(lexical["latency_ms"], {"retrieve", "retrieve_fts5"})
    assert lexical["peak_rss_build_MiB"] > 0
    assert lexical["peak_rss_serving_MiB"] > 0

    dense = entry["models"][minilm_path]
    counts = dense["embeddings"]
    assert 0 < counts["encoded"] <= 10
    assert counts["from_cache"] == 0
    assert counts["encoded"] + counts["from_cache"] + counts["stand_in"] == 300
    assert counts["stand_in_sentence_vectors"] >= counts["stand_in"]
    folder = next((tmp_path / "bench" / "300" / "models").iterdir())
    record = (folder / bench.STAND_IN_RECORD).read_text(encoding="utf-8").split()
    assert len(set(record)) == counts["stand_in"]
    with closing(sqlite3.connect(folder / DB_NAME)) as db:  # real and stand-in alike
        rows = db.execute(
            "SELECT p.sentences, length(e.vector) FROM passages p JOIN embeddings e"
            " ON e.passage_id = p.id AND e.model = ?",
            (cache_key(dense["encoder"]["key"]),),
        ).fetchall()
    assert len(rows) == 300  # a float16 vector per sentence of each passage:
    assert all(size == 2 * dense["encoder"]["dim"] * len(json.loads(s)) for s, size in rows)

    encoding = dense["index_build"]["encoding"]
    assert encoding["passages_only"]["passages"] == counts["encoded"]  # all of them: < sample
    assert encoding["index_time"]["passages"] == counts["encoded"]
    assert encoding["index_time"]["measured_on"] == "index build"
    assert encoding["index_time"]["sentences"] >= counts["encoded"]
    assert dense["index_build"]["faiss"]["kind"] == "flat"
    assert dense["index_build"]["faiss"]["passages"] == 300
    assert dense["reindex_unchanged"]["embedded"] == 0
    assert dense["vector_index"] == "flat"
    _assert_latencies(dense["latency_ms"], {"query_encoding", "retrieve", "faiss_search", "ask"})
    assert set(dense["targets_met"]["ask_p50_le_40ms"]) == LANGUAGES
    for kind in (lexical, dense):  # one article: answerable after each step, nothing read
        steps = kind["one_article"]
        assert steps["add_encoding"]["embedded"] == (kind is dense)  # encoded once…
        assert steps["add"]["embedded"] == 0  # …and taken from the cache when added again
        assert all(steps[s]["seconds"] > 0 for s in ("add", "change", "remove", "remove_again"))
        runs = kind["qabot_index"]
        assert [runs[s]["files_read"] for s in ("unchanged", "add", "change", "remove")] == [
            0,
            1,
            1,
            0,
        ]
        assert (runs["add"]["added"], runs["change"]["changed"], runs["remove"]["removed"]) == (
            1,
            1,
            1,
        )
        assert runs["add"]["vs_unchanged"]["seconds"] > 0
    summary = result["summary"][minilm_path]["300"]
    assert set(summary["ask_p50_ms"]) == LANGUAGES

    # A kept work folder: the real vectors come from the cache, last run's stand-ins do not.
    again = await bench._in_child(
        bench.build_dense,
        EngineConfig(data_dir=tmp_path, model=minilm_path),
        300,
        tmp_path / "bench" / "300",
        10,
    )
    assert again["embeddings"] == {**counts, "encoded": 0, "from_cache": counts["encoded"]}
    assert again["index_build"]["encoding"]["index_time"]["measured_on"] == "sample"
