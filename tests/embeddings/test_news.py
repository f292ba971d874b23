"""News-aware answers, end to end through `Engine.ask`: dates and time words, republished
stories shown once, attributions, and questions bound to a period the corpus lacks.

The dated fixture corpus (tests/fixtures/news/) is indexed with the bundled model, the seed
articles (undated) beside it; `questions.json` says what each question should get."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from embeddings import store
from embeddings.config import EngineConfig
from embeddings.engine import Engine, IndexUpdateError
from tests.conftest import FIXTURES, HEADLINE_EN, HEADLINE_TR, SEED_CORPUS

NEWS = FIXTURES / "news"
QUESTIONS = json.loads((NEWS / "questions.json").read_text(encoding="utf-8"))
COPIES = set(QUESTIONS["stories"][0])  # one agency story and its two reposts
SEED_ARTICLE = "000_71fe91d9b92a9ec3"  # the undated seed article ending "VNA'ya göre"
D = dt.date


def news_corpus(folder: Path, *, seed: bool = True) -> Path:
    """The news fixture's articles, with the two undated seed articles beside them."""
    shutil.copytree(NEWS / "corpus", folder)
    if seed:
        for path in SEED_CORPUS.glob("*.txt"):
            shutil.copy(path, folder)
    return folder


@pytest.fixture(scope="module")
def news_config(tmp_path_factory: pytest.TempPathFactory, bundled) -> EngineConfig:
    """The news corpus indexed once with the bundled model."""
    root = tmp_path_factory.mktemp("news")
    config = EngineConfig(corpus_dir=news_corpus(root / "corpus"), data_dir=root / "data")

    async def build() -> None:
        async with await Engine.open(config, encoder=bundled) as engine:
            await engine.update()

    asyncio.run(build())
    return config


@pytest.fixture
async def news_engine(news_config: EngineConfig, bundled):
    async with await Engine.open(news_config, encoder=bundled) as engine:
        yield engine


def case_id(case: dict) -> str:
    return f"{case['question']} @{case['as_of']}"


# English questions the cross-language rule (fitted on XQuAD's encyclopedia paragraphs)
# does not accept here, although their article comes first: the fixture's articles on one
# topic are near neighbours (three rate decisions, four reports of one migration), so the
# right one stands out little from the others ("gap"), which the rule weighs.
NOT_ACCEPTED = {
    "What was the policy rate decided in March 2026?",
    "Which agency reported that the pearl mullet migration started early?",
}
ANSWERABLE = [
    pytest.param(
        case,
        marks=pytest.mark.xfail(strict=True, reason="cross-language rule: small gap")
        if case["question"] in NOT_ACCEPTED
        else (),
    )
    for case in QUESTIONS["questions"]
    if case["expected"] is not None
]


@pytest.mark.parametrize("case", QUESTIONS["questions"], ids=case_id)
async def test_fixture_questions_put_the_article_a_reader_on_that_day_expects_first(
    news_engine: Engine, case: dict
):
    as_of = D.fromisoformat(case["as_of"])
    answer = await news_engine.ask(case["question"], as_of=as_of)
    for hit in answer.passages:
        assert hit.date is None or D.fromisoformat(hit.date) <= as_of  # none from the future
        assert all(copy.date is None or D.fromisoformat(copy.date) <= as_of for copy in hit.also)
    if case["expected"] is None:
        assert not answer.answered
        assert all(hit.weak for hit in answer.passages)
    else:
        assert answer.passages[0].article_id in {case["expected"], *case["acceptable"]}


@pytest.mark.parametrize("case", ANSWERABLE, ids=case_id)
async def test_fixture_questions_with_an_answer_are_answered(news_engine: Engine, case: dict):
    answer = await news_engine.ask(case["question"], as_of=D.fromisoformat(case["as_of"]))
    assert answer.answered and not answer.passages[0].weak


async def test_a_reposted_story_is_listed_once_with_the_other_outlets_under_it(
    news_engine: Engine,
):
    answer = await news_engine.ask("Van Gölü'nde inci kefali göçü ne zaman başladı?")
    assert answer.answered
    first = answer.passages[0]
    assert first.article_id in COPIES
    others = {copy.article_id for copy in first.also}
    assert others == COPIES - {first.article_id}
    assert not any(hit.article_id in COPIES for hit in answer.passages[1:])
    # The other agency's report of the same event is a story of its own.
    assert "van-inci-kefali-iha" not in others
    data = answer.to_dict()["passages"][0]
    assert {c["source_url"] for c in data["also"]} == {
        "https://ajans.example/tr/yasam/van-golu-inci-kefali-gocu",
        "https://gazete-a.example/van/inci-kefalleri-delicay",
        "https://gazete-b.example/yasam/van-inci-kefali-gocu-erken",
    } - {data["source_url"]}
    assert [c["date"] for c in data["also"]] == sorted(c["date"] for c in data["also"])


