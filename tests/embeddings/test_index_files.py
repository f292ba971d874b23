"""Index files that cannot be trusted are rebuilt from the database, never served.

A file is damaged on disk here as it would be by a crash, a full disk or a stray write:
truncated, overwritten, or rewritten as a readable file with wrong contents.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from benchmarks.faults import docs_out_of_range, permute_rowids, rewrite_npz, zero_counts
from embeddings.config import EngineConfig
from embeddings.engine import Engine
from embeddings.lexical import Bm25Index
from tests.conftest import HEADLINE_TR, passage_encodings, segment_file
from tests.readonly import read_only_folder

QUESTIONS = [
    HEADLINE_TR,
    "Toplantıya kim başkanlık etti?",
    "Parti inşa örgütlenme sektörü 2024 yılında ne yaptı?",
    "Binh Duong il parti komitesi",
    "Hangi konular görüşüldü?",
]


def truncate(path: Path) -> None:
    with open(path, "r+b") as fh:
        fh.truncate(path.stat().st_size // 2)


def overwrite(path: Path) -> None:
    path.write_bytes(b"\x00garbage" * 64)


def empty(path: Path) -> None:
    path.write_bytes(b"")


def remove(path: Path) -> None:
    path.unlink()


DOCTORED = {
    "permuted row ids": rewrite_npz(permute_rowids),
    "zero term counts": rewrite_npz(zero_counts),
    "doc ids out of range": rewrite_npz(docs_out_of_range),
}
DAMAGE = {"truncated": truncate, "overwritten": overwrite, "deleted": remove, **DOCTORED}


async def answers(engine: Engine) -> list[list[str]]:
    return [[h.passage_id for h in (await engine.ask(q, k=5)).passages] for q in QUESTIONS]


def index_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.WARNING and r.name == "embeddings.publishing"
    ]


@pytest.mark.parametrize("damage", DAMAGE.values(), ids=DAMAGE.keys())
async def test_a_damaged_bm25_file_is_rebuilt_with_one_warning(
    corpus_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, damage
):
    config = EngineConfig(corpus_dir=corpus_dir, data_dir=tmp_path / "data", model=None)
    async with await Engine.open(config) as engine:
        await engine.update()
        intact = await answers(engine)
        damaged = segment_file(engine, "lexical")
    damage(tmp_path / "data" / damaged)
    caplog.set_level(logging.WARNING)
    async with await Engine.open(config) as engine:
        assert await answers(engine) == intact
        rebuilt = segment_file(engine, "lexical")
    warnings = index_warnings(caplog)
    assert len(warnings) == 1 and damaged in warnings[0] and "rebuilding" in warnings[0]
    assert rebuilt != damaged and not (tmp_path / "data" / damaged).exists()
    caplog.clear()
    async with await Engine.open(config) as engine:  # the rebuilt file is trusted as it is
        assert segment_file(engine, "lexical") == rebuilt and await answers(engine) == intact
    assert index_warnings(caplog) == []


@pytest.mark.parametrize("damage", DOCTORED.values(), ids=DOCTORED.keys())
async def test_inconsistent_bm25_arrays_are_refused_on_load(
    corpus_dir: Path, tmp_path: Path, damage
):
    """Whatever the checksum says, arrays that `build` cannot have made are never served."""
    config = EngineConfig(corpus_dir=corpus_dir, data_dir=tmp_path / "data", model=None)
    async with await Engine.open(config) as engine:
        await engine.update()
        path = tmp_path / "data" / segment_file(engine, "lexical")
    damage(path)
    with pytest.raises(ValueError, match="inconsistent BM25 arrays"):
        Bm25Index.load(path)


FAISS_DAMAGE = {"truncated": truncate, "overwritten": overwrite, "empty": empty}


@pytest.mark.model
@pytest.mark.parametrize("damage", FAISS_DAMAGE.values(), ids=FAISS_DAMAGE.keys())
async def test_a_damaged_faiss_file_is_rebuilt_from_the_embedding_cache(
    corpus_dir: Path, tmp_path: Path, minilm_path: str, minilm, caplog, damage, monkeypatch
):
    config = EngineConfig(corpus_dir=corpus_dir, data_dir=tmp_path / "data", model=minilm_path)
    async with await Engine.open(config, encoder=minilm) as engine:
        await engine.update()
        damaged = segment_file(engine, "vectors")
        passages = engine.snapshot.passages
    damage(tmp_path / "data" / damaged)
    caplog.set_level(logging.WARNING)
    calls = passage_encodings(minilm, monkeypatch)
    async with await Engine.open(config, encoder=minilm) as engine:
        assert engine.snapshot.vectors is not None
        assert len(engine.snapshot.vectors) == passages
        assert segment_file(engine, "vectors") != damaged
    assert calls == []  # rebuilt from the cache, nothing embedded again
    warnings = index_warnings(caplog)
    assert len(warnings) == 1 and damaged in warnings[0]


@pytest.mark.model
async def test_vectors_left_behind_by_a_lexical_only_update_are_rebuilt(
    corpus_dir: Path, tmp_path: Path, minilm_path: str, minilm
):
    """An update without the model changes passages but not the vector file: the same
    number of passages must not pass for the same passages."""
    data = tmp_path / "data"
    dense = EngineConfig(corpus_dir=corpus_dir, data_dir=data, model=minilm_path)
    async with await Engine.open(dense, encoder=minilm) as engine:
        await engine.update()
        passages = engine.snapshot.passages
    seed = corpus_dir / "003_b1c4bbe646cb7f18.txt"
    seed.write_text(
        seed.read_text(encoding="utf-8").replace("Nguyen Van Thong", "Tran Van Nam"),
        encoding="utf-8",
    )
    lexical_only = EngineConfig(corpus_dir=corpus_dir, data_dir=data, model=None)
    async with await Engine.open(lexical_only) as engine:
        assert (await engine.update()).changed == 1
        assert engine.snapshot.passages == passages
    async with await Engine.open(dense, encoder=minilm) as engine:
        ids = np.concatenate([s.vectors.rowids() for s in engine.snapshot.segments])
    with sqlite3.connect(data / "qabot.sqlite3") as db:
        rowids = [row[0] for row in db.execute("SELECT rowid FROM passages ORDER BY rowid")]
    assert ids.tolist() == rowids


async def test_a_read_only_index_rebuilds_a_damaged_file_in_memory_only(
    corpus_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    config = EngineConfig(corpus_dir=corpus_dir, data_dir=tmp_path / "data", model=None)
    async with await Engine.open(config) as engine:
        await engine.update()
        intact = await answers(engine)
        damaged = segment_file(engine, "lexical")
    truncate(tmp_path / "data" / damaged)
    before = sorted(p.name for p in (tmp_path / "data").iterdir())
    caplog.set_level(logging.WARNING)
    with read_only_folder(tmp_path / "data"):
        async with await Engine.open(config, read_only=True) as engine:
            assert await answers(engine) == intact
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == before
    assert len(index_warnings(caplog)) == 1
