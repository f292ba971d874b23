import asyncio
import dataclasses
import logging
import shutil
import time
from pathlib import Path

import pytest

from embeddings import store
from embeddings.ann.faiss import FaissANN
from embeddings.config import EngineConfig
from embeddings.engine import Engine, IndexUpdateError
from tests.conftest import HEADLINE_TR, passage_encodings, segment_file

OUT_OF_CORPUS = ["What is the tallest mountain in Japan?", "Yarın hava nasıl olacak?"]


def config(corpus_dir: Path, tmp_path: Path, model: str | None = None, **kw) -> EngineConfig:
    return EngineConfig(corpus_dir=corpus_dir, data_dir=tmp_path / "data", model=model, **kw)


@pytest.fixture
async def lexical_engine(corpus_dir: Path, tmp_path: Path):
    engine = await Engine.open(config(corpus_dir, tmp_path))
    await engine.update()
    yield engine
    await engine.close()


async def test_headline_question_finds_le_minh_hung_first(lexical_engine: Engine):
    for question in (HEADLINE_TR, "16 aralik konferansina kim baskanlik etti"):
        answer = await lexical_engine.ask(question, k=3)
        assert answer.answered
        best = answer.passages[0]
        assert "Le Minh Hung" in best.text
        assert "Le Minh Hung" in best.highlight and best.highlight in best.text
        assert best.source_url.startswith("https://baobinhduong.vn/")
        assert not best.weak


@pytest.mark.parametrize("question", OUT_OF_CORPUS)
async def test_out_of_corpus_questions_are_not_answered(lexical_engine: Engine, question: str):
    answer = await lexical_engine.ask(question)
    assert not answer.answered
    assert all(hit.weak for hit in answer.passages)


async def test_unanswered_question_still_carries_the_closest_passages(lexical_engine: Engine):
    answer = await lexical_engine.ask("Vietnam'da yeni havalimanı ne zaman açılacak?")
    assert not answer.answered
    assert answer.passages and all(hit.weak for hit in answer.passages)


async def test_json_contract(lexical_engine: Engine):
    data = (await lexical_engine.ask(HEADLINE_TR, k=2)).to_dict()
    assert set(data) == {"question", "answered", "passages", "latency_ms"}
    assert len(data["passages"]) == 2
    contract = {"text", "highlight", "score", "article_id", "title", "source_url", "date"}
    optional = {"attribution", "also"}  # issue 14: only when known
    assert all(contract <= set(p) <= contract | optional for p in data["passages"])
    assert data["passages"][0]["attribution"] == "VNA'ya göre"  # the seed's closing line
    scores = [p["score"] for p in data["passages"]]
    assert scores == sorted(scores, reverse=True)


async def test_incremental_reindex_add_change_delete(corpus_dir: Path, tmp_path: Path):
    async with await Engine.open(config(corpus_dir, tmp_path)) as engine:
        first = await engine.update()
        assert (first.added, first.articles) == (2, 2)
        assert (await engine.update()).unchanged

        (corpus_dir / "yeni.md").write_text(
            "---\ntitle: Hanoi'de yeni metro hattı\nurl: https://example.org/metro\n"
            "date: 2024-12-20\n---\nHanoi'de yeni metro hattı 20 Aralık'ta hizmete açıldı. "
            "Hat, şehir merkezini havalimanına bağlıyor.\n",
            encoding="utf-8",
        )
        added = await engine.update()
        assert (added.added, added.changed, added.removed, added.articles) == (1, 0, 0, 3)
        answer = await engine.ask("Metro hattı ne zaman açıldı?")
        assert answer.answered and answer.passages[0].title == "Hanoi'de yeni metro hattı"
        assert answer.passages[0].date == "2024-12-20"

        seed = corpus_dir / "003_b1c4bbe646cb7f18.txt"
        seed.write_text(
            seed.read_text(encoding="utf-8").replace("Nguyen Van Thong", "Tran Van Nam"),
            encoding="utf-8",
        )
        changed = await engine.update()
        assert (changed.added, changed.changed, changed.removed) == (0, 1, 0)
        assert (
            "Tran Van Nam" in (await engine.ask("Toplantıya kim başkanlık etti?")).passages[0].text
        )

        (corpus_dir / "yeni.md").unlink()
        removed = await engine.update()
        assert (removed.removed, removed.articles) == (1, 2)
        assert not (await engine.ask("Metro hattı ne zaman açıldı?")).answered