async def test_a_reader_before_a_repost_does_not_see_it(news_engine: Engine):
    answer = await news_engine.ask(
        "Van Gölü'nde inci kefali göçü ne zaman başladı?", as_of=D(2026, 5, 12)
    )
    shown = {answer.passages[0].article_id} | {c.article_id for c in answer.passages[0].also}
    assert shown == COPIES - {"van-inci-kefali-gazete-b"}  # published on 13 May


@pytest.mark.parametrize(
    ("question", "as_of", "start", "end", "latest"),
    [
        ("Bugün ne oldu?", D(2026, 12, 1), D(2026, 12, 1), D(2026, 12, 1), D(2026, 10, 1)),
        ("What happened today?", D(2026, 12, 1), D(2026, 12, 1), D(2026, 12, 1), D(2026, 10, 1)),
        ("Geçen ay faiz kararı açıklandı mı?", D(2026, 8, 10), D(2026, 7, 1), D(2026, 7, 31),
         D(2026, 6, 18)),
        ("Bitcoin'in bugünkü fiyatı ne kadar?", D(2026, 11, 2), D(2026, 11, 2), D(2026, 11, 2),
         D(2026, 10, 1)),
    ],
)  # fmt: skip
async def test_a_question_bound_to_a_period_without_news_is_declined_with_the_latest_date(
    news_engine: Engine, question: str, as_of: dt.date, start: dt.date, end: dt.date, latest
):
    answer = await news_engine.ask(question, as_of=as_of)
    assert not answer.answered and not answer.passages
    assert answer.declined is not None
    assert (answer.declined.start, answer.declined.end, answer.declined.latest) == (
        start,
        end,
        latest,
    )
    assert answer.to_dict()["declined"]["latest_date"] == latest.isoformat()


async def test_a_strict_period_answers_only_from_articles_published_in_it(news_engine: Engine):
    answer = await news_engine.ask("Geçen hafta Trabzon'da ne oldu?", as_of=D(2026, 10, 7))
    assert answer.passages and answer.declined is None
    assert {hit.article_id for hit in answer.passages} == {"trabzon-deprem-tatbikati"}


async def test_latest_questions_put_the_newest_answering_article_first(news_engine: Engine):
    for question in (
        "Merkez Bankası en son faizi yüzde kaça indirdi?",
        "Politika faizi şu an kaç?",
    ):
        latest = await news_engine.ask(question, as_of=D(2026, 10, 1))
        assert latest.passages[0].article_id == "tcmb-faiz-2026-09", question
        earlier = await news_engine.ask(question, as_of=D(2026, 7, 1))
        assert earlier.passages[0].article_id == "tcmb-faiz-2026-06", question


async def test_attribution_is_shown_and_searchable(news_engine: Engine):
    answer = await news_engine.ask("Konferans haberinin kaynağı hangi ajans?")
    best = answer.passages[0]
    assert answer.answered and best.article_id == SEED_ARTICLE
    assert best.attribution == "VNA'ya göre" and "VNA'ya göre" in best.text
    assert answer.to_dict()["passages"][0]["attribution"] == "VNA'ya göre"
    byline = await news_engine.ask("Trabzon'daki deprem tatbikatı haberini hangi muhabir yazdı?")
    assert byline.passages[0].attribution == "Muhabir: Ayşe Demir; Kaynak: DHA"


async def test_an_undated_article_is_found_by_the_date_in_its_text(news_engine: Engine):
    answer = await news_engine.ask("16 Aralık'taki konferansa kim başkanlık etti?")
    assert answer.answered and answer.passages[0].article_id == SEED_ARTICLE
    assert "Le Minh Hung" in answer.passages[0].highlight


@pytest.mark.parametrize("question", [HEADLINE_TR, HEADLINE_EN])
async def test_the_headline_question_is_answered_beside_dated_news(
    news_engine: Engine, question: str
):
    answer = await news_engine.ask(question)
    assert answer.answered and "Le Minh Hung" in answer.passages[0].highlight


async def test_time_words_change_nothing_in_a_corpus_without_dates(
    corpus_dir: Path, tmp_path: Path
):
    """The seed corpus has no dates: "bugün", "dün", "en son" are ordinary words there, as
    in XQuAD, whatever the reader's date."""
    config = EngineConfig(corpus_dir=corpus_dir, data_dir=tmp_path / "data", model=None)
    async with await Engine.open(config) as engine:
        await engine.update()
        for question in (
            "Bugün 16 Aralık konferansına kim başkanlık etti?",
            "Dün konferansa en son kim başkanlık etti?",
            "Who chaired the conference yesterday?",
        ):
            answers = [await engine.ask(question, as_of=day) for day in (D(2024, 12, 17), None)]
            assert [a.to_dict()["passages"] for a in answers[1:]] == [
                answers[0].to_dict()["passages"]
            ]
            assert answers[0].declined is None and answers[0].passages


