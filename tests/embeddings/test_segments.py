"""The index grows in place: updates add segments and mark dead passages, merges fold them,
and after any sequence of them the index ranks exactly as one built from scratch."""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

import numpy as np
import pytest

import embeddings.corpus
import embeddings.publishing
import embeddings.segments
from embeddings import lexical
from embeddings.config import EngineConfig
from embeddings.corpus import Article, LoadResult
from embeddings.engine import Engine, MassDeletion, question_terms
from embeddings.evaluate import load_squad
from tests.conftest import FIXTURES, HEADLINE_TR

ARTICLES, QUESTIONS = load_squad(FIXTURES / "xquad-small.tr.json")
ASKED = [q.text for q in QUESTIONS] + ["Varşova nüfusu", "Wisła nehri"]


def edited(article: Article, n: int) -> Article:
    """The same article with one paragraph changed."""
    paragraphs = article.paragraphs
    paragraphs[0] = f"Güncelleme {n}: {paragraphs[0]}"
    return Article(id=article.id, title=article.title, text="\n".join(paragraphs))


async def lexical_ranking(engine: Engine, question: str) -> list[tuple[str, float]]:
    """BM25 ranking by passage id (row ids differ between two builds), with exact scores."""
    found = await engine.retrieve(question)
    stored = await engine.passages([r for r, _ in found.lexical])
    return [(stored[r].id, s) for r, s in found.lexical]


async def rankings(engine: Engine) -> list[list[tuple[str, float]]]:
    return [await lexical_ranking(engine, q) for q in ASKED]


async def test_many_updates_rank_exactly_as_a_build_from_scratch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Adds, edits and removals in random order, with merges along the way: every score is
    the one a fresh index of the same articles gives, to the last bit, and FTS5 agrees."""
    monkeypatch.setattr(embeddings.segments, "MAX_SEGMENTS", 3)
    rng = random.Random(5)
    current: dict[str, Article] = {}
    config = EngineConfig(data_dir=tmp_path / "live", model=None)
    async with await Engine.open(config) as engine:
        for step in range(12):
            pool = list(ARTICLES)
            rng.shuffle(pool)
            for article in pool[:2]:
                current[article.id] = edited(article, step) if article.id in current else article
            if len(current) > 3:
                current.pop(rng.choice(sorted(current)))
            await engine.apply(LoadResult(list(current.values())))
            await engine.wait_for_merge()
        assert len(engine.snapshot.segments) <= 4  # merges ran: not one segment per update
        assert engine.snapshot.dead_count > 0 or len(engine.snapshot.segments) == 1
        grown = await rankings(engine)
        async with engine._reader() as conn:
            for question in ASKED:
                own, words = question_terms(question)
                memory = engine.snapshot.lexical.query_terms(own, words)
                fts5 = await lexical.fts5_query_terms(conn, own, engine.snapshot.passages, words)
                assert memory == fts5  # document frequencies over live passages only
                assert [r for r, _ in engine.snapshot.lexical.search(memory, 50)] == [
                    r for r, _ in await lexical.fts5_search(conn, fts5, 50)
                ]
    fresh = EngineConfig(data_dir=tmp_path / "fresh", model=None)
    async with await Engine.open(fresh) as engine:
        await engine.apply(LoadResult(list(current.values())))
        assert len(engine.snapshot.segments) == 1
        assert await rankings(engine) == grown


async def test_an_update_adds_a_segment_and_leaves_the_others_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(embeddings.segments, "MERGE_SHARE", 10.0)  # no merge here
    config = EngineConfig(data_dir=tmp_path, model=None)
    async with await Engine.open(config) as engine:
        await engine.apply(LoadResult(ARTICLES[:4]))
        [base] = engine.snapshot.segments
        await engine.apply(LoadResult([*ARTICLES[:3], edited(ARTICLES[3], 1), ARTICLES[4]]))
        first, delta = engine.snapshot.segments
        assert first is base  # not rebuilt: the edited article's old passages are dead in it
        old = {p for p in base.rowids().tolist()}
        assert set(engine.snapshot.dead[0].tolist()) < old
        assert delta.first > base.last
    async with await Engine.open(config) as engine:  # the same segments load from disk
        assert [s.first for s in engine.snapshot.segments] == [first.first, delta.first]
        assert engine.snapshot.dead[0].tolist() == sorted(engine.snapshot.dead[0].tolist())


async def test_a_removed_article_is_never_found_again(tmp_path: Path):
    config = EngineConfig(data_dir=tmp_path, model=None)
    async with await Engine.open(config) as engine:
        await engine.apply(LoadResult(ARTICLES))
        before = await engine.ask(QUESTIONS[0].text)
        gone = before.passages[0].article_id
        await engine.apply(LoadResult([a for a in ARTICLES if a.id != gone]))
        after = await engine.ask(QUESTIONS[0].text, k=20)
        assert all(h.article_id != gone for h in after.passages)


def slow_merges(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """Merges due from the third segment on, each taking `seconds` more to build."""
    monkeypatch.setattr(embeddings.segments, "MAX_SEGMENTS", 2)
    merge = embeddings.segments.merge

    def slow_merge(*args):
        time.sleep(seconds)
        return merge(*args)

    monkeypatch.setattr("embeddings.publishing.merge", slow_merge)


async def test_questions_are_answered_while_a_merge_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A merge works on the side: questions keep their answers, and quickly, until the
    merged segment is published, and the same ones after."""
    slow_merges(monkeypatch, 1.5)
    config = EngineConfig(data_dir=tmp_path, model=None)
    async with await Engine.open(config) as engine:
        await engine.apply(LoadResult(ARTICLES[:1]))
        for n in range(2, 5):
            await engine.apply(LoadResult(ARTICLES[:n]))
        before = await rankings(engine)
        assert engine._merging is not None and not engine._merging.done()
        began = time.perf_counter()
        during = await rankings(engine)
        assert time.perf_counter() - began < 1.0 and not engine._merging.done()
        await engine.wait_for_merge()
        assert len(engine.snapshot.segments) < 4
        assert during == before == await rankings(engine)


