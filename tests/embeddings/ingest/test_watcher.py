"""The corpus watcher, for real: watchfiles on a temporary folder, a real (lexical) index."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from embeddings.config import EngineConfig
from embeddings.engine import Engine, UpdateReport
from embeddings.ingest.autoindex import AutoIndexer
from embeddings.ingest.watcher import CorpusWatcher
from tests.embeddings.ingest.newssite import BALON, BALON_QUESTION

SETTLE = 0.5  # seconds of quiet before a batch is applied (the bot's default is 1)
WAIT = 10.0  # the longest any test waits for the index to follow the folder


@dataclass
class Watched:
    corpus: Path
    engine: Engine
    indexer: AutoIndexer
    updates: list[list[str]]  # the files of each update_files call, by name

    async def answer(self, question: str) -> str | None:
        """The best passage's text when the question is answered, else None."""
        answer = await self.engine.ask(question)
        return answer.passages[0].text if answer.answered and answer.passages else None

    async def until(
        self, condition: Callable[[], Awaitable[object]], timeout: float = WAIT
    ) -> float:
        """Seconds until `condition` held; fails after `timeout`."""
        started = time.monotonic()
        while not await condition():
            if time.monotonic() - started > timeout:
                raise AssertionError(f"not within {timeout} s")
            await asyncio.sleep(0.05)
        return time.monotonic() - started

    async def articles(self) -> int:
        return (await self.engine.stats()).articles


@pytest.fixture
async def watched(
    tmp_path: Path, corpus_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Watched]:
    config = EngineConfig(corpus_dir=corpus_dir, data_dir=tmp_path / "data", model=None)
    async with await Engine.open(config) as engine:
        await engine.update()
        updates: list[list[str]] = []
        original = engine.update_files

        async def recorded(paths: Iterable[Path], **kwargs: Any) -> UpdateReport:
            paths = list(paths)
            updates.append(sorted(Path(p).name for p in paths))
            return await original(paths, **kwargs)

        monkeypatch.setattr(engine, "update_files", recorded)
        indexer = AutoIndexer(engine)
        watcher = CorpusWatcher(corpus_dir, indexer, settle=SETTLE)
        await watcher.start()
        try:
            yield Watched(corpus_dir, engine, indexer, updates)
        finally:
            await asyncio.wait_for(watcher.stop(), 5)


async def test_a_dropped_file_is_answered_within_seconds_without_a_reload(
    watched: Watched,
) -> None:
    assert await watched.answer(BALON_QUESTION) is None
    (watched.corpus / "balon.md").write_text(BALON, encoding="utf-8")

    seconds = await watched.until(lambda: watched.answer(BALON_QUESTION))

    assert seconds < 5
    assert "40 ülkeden 120 balon pilotu" in (await watched.answer(BALON_QUESTION) or "")
    assert watched.updates == [["balon.md"]]
    last = watched.indexer.last
    assert last is not None and last.origin == "watch" and last.report is not None
    assert last.report.added == 1


async def test_a_burst_of_files_is_one_update(watched: Watched) -> None:
    source = watched.corpus.parent / "gelen"
    source.mkdir()
    for i in range(200):
        (source / f"haber-{i}.md").write_text(
            f"---\ntitle: Haber {i}\n---\n\nBelediye meclisi {i}. toplantısını yaptı.\n",
            encoding="utf-8",
        )

    for path in sorted(source.iterdir()):  # one by one, as a copy does
        shutil.copy(path, watched.corpus / path.name)
    await watched.until(lambda: _equals(watched.articles(), 202))
    await asyncio.sleep(SETTLE * 2)  # nothing more comes

    assert len(watched.updates) == 1 and len(watched.updates[0]) == 200


async def test_a_file_still_being_written_is_not_indexed_half_way(watched: Watched) -> None:
    """Written in pieces, each before the folder has been quiet for the settle window."""
    head, tail = BALON.split("Festivale")
    path = watched.corpus / "balon.md"
    with path.open("w", encoding="utf-8") as out:
        out.write(head)
        out.flush()
        for _ in range(6):
            await asyncio.sleep(SETTLE / 2)
            assert await watched.articles() == 2  # not indexed yet
            out.write("Göreme'de hava açık ve rüzgarsızdı. ")
            out.flush()
        out.write("\n\nFestivale" + tail)

    await watched.until(lambda: watched.answer(BALON_QUESTION))

    assert watched.updates == [["balon.md"]]  # once, whole
    assert await watched.articles() == 3


async def test_a_removed_file_leaves_the_index(watched: Watched) -> None:
    question = "16 Aralık konferansına kim başkanlık etti?"
    assert "Le Minh Hung" in (await watched.answer(question) or "")
    [source] = [p for p in watched.corpus.iterdir() if "Le Minh Hung" in p.read_text("utf-8")]

    source.unlink()

    await watched.until(lambda: _equals(watched.articles(), 1))
    assert "Le Minh Hung" not in (await watched.answer(question) or "")
    last = watched.indexer.last
    assert last is not None and last.report is not None and last.report.removed == 1


async def test_emptying_the_folder_is_refused_and_reported_not_applied(
    watched: Watched,
) -> None:
    for path in list(watched.corpus.iterdir()):
        path.unlink()

    await watched.until(lambda: _true(watched.indexer.last is not None))

    last = watched.indexer.last
    assert last is not None and last.refused is not None
    assert (last.refused.removing, last.refused.total) == (2, 2)
    assert await watched.articles() == 2  # the index still answers


async def test_dot_files_and_temporary_files_are_ignored(watched: Watched) -> None:
    for name in (".gizli.md", "balon.md.tmp", "balon.md.part", "balon.md~", ".balon.md.swp"):
        (watched.corpus / name).write_text(BALON, encoding="utf-8")
    (watched.corpus / ".taslaklar").mkdir()
    (watched.corpus / ".taslaklar" / "balon.md").write_text(BALON, encoding="utf-8")

    await asyncio.sleep(SETTLE * 3)

    assert watched.updates == [] and watched.indexer.last is None


async def test_a_file_renamed_from_a_temporary_name_is_indexed_once(watched: Watched) -> None:
    """What editors and the feed writer do: write a temp file, then rename it."""
    temporary = watched.corpus / ".balon.md.1234.tmp"
    temporary.write_text(BALON, encoding="utf-8")
    temporary.rename(watched.corpus / "balon.md")

    await watched.until(lambda: watched.answer(BALON_QUESTION))

    assert watched.updates == [["balon.md"]]


async def test_a_folder_moved_in_is_indexed_and_moved_out_is_removed(watched: Watched) -> None:
    outside = watched.corpus.parent / "arsiv"
    outside.mkdir()
    (outside / "balon.md").write_text(BALON, encoding="utf-8")

    outside.rename(watched.corpus / "arsiv")
    await watched.until(lambda: watched.answer(BALON_QUESTION))
    (watched.corpus / "arsiv").rename(outside)

    await watched.until(lambda: _equals(watched.articles(), 2))
    assert await watched.answer(BALON_QUESTION) is None


async def _equals(value: Awaitable[object], expected: object) -> bool:
    return await value == expected


async def _true(value: bool) -> bool:
    return value