async def test_stories_are_assigned_at_index_time_and_survive_edits(tmp_path: Path):
    """Lexical only: story ids are stored with the articles; editing or removing the
    original keeps its copies together."""
    corpus = news_corpus(tmp_path / "corpus", seed=False)
    config = EngineConfig(corpus_dir=corpus, data_dir=tmp_path / "data", model=None)
    async with await Engine.open(config) as engine:
        await engine.update()
        assert await stories_of(engine) == {"van-inci-kefali-aa": COPIES}

        original = corpus / "van-inci-kefali-aa.md"
        original.write_text(
            original.read_text(encoding="utf-8").split("VAN (AA)")[0]
            + "Van Gölü'nde bu yıl göç hakkında yeni bir bilgi yok.\n",
            encoding="utf-8",
        )
        await engine.update()
        stories = await stories_of(engine)
        assert stories == {"van-inci-kefali-aa": COPIES - {"van-inci-kefali-aa"}}

        original.unlink()
        (corpus / "van-inci-kefali-gazete-b.md").unlink()
        await engine.update(allow_mass_delete=True)
        answer = await engine.ask("İnci kefalleri üremek için nereye ulaştı?")
        left = next(h for h in answer.passages if h.article_id == "van-inci-kefali-gazete-a")
        assert left.also == ()


async def stories_of(engine: Engine) -> dict[str, set[str]]:
    """Stories of more than one article: story id → its articles."""
    async with engine._reader() as conn, conn.execute("SELECT story, id FROM articles") as cur:
        rows = await cur.fetchall()
    found: dict[str, set[str]] = {}
    for story, article in rows:
        found.setdefault(story, set()).add(article)
    return {story: ids for story, ids in found.items() if len(ids) > 1}


async def test_a_database_from_before_news_facts_gains_them_on_the_next_update(tmp_path: Path):
    """An index built before this schema is read as undated and unstoried, and its articles
    are analysed again (and annotated) by the next update, nothing embedded again."""
    corpus = news_corpus(tmp_path / "corpus", seed=False)
    config = EngineConfig(corpus_dir=corpus, data_dir=tmp_path / "data", model=None)
    async with await Engine.open(config) as engine:
        await engine.update()
    database = tmp_path / "data" / "qabot.sqlite3"
    conn = await store.connect(database)
    try:
        await conn.execute("UPDATE articles SET published = NULL, story = NULL, signature = NULL")
        await conn.execute("UPDATE meta SET value = 'stem+prefix5/2' WHERE key = 'analyzer'")
    finally:
        await conn.close()
    async with await Engine.open(config) as engine:
        before = await engine.ask("Bugün ne oldu?", as_of=D(2026, 12, 1))
        assert before.declined is None  # no dates known yet: nothing to decline on
        report = await engine.update()
        assert report.changed == 10 and report.embedded == 0
        after = await engine.ask("Bugün ne oldu?", as_of=D(2026, 12, 1))
        assert after.declined is not None and after.declined.latest == D(2026, 10, 1)
        assert await stories_of(engine) == {"van-inci-kefali-aa": COPIES}


async def test_a_failed_update_leaves_no_story_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The engine keeps the stories in memory between updates; an update that fails forgets
    what it added to them, so a story is never named after an article that is not indexed."""
    corpus = news_corpus(tmp_path / "corpus", seed=False)
    held = {p.name: p.read_text(encoding="utf-8") for p in corpus.glob("van-inci-kefali-*")}
    for name in held:
        (corpus / name).unlink()
    config = EngineConfig(corpus_dir=corpus, data_dir=tmp_path / "data", model=None)
    async with await Engine.open(config) as engine:
        await engine.update()
        original = corpus / "van-inci-kefali-aa.md"
        original.write_text(held[original.name], encoding="utf-8")

        async def disk_full(*args, **kwargs):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(store, "insert_articles", disk_full)
        with pytest.raises(IndexUpdateError):
            await engine.update()
        monkeypatch.undo()
        original.unlink()  # never indexed
        repost = corpus / "van-inci-kefali-gazete-a.md"
        repost.write_text(held[repost.name], encoding="utf-8")
        assert (await engine.update()).added == 1
        async with (
            engine._reader() as conn,
            conn.execute("SELECT story FROM articles WHERE id = ?", (repost.stem,)) as cur,
        ):
            (story,) = await cur.fetchone()
        assert story == repost.stem  # its own story: the article it copies is not indexed
