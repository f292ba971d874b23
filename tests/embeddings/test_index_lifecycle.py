"""Opening, updating and collecting the index under faults: a damaged database, a folder
that cannot be written, a full disk, a corpus folder that went missing or empty."""

from __future__ import annotations

import errno
import sqlite3
import time
from pathlib import Path

import pytest

from embeddings import store
from embeddings.config import EngineConfig
from embeddings.engine import (
    ORPHAN_GRACE_DAYS,
    Engine,
    IndexOpenError,
    IndexUpdateError,
    MassDeletion,
    is_mass_deletion,
)
from embeddings.lexical import Bm25Index
from tests.conftest import HEADLINE_TR
from tests.embeddings.test_store import worker_threads
from tests.readonly import read_only_folder


def config(corpus_dir: Path, tmp_path: Path, model: str | None = None) -> EngineConfig:
    return EngineConfig(corpus_dir=corpus_dir, data_dir=tmp_path / "data", model=model)


async def built(corpus_dir: Path, tmp_path: Path) -> EngineConfig:
    cfg = config(corpus_dir, tmp_path)
    async with await Engine.open(cfg) as engine:
        await engine.update()
    return cfg


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("qabot.sqlite3-"))


@pytest.mark.parametrize("where", ["header", "page"])
async def test_a_damaged_database_is_reported_in_one_line_and_nothing_stays_open(
    corpus_dir: Path, tmp_path: Path, where: str
):
    cfg = await built(corpus_dir, tmp_path)
    database = tmp_path / "data" / "qabot.sqlite3"
    with open(database, "r+b") as fh:
        fh.seek(0 if where == "header" else 3 * 4096)
        fh.write(b"\xde\xad\xbe\xef" * 1024)
    before = worker_threads()
    with pytest.raises(IndexOpenError) as raised:
        await Engine.open(cfg)
    message = str(raised.value)
    assert "is damaged" in message and "\n" not in message and str(database) in message
    assert worker_threads() == before


async def test_an_unwritable_index_folder_is_refused_in_one_line(corpus_dir: Path, tmp_path: Path):
    cfg = await built(corpus_dir, tmp_path)
    before = worker_threads()
    with read_only_folder(tmp_path / "data"), pytest.raises(IndexOpenError) as raised:
        await Engine.open(cfg)
    assert "cannot be written" in str(raised.value) and "\n" not in str(raised.value)
    assert worker_threads() == before


async def test_a_read_only_index_answers_and_refuses_updates(corpus_dir: Path, tmp_path: Path):
    cfg = await built(corpus_dir, tmp_path)
    before = files(tmp_path / "data")
    with read_only_folder(tmp_path / "data"):
        async with await Engine.open(cfg, read_only=True) as engine:
            assert "Le Minh Hung" in (await engine.ask(HEADLINE_TR)).passages[0].text
            with pytest.raises(IndexUpdateError, match="read-only"):
                await engine.update()
    assert files(tmp_path / "data") == before


async def test_a_read_only_folder_without_an_index_is_refused(corpus_dir: Path, tmp_path: Path):
    (tmp_path / "data").mkdir()
    with read_only_folder(tmp_path / "data"), pytest.raises(IndexOpenError, match="no index"):
        await Engine.open(config(corpus_dir, tmp_path), read_only=True)


async def test_a_full_disk_is_reported_as_such(corpus_dir: Path, tmp_path: Path, monkeypatch):
    """SQLite rolls a transaction back by itself when the disk is full; a second ROLLBACK
    raised "no transaction is active" and hid the cause."""
    async with await Engine.open(await built(corpus_dir, tmp_path)) as engine:
        before = [h.passage_id for h in (await engine.ask(HEADLINE_TR)).passages]
        (corpus_dir / "yeni.jsonl").write_text(
            '{"title": "Yeni", "text": "' + "Uzun bir metin. " * 3000 + '"}\n', encoding="utf-8"
        )
        insert_passages = store.insert_passages
        writers = []

        async def on_a_full_disk(conn, *args):
            async with conn.execute("PRAGMA page_count") as cur:
                (pages,) = await cur.fetchone()
            await conn.execute(f"PRAGMA max_page_count = {pages}")  # no page more fits
            writers.append(conn)
            await insert_passages(conn, *args)

        monkeypatch.setattr(store, "insert_passages", on_a_full_disk)
        with pytest.raises(IndexUpdateError, match="database or disk is full"):
            await engine.update()
        assert [h.passage_id for h in (await engine.ask(HEADLINE_TR)).passages] == before
        monkeypatch.undo()
        await writers[0].execute("PRAGMA max_page_count = 1073741823")  # space freed
        assert (await engine.update()).added == 1