async def test_an_update_applied_during_a_merge_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Passages removed while their segment was being merged are dead in the merged one."""
    slow_merges(monkeypatch, 1.0)
    config = EngineConfig(data_dir=tmp_path, model=None)
    async with await Engine.open(config) as engine:
        for n in range(1, 5):
            await engine.apply(LoadResult(ARTICLES[:n]))
        assert not engine._merging.done()
        await engine.apply(LoadResult(ARTICLES[1:4]))  # the first article goes, mid-merge
        await engine.wait_for_merge()
        found = await engine.ask(QUESTIONS[0].text, k=50)
        assert all(h.article_id != ARTICLES[0].id for h in found.passages)
        expected = await rankings(engine)
    async with await Engine.open(EngineConfig(data_dir=tmp_path / "fresh", model=None)) as fresh:
        await fresh.apply(LoadResult(ARTICLES[1:4]))
        assert await rankings(fresh) == expected


async def test_a_merge_that_fails_to_publish_leaves_the_index_serving(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A merge whose transaction fails (a full disk) keeps the segments it was merging and
    deletes the files it wrote; the next open answers the same."""
    monkeypatch.setattr(embeddings.segments, "MAX_SEGMENTS", 2)
    config = EngineConfig(data_dir=tmp_path, model=None)
    async with await Engine.open(config) as engine:
        monkeypatch.setattr(engine, "_schedule_merge", lambda: None)
        for n in range(1, 5):
            await engine.apply(LoadResult(ARTICLES[:n]))
        expected = await rankings(engine)
        files = sorted(p.name for p in tmp_path.glob("lexical-*"))

        async def disk_full(*args):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr("embeddings.indexfiles.set_segment_records", disk_full)
        assert not await engine.merge()
        assert len(engine.snapshot.segments) == 4 and await rankings(engine) == expected
    assert sorted(p.name for p in tmp_path.glob("lexical-*")) == files
    monkeypatch.undo()
    async with await Engine.open(config) as engine:
        assert await rankings(engine) == expected


@pytest.mark.model
async def test_dense_search_after_updates_matches_a_fresh_build(
    tmp_path: Path, minilm, minilm_path: str
):
    """Dead passages are filtered inside the FAISS search: the same neighbours, the same
    cosines as an index of the live passages alone."""
    articles = ARTICLES[:6]
    config = EngineConfig(data_dir=tmp_path / "live", model=minilm_path)
    async with await Engine.open(config, encoder=minilm) as engine:
        await engine.apply(LoadResult(articles[:4]))
        await engine.apply(LoadResult([*articles[1:3], edited(articles[3], 1), *articles[4:]]))
        assert len(engine.snapshot.segments) == 2 and engine.snapshot.dead_count
        vectors = minilm.encode_queries(ASKED)
        grown = [await dense(engine, v) for v in vectors]
    fresh = EngineConfig(data_dir=tmp_path / "fresh", model=minilm_path)
    async with await Engine.open(fresh, encoder=minilm) as engine:
        await engine.apply(LoadResult([*articles[1:3], edited(articles[3], 1), *articles[4:]]))
        expected = [await dense(engine, v) for v in vectors]
    for got, want in zip(grown, expected, strict=True):
        assert [p for p, _ in got] == [p for p, _ in want]
        assert np.allclose([s for _, s in got], [s for _, s in want], atol=1e-6)


