"""The benchmark end to end at a tiny size, lexical-only: structure and sanity, not timings."""

from __future__ import annotations

from pathlib import Path

from embeddings.bench import generate_articles, run_benchmark, sentence_pool
from embeddings.config import EngineConfig
from embeddings.corpus import load_corpus


def test_generated_corpus_is_deterministic_with_distinct_articles() -> None:
    pool = sentence_pool()
    first = list(generate_articles(300, pool))
    assert first == list(generate_articles(300, pool))
    for key in ("id", "title", "url", "date"):
        assert len({record[key] for record in first}) == len(first)


async def test_tiny_benchmark_end_to_end(tmp_path: Path) -> None:
    config = EngineConfig(data_dir=tmp_path, model=None)
    result = await run_benchmark(config, [300], queries=5)

    assert result["machine"]["cpu_count"] >= 1
    entry = result["sizes"]["300"]
    assert entry["passages"] == 300
    assert entry["corpus"]["passages"] == 300
    assert (
        len(load_corpus(tmp_path / "bench" / "300" / "corpus").articles)
        == (entry["corpus"]["articles"])
    )
    assert entry["index_build"]["lexical"]["passages"] == 300
    assert entry["index_build"]["lexical"]["passages_per_s"] > 0
    assert entry["reindex_unchanged"] == {
        "seconds": entry["reindex_unchanged"]["seconds"],
        "embedded": 0,
        "unchanged": True,
    }
    assert entry["questions_timed"] == 5
    latency = entry["latency_ms"]
    for name in ("retrieve", "ask", "lexical_only_retrieve", "lexical_only_retrieve_fts5"):
        assert 0 < latency[name]["p50"] <= latency[name]["p95"]
    assert latency["retrieve_with_query_encoding"] is None
    assert entry["peak_rss_build_MiB"] > 0
    assert entry["peak_rss_serving_MiB"] > 0
    assert set(entry["targets_met"]) == {
        "retrieve_p50_le_20ms",
        "retrieve_with_query_encoding_p50_le_40ms",
        "reindex_unchanged_le_2s",
    }