async def test_a_failed_update_leaves_no_file_behind(
    corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Files written by an update that fails are not referenced by anything: left on disk,
    they keep a full disk full."""
    async with await Engine.open(await built(corpus_dir, tmp_path)) as engine:
        before = files(tmp_path / "data")
        (corpus_dir / "yeni.md").write_text("---\ntitle: Yeni\n---\nYeni metin.\n")

        def disk_fills_up(index: Bm25Index, path: Path) -> None:
            path.write_bytes(b"PK\x03\x04" + b"\x00" * 4096)
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(Bm25Index, "save", disk_fills_up)
        with pytest.raises(IndexUpdateError, match="No space left on device"):
            await engine.update()
        assert files(tmp_path / "data") == before
        monkeypatch.undo()
        assert (await engine.update()).added == 1


async def test_a_missing_corpus_folder_changes_nothing(corpus_dir: Path, tmp_path: Path):
    async with await Engine.open(await built(corpus_dir, tmp_path)) as engine:
        (tmp_path / "a-file").write_text("not a folder")
        for root, reason in (
            (tmp_path / "unmounted", "does not exist"),
            (tmp_path / "a-file", "not a folder"),
        ):
            with pytest.raises(IndexUpdateError, match=reason):
                await engine.update(root)
        assert engine.snapshot.articles == 2
        assert (await engine.update()).unchanged


async def test_emptying_the_index_needs_confirmation(corpus_dir: Path, tmp_path: Path):
    empty = tmp_path / "empty"
    empty.mkdir()
    async with await Engine.open(await built(corpus_dir, tmp_path)) as engine:
        with pytest.raises(MassDeletion) as raised:
            await engine.update(empty)
        assert (raised.value.removing, raised.value.total) == (2, 2)
        assert engine.snapshot.articles == 2
        report = await engine.update(empty, allow_mass_delete=True)
        assert (report.removed, report.articles) == (2, 0)


@pytest.mark.parametrize(
    ("removing", "total", "refused"),
    [
        (0, 0, False),
        (1, 1, True),  # never all, however small
        (1, 2, False),  # half is not more than half
        (2, 2, True),
        (3, 4, False),  # a tiny index may lose a few
        (5, 9, False),
        (6, 10, True),
        (50, 100, False),
        (51, 100, True),
    ],
)
def test_the_mass_deletion_rule(removing: int, total: int, refused: bool):
    assert is_mass_deletion(removing, total) is refused


@pytest.mark.model
async def test_vectors_of_removed_articles_outlive_a_mistake_until_collected(
    corpus_dir: Path, tmp_path: Path, minilm_path: str, minilm
):
    """A corpus folder emptied by mistake (and confirmed) must not cost re-embedding it."""
    empty = tmp_path / "empty"
    empty.mkdir()
    async with await Engine.open(
        config(corpus_dir, tmp_path, minilm_path), encoder=minilm
    ) as engine:
        passages = (await engine.update()).passages
        await engine.update(empty, allow_mass_delete=True)
        assert (await engine.update()).embedded == 0  # the folder is back
        await engine.update(empty, allow_mass_delete=True)
        assert await engine.collect_garbage() == (0, 0)  # within the grace period
        with sqlite3.connect(tmp_path / "data" / "qabot.sqlite3") as db:
            db.execute(  # as if removed ORPHAN_GRACE_DAYS and a day ago
                "UPDATE embeddings SET orphaned_at = ?",
                (time.time() - (ORPHAN_GRACE_DAYS + 1) * 86400,),
            )
        count, size = await engine.collect_garbage()
        assert count >= passages and size >= passages * minilm.dim * 4
        assert await engine.collect_garbage(everything=True) == (0, 0)
        assert (await engine.update()).embedded == passages
