"""News that arrives by itself, end to end: the running bot over the fake Bot API, a watched
corpus folder and a feed on the local news site."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.texts import TR
from tests.bot.conftest import ADMIN, TR_ANSWER_NAME, TR_QUESTION, USER, RunningBot, StartBot
from tests.embeddings.ingest.newssite import BALON, BALON_QUESTION, NewsSite

WAIT = 15.0  # seconds the index may take to follow the folder or the feed, at most

BALON_ANSWER = "40 ülkeden 120 balon pilotu"
METRO_QUESTION = "İzmir'deki yeni metro hattında kaç istasyon olacak?"
METRO_ANSWER = "11 istasyon"


@pytest.fixture
async def site() -> AsyncIterator[NewsSite]:
    async with NewsSite() as server:
        yield server


async def answered(bot: RunningBot, question: str, expected: str) -> str:
    """Ask until the reply holds `expected` (the index follows on its own); the reply's HTML."""
    deadline = time.monotonic() + WAIT
    while True:
        reply = await bot.reply_to(bot.tg.private_message(USER, question))
        text = reply.result["text"]
        if expected in text:
            return reply.params["text"]
        if time.monotonic() > deadline:
            raise AssertionError(f"not answered within {WAIT} s; last reply: {text}")
        await asyncio.sleep(0.5)


async def admin_says(bot: RunningBot, command: str) -> str:
    return (await bot.reply_to(bot.tg.private_message(ADMIN, command))).result["text"]


async def test_a_file_dropped_into_the_corpus_is_answered_without_a_reload(
    start_bot: StartBot, corpus: Path
) -> None:
    bot = await start_bot(watch_corpus=True)

    (corpus / "balon.md").write_text(BALON, encoding="utf-8")

    assert BALON_ANSWER in await answered(bot, BALON_QUESTION, BALON_ANSWER)
    stats = await admin_says(bot, "/stats")
    assert "Son otomatik güncelleme" in stats and "klasör izleme" in stats
    assert "eklenen 1, değişen 0, silinen 0, atlanan dosya 0" in stats
    assert not bot.tg.calls_to("editMessageText")  # no reload's status message, nothing


async def test_a_removed_file_is_no_longer_answered(start_bot: StartBot, corpus: Path) -> None:
    (corpus / "balon.md").write_text(BALON, encoding="utf-8")
    bot = await start_bot(watch_corpus=True)
    await answered(bot, BALON_QUESTION, BALON_ANSWER)

    (corpus / "balon.md").unlink()

    assert BALON_ANSWER not in await answered(bot, BALON_QUESTION, TR.not_found)


async def test_changes_made_while_the_bot_was_down_are_caught_up_at_start(
    start_bot: StartBot, corpus: Path
) -> None:
    first = await start_bot(watch_corpus=True)
    await first.shut_down()
    (corpus / "balon.md").write_text(BALON, encoding="utf-8")

    bot = await start_bot(watch_corpus=True)

    assert BALON_ANSWER in await answered(bot, BALON_QUESTION, BALON_ANSWER)


async def test_an_emptied_corpus_folder_is_refused_and_stats_say_so(
    start_bot: StartBot, corpus: Path
) -> None:
    bot = await start_bot(watch_corpus=True)

    for path in list(corpus.iterdir()):
        path.unlink()

    deadline = time.monotonic() + WAIT
    while "yapılmadı" not in (stats := await admin_says(bot, "/stats")):
        assert time.monotonic() < deadline, stats
        await asyncio.sleep(0.5)
    assert "2 makaleden 2 tanesini silecekti" in stats and "/reload confirm" in stats
    assert TR_ANSWER_NAME in await answered(bot, TR_QUESTION, TR_ANSWER_NAME)


async def test_with_watching_off_a_dropped_file_waits_for_reload(
    start_bot: StartBot, corpus: Path
) -> None:
    bot = await start_bot(watch_corpus=False)
    (corpus / "balon.md").write_text(BALON, encoding="utf-8")
    await asyncio.sleep(2.5)  # longer than the watcher would take

    first = await bot.reply_to(bot.tg.private_message(USER, BALON_QUESTION))
    assert BALON_ANSWER not in first.result["text"]
    assert TR.watching_off in await admin_says(bot, "/stats")
    await bot.replies_to(bot.tg.private_message(ADMIN, "/reload"), count=2)
    assert BALON_ANSWER in await answered(bot, BALON_QUESTION, BALON_ANSWER)


@pytest.mark.parametrize("watch", [True, False])
async def test_a_feed_article_is_answered_and_the_feed_listed_for_admins(
    start_bot: StartBot, site: NewsSite, corpus: Path, watch: bool
) -> None:
    """Watching or not, what a feed brings is indexed (by the watcher, or by the poller)."""
    site.feeds["son"] = ["/haber/izmir-metro-hatti", "/haber/boyle-bir-haber-yok"]
    feed = site.url("/rss/son?kaynak=a&dil=tr")  # '&' must reach Telegram escaped
    missing = site.url("/rss/olmayan")
    bot = await start_bot(watch_corpus=watch, feed_urls=(feed, missing), feed_interval=3600.0)

    reply = await answered(bot, METRO_QUESTION, METRO_ANSWER)

    assert f'href="{site.url("/haber/izmir-metro-hatti")}"' in reply  # linked to its page
    feeds = await admin_says(bot, "/feeds")
    assert feed in feeds  # the fake Bot API parsed the HTML: the URL was escaped
    assert "yeni 1, bilinen 0, atlanan 1" in feeds
    assert f"{missing}\n  " in feeds and "okunamadı (HTTP 404)" in feeds
    assert "yeni 1, bilinen 0, atlanan 1" in await admin_says(bot, "/stats")
    refused = await bot.reply_to(bot.tg.private_message(USER, "/feeds"))
    assert refused.result["text"] == TR.admin_only
    assert list(corpus.glob("feeds/127.0.0.1/izmir-metro-hatti-*.md"))


async def test_feeds_without_any_configured_says_so(bot: RunningBot) -> None:
    assert await admin_says(bot, "/feeds") == TR.no_feeds