async def dense(engine: Engine, vector: np.ndarray) -> list[tuple[str, float]]:
    hits = engine.snapshot.vectors.search(vector, 10)
    stored = await engine.passages([r for r, _ in hits])
    return [(stored[r].id, s) for r, s in hits]


async def test_update_files_reads_only_the_files_it_is_given(
    corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    config = EngineConfig(corpus_dir=corpus_dir, data_dir=tmp_path / "data", model=None)
    read: list[str] = []
    load_file = embeddings.corpus.load_file
    monkeypatch.setattr(
        embeddings.corpus,
        "load_file",
        lambda path, rel=None: read.append(rel) or load_file(path, rel),
    )
    async with await Engine.open(config) as engine:
        await engine.update()
        assert len(read) == 2
        read.clear()
        assert (await engine.update()).files_read == 0 and read == []  # nothing changed
        new = corpus_dir / "feeds" / "yeni.md"
        new.parent.mkdir()
        new.write_text("---\ntitle: Yeni haber\n---\nBinh Duong'da yeni bir köprü açıldı.\n")
        report = await engine.update_files([new])
        assert report.added == 1 and read == ["feeds/yeni.md"]
        assert "köprü" in (await engine.ask("Binh Duong'da ne açıldı?")).passages[0].text
        read.clear()
        assert (await engine.update()).files_read == 0  # the record was kept
        new.unlink()
        report = await engine.update_files(["feeds/yeni.md"])
        assert report.removed == 1 and read == []
        seed = corpus_dir / "003_b1c4bbe646cb7f18.txt"
        seed.touch()  # modified time only: read again, nothing changes
        report = await engine.update()
        assert report.files_read == 1 and report.unchanged


async def test_a_file_with_an_id_another_file_holds_is_skipped(corpus_dir: Path, tmp_path: Path):
    config = EngineConfig(corpus_dir=corpus_dir, data_dir=tmp_path / "data", model=None)
    async with await Engine.open(config) as engine:
        await engine.update()
        copy = corpus_dir / "kopya.md"
        copy.write_text("---\nid: 003_b1c4bbe646cb7f18\n---\nBaşka bir metin burada.\n")
        report = await engine.update_files([copy])
        assert report.added == 0 and report.changed == 0
        assert any("duplicate article id" in s.reason for s in report.skipped)
        assert "Le Minh Hung" in (await engine.ask(HEADLINE_TR)).passages[0].text


async def test_mass_deletion_still_guards_file_scoped_updates(corpus_dir: Path, tmp_path: Path):
    config = EngineConfig(corpus_dir=corpus_dir, data_dir=tmp_path / "data", model=None)
    async with await Engine.open(config) as engine:
        await engine.update()
        files = sorted(corpus_dir.iterdir())
        for path in files:
            path.unlink()
        with pytest.raises(MassDeletion):
            await engine.update_files(files)
        assert engine.snapshot.articles == 2


async def test_a_question_sees_all_of_an_update_or_none_of_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """While an update replaces an article (held up in its segment build), questions get
    the old version whole; from the moment it is published, the new one whole (a question
    caught in between is answered again from the new snapshot)."""
    config = EngineConfig(data_dir=tmp_path, model=None)
    original, changed = ARTICLES[0], edited(ARTICLES[0], 7)
    build = embeddings.publishing.Bm25Index.from_postings
    building = asyncio.Event()
    loop = asyncio.get_running_loop()

    def slow_build(postings, rowids):  # in a worker thread: the event is set from the loop's
        loop.call_soon_threadsafe(building.set)
        time.sleep(1.0)
        return build(postings, rowids)

    async with await Engine.open(config) as engine:
        await engine.apply(LoadResult(ARTICLES[:3]))
        opening = " ".join(original.paragraphs[0].split()[:8])
        question = opening
        monkeypatch.setattr(
            embeddings.publishing.Bm25Index, "from_postings", staticmethod(slow_build)
        )
        update = asyncio.create_task(engine.apply(LoadResult([changed, *ARTICLES[1:3]])))
        await building.wait()
        asked = 0
        while not update.done():
            asked += 1
            texts = [h.text for h in (await engine.ask(question, k=10)).passages]
            old = any(t.startswith(opening) for t in texts)
            new = any("Güncelleme 7" in t for t in texts)
            assert old != new  # one version, whole: never both, never neither
            await asyncio.sleep(0.05)
        await update
        assert asked >= 5  # questions were answered all along the update
        texts = [h.text for h in (await engine.ask(question, k=10)).passages]
        assert any("Güncelleme 7" in t for t in texts)
        assert not any(t.startswith(opening) for t in texts)  # the old version is gone