async def test_broken_file_on_reload_keeps_its_indexed_article(corpus_dir: Path, tmp_path: Path):
    async with await Engine.open(config(corpus_dir, tmp_path)) as engine:
        await engine.update()
        (corpus_dir / "003_b1c4bbe646cb7f18.txt").write_bytes(b"\xff\xfe broken \x00")
        report = await engine.update()
        assert report.kept == 1 and report.removed == 0 and report.articles == 2
        assert report.skipped[0].file == "003_b1c4bbe646cb7f18.txt"
        assert (
            "Nguyen Van Thong"
            in (await engine.ask("Toplantıya kim başkanlık etti?")).passages[0].text
        )


async def test_failed_update_leaves_the_old_index_serving(
    corpus_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    async with await Engine.open(config(corpus_dir, tmp_path)) as engine:
        await engine.update()
        before = await engine.ask(HEADLINE_TR)
        (corpus_dir / "yeni.jsonl").write_text('{"title": "X", "text": "Yeni metin."}\n')

        async def disk_full(*args, **kwargs):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(store, "insert_articles", disk_full)
        with pytest.raises(IndexUpdateError, match="No space left"):
            await engine.update()
        assert engine.snapshot.articles == 2
        after = await engine.ask(HEADLINE_TR)
        assert [h.passage_id for h in after.passages] == [h.passage_id for h in before.passages]
        monkeypatch.undo()
        assert (await engine.update()).added == 1


async def test_questions_during_an_update_are_answered_from_the_old_index(
    corpus_dir: Path, tmp_path: Path, minilm_path: str, minilm
):
    async with await Engine.open(
        config(corpus_dir, tmp_path, minilm_path), encoder=minilm
    ) as engine:
        await engine.update()
        for i in range(30):  # enough new text that embedding it takes a while
            (corpus_dir / f"ek-{i}.md").write_text(
                f"---\ntitle: Ek haber {i}\n---\n" + "Ekonomi bülteni yayımlandı. " * 40,
                encoding="utf-8",
            )
        update = asyncio.create_task(engine.update())
        answers = []
        while not update.done():
            answers.append(await engine.ask(HEADLINE_TR))
            await asyncio.sleep(0)
        report = await update
        assert report.added == 30 and answers
        assert all("Le Minh Hung" in a.passages[0].text for a in answers)
        assert engine.snapshot.articles == 32


async def test_unavailable_hub_model_falls_back_to_lexical_with_one_warning(
    corpus_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.WARNING)
    started = time.monotonic()
    engine = await Engine.open(config(corpus_dir, tmp_path, "BAAI/bge-m3"))
    try:
        assert time.monotonic() - started < 60  # no hanging on a download
        assert engine.encoder is None and engine.model_name is None
        warnings = [r for r in caplog.records if "lexical" in r.getMessage()]
        assert len(warnings) == 1 and "BAAI/bge-m3" in warnings[0].getMessage()
        await engine.update()
        assert "Le Minh Hung" in (await engine.ask(HEADLINE_TR)).passages[0].text
        assert (await engine.stats()).model is None
    finally:
        await engine.close()


async def test_broken_local_model_path_falls_back(corpus_dir: Path, tmp_path: Path):
    broken = tmp_path / "model"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    async with await Engine.open(config(corpus_dir, tmp_path, str(broken))) as engine:
        assert engine.encoder is None


@pytest.mark.model
async def test_vector_index_reloads_without_reembedding(
    corpus_dir: Path, tmp_path: Path, minilm_path: str, minilm, monkeypatch
):
    cfg = config(corpus_dir, tmp_path, minilm_path)
    async with await Engine.open(cfg, encoder=minilm) as engine:
        report = await engine.update()
        assert report.embedded == report.passages > 0
        assert (await engine.stats()).vector_index == "flat"
    calls = passage_encodings(minilm, monkeypatch)
    async with await Engine.open(cfg, encoder=minilm) as engine:
        assert engine.snapshot.vectors is not None
        assert len(engine.snapshot.vectors) == report.passages
        assert (await engine.update()).embedded == 0
        assert calls == []  # nothing re-embedded at start-up or on update
        answer = await engine.ask(HEADLINE_TR, k=5)
        assert "Le Minh Hung" in answer.passages[0].text
        assert answer.passages[0].evidence.dense is not None
        english = await engine.ask("Who chaired the conference?", k=5)
        assert english.passages and english.passages[0].evidence.dense is not None
    # Sentence vectors come from the index: a question encodes only itself, in any
    # language (the highlight of an English question included).
    assert calls == []
    vector_files = list((tmp_path / "data").glob("vectors-*"))
    assert len(vector_files) == 1 and not list((tmp_path / "data").glob("*.tmp"))


@pytest.mark.model
async def test_changed_article_reembeds_only_its_passages(
    corpus_dir: Path, tmp_path: Path, minilm_path: str, minilm
):
    async with await Engine.open(
        config(corpus_dir, tmp_path, minilm_path), encoder=minilm
    ) as engine:
        await engine.update()
        seed = corpus_dir / "003_b1c4bbe646cb7f18.txt"
        lines = seed.read_text(encoding="utf-8").splitlines()
        lines[-3] = lines[-3] + " Ek bir cümle eklendi."
        seed.write_text("\n".join(lines), encoding="utf-8")
        report = await engine.update()
        assert report.changed == 1
        assert 0 < report.embedded < report.passages


@pytest.mark.model
async def test_hnsw_above_threshold(corpus_dir: Path, tmp_path: Path, minilm_path: str, minilm):
    cfg = config(corpus_dir, tmp_path, minilm_path, hnsw_threshold=10)
    async with await Engine.open(cfg, encoder=minilm) as engine:
        await engine.update()
        assert (await engine.stats()).vector_index == "hnsw"
        assert "Le Minh Hung" in (await engine.ask(HEADLINE_TR)).passages[0].text


@pytest.mark.model
async def test_model_switch_rebuilds_vectors_from_scratch(
    corpus_dir: Path, tmp_path: Path, minilm_path: str, minilm
):
    async with await Engine.open(config(corpus_dir, tmp_path)) as engine:
        await engine.update()  # lexical only
    copy = tmp_path / "model-copy"
    shutil.copytree(minilm_path, copy)
    cfg = dataclasses.replace(config(corpus_dir, tmp_path, str(copy)))
    async with await Engine.open(cfg) as engine:
        assert engine.snapshot.vectors is not None
        assert len(engine.snapshot.vectors) == engine.snapshot.passages


async def test_unreachable_hub_is_detected_at_once_not_retried(
    corpus_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch
):
    """Without HF_HUB_OFFLINE, a model not cached locally and a hub that cannot be reached
    (here: a closed port on this machine) give one warning within seconds, no retry storm."""
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    caplog.set_level(logging.WARNING)
    started = time.monotonic()
    cfg = config(corpus_dir, tmp_path, "BAAI/bge-m3")
    async with await Engine.open(cfg) as engine:
        assert engine.encoder is None
    assert time.monotonic() - started < 15
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "unreachable" in warnings[0]


@pytest.mark.model
async def test_an_interrupted_build_keeps_what_it_encoded(
    corpus_dir: Path, tmp_path: Path, minilm_path: str, minilm, monkeypatch
):
    """Encoding is committed chunk by chunk before the index is published: a build that
    dies half-way resumes without encoding those passages again."""
    import embeddings.indexing as engine_module

    monkeypatch.setattr(engine_module, "EMBED_CHUNK", 10)
    original = minilm.encode_passages
    encoded: list[int] = []

    def dies_in_second_chunk(texts):
        # Per chunk: one call for the passages, one for their sentences.
        if len(encoded) == 2:
            raise MemoryError("killed")
        encoded.append(len(texts))
        return original(texts)

    cfg = config(corpus_dir, tmp_path, minilm_path)
    try:
        minilm.encode_passages = dies_in_second_chunk
        async with await Engine.open(cfg, encoder=minilm) as engine:
            with pytest.raises(IndexUpdateError):
                await engine.update()
            assert engine.snapshot.passages == 0  # nothing was published
        minilm.encode_passages = original
        async with await Engine.open(cfg, encoder=minilm) as engine:
            report = await engine.update()
        assert report.passages == 27 and encoded[0] == 10
        assert report.embedded == 27 - 10  # the first chunk was kept
    finally:
        minilm.encode_passages = original


@pytest.mark.model
async def test_a_run_without_the_model_keeps_the_vector_index(
    corpus_dir: Path, tmp_path: Path, minilm_path: str, minilm, monkeypatch
):
    async with await Engine.open(
        config(corpus_dir, tmp_path, minilm_path), encoder=minilm
    ) as engine:
        await engine.update()
        saved = segment_file(engine, "vectors")
    async with await Engine.open(config(corpus_dir, tmp_path)) as engine:  # e.g. offline
        assert engine.encoder is None and (await engine.update()).unchanged
    assert (tmp_path / "data" / saved).exists()

    def no_rebuild(*args, **kwargs):
        raise AssertionError("the saved vector index should have been loaded")

    monkeypatch.setattr(FaissANN, "build", staticmethod(no_rebuild))
    async with await Engine.open(
        config(corpus_dir, tmp_path, minilm_path), encoder=minilm
    ) as engine:
        assert segment_file(engine, "vectors") == saved and engine.snapshot.vectors is not None
