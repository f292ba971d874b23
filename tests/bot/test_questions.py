"""People asking questions, end to end: what the bot sends back over the Bot API."""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import shutil
import sqlite3
from pathlib import Path

import pytest
from telegram import MessageEntity

from bot.render import MESSAGE_LIMIT
from bot.storage import Storage
from bot.texts import EN, TR
from embeddings.answer import Answer
from embeddings.engine import Engine
from tests.bot.conftest import (
    ADMIN,
    BOT_USERNAME,
    EN_OUT_OF_CORPUS,
    GROUP,
    OTHER_USER,
    TR_ANSWER_NAME,
    TR_OUT_OF_CORPUS,
    TR_QUESTION,
    USER,
    RunningBot,
    StartBot,
)
from tests.bot.fake_telegram import Call, utf16_len

SEED_URL = "https://baobinhduong.vn/tong-bi-thu-du-hoi-nghi-toan-quoc-tong-ket-cong-tac-to-chuc-xay-dung-dang-2024-a337766.html"


def entity_types(call: Call) -> list[str]:
    return [entity["type"] for entity in call.result.get("entities", [])]


def buttons(call: Call) -> list[str]:
    markup = call.params.get("reply_markup") or {"inline_keyboard": []}
    return [button["callback_data"] for row in markup["inline_keyboard"] for button in row]


def slow_down(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """Answers take `seconds` (a big index, a busy CPU) instead of milliseconds."""
    ask = Engine.ask

    async def slow_ask(self: Engine, question: str, k: int = 5) -> Answer:
        await asyncio.sleep(seconds)
        return await ask(self, question, k)

    monkeypatch.setattr(Engine, "ask", slow_ask)


async def ask_in_group(bot: RunningBot, text: str, **kwargs: object) -> dict:
    """A question by @mention in the group, and the bot's reply to it."""
    update = bot.tg.group_message(GROUP, USER, text, **kwargs)
    await bot.reply_to(update)
    return update


async def test_a_private_question_is_answered_with_a_quoted_linked_source(bot: RunningBot) -> None:
    update = bot.tg.private_message(USER, TR_QUESTION)

    reply = await bot.reply_to(update)

    assert reply.params["parse_mode"] == "HTML"
    assert reply.params["reply_parameters"]["message_id"] == update["message"]["message_id"]
    html_text = reply.params["text"]
    storage = await bot.storage()
    async with storage:
        session = await storage.session(buttons(reply)[-1].split(":")[1])
    assert session is not None
    best = session.sources[0]  # the engine's answering sentence, bold inside the quote
    assert html_text.startswith("<blockquote")
    assert f"<b>{html.escape(best.highlight, quote=False)}</b>" in html_text
    assert html_text.index("<b>") < html_text.index("</blockquote>")
    assert f'📰 <a href="{SEED_URL}">' in html_text
    assert TR_ANSWER_NAME in reply.result["text"]
    types = entity_types(reply)
    # A quote, expandable when long (the 4096-character splitting is tested in test_render).
    assert {MessageEntity.BLOCKQUOTE, MessageEntity.EXPANDABLE_BLOCKQUOTE} & set(types)
    assert MessageEntity.BOLD in types and MessageEntity.TEXT_LINK in types
    data = buttons(reply)
    assert [d.split(":")[0] for d in data] == ["more", "vote", "vote"]
    assert all(len(d.encode()) <= 64 for d in data)


async def test_a_question_outside_the_corpus_is_answered_as_such_in_english(
    bot: RunningBot,
) -> None:
    update = bot.tg.private_message(USER, EN_OUT_OF_CORPUS)

    reply = await bot.reply_to(update)

    assert reply.result["text"].startswith(EN.not_found)


async def test_a_question_outside_the_corpus_is_answered_as_such_in_turkish(
    bot: RunningBot,
) -> None:
    update = bot.tg.private_message(USER, TR_OUT_OF_CORPUS)

    reply = await bot.reply_to(update)

    text = reply.result["text"]
    assert text.startswith(TR.not_found)
    assert "İlgili olabilecek en yakın bölüm" in text  # the closest passage, clearly marked
    assert MessageEntity.BLOCKQUOTE in entity_types(reply) or (
        MessageEntity.EXPANDABLE_BLOCKQUOTE in entity_types(reply)
    )
    assert "vote" in " ".join(buttons(reply))


async def test_html_in_questions_and_corpus_never_breaks_the_reply(
    corpus: Path, start_bot: StartBot
) -> None:
    (corpus / "formula.md").write_text(
        "---\ntitle: R&D <Lab> raporu\nurl: https://example.org/a?x=1&y=2\ndate: 2024-05-01\n---\n"
        "Formül a < b & c > d biçiminde yazıldı ve </blockquote> <b>etiketleri</b> metindir.\n",
        encoding="utf-8",
    )
    bot = await start_bot()
    update = bot.tg.private_message(USER, "a < b & c > d?")

    reply = await bot.reply_to(update)

    assert not [call for call in bot.tg.calls if call.failed]  # no "can't parse entities"
    text = reply.result["text"]
    assert "a < b & c > d biçiminde yazıldı ve </blockquote> <b>etiketleri</b> metindir." in text
    assert "R&D <Lab> raporu · 2024-05-01" in text
    links = [e["url"] for e in reply.result["entities"] if e["type"] == MessageEntity.TEXT_LINK]
    assert links == ["https://example.org/a?x=1&y=2"]


async def test_a_long_answer_is_split_into_messages_under_the_limit(
    corpus: Path, start_bot: StartBot
) -> None:
    # One run-on sentence of long words: a passage far over 4096 characters once escaped.
    words = [
        f"zeytinyağı-hasat-raporu-bölüm-{i:03}-ayrıntılı-açıklama-ve-değerlendirme-<{i}>&&&"
        for i in range(90)
    ]
    (corpus / "uzun.txt").write_text(" ".join(words) + "\n", encoding="utf-8")
    bot = await start_bot()
    update = bot.tg.private_message(USER, "zeytinyağı hasat raporu")

    await bot.tg.wait_for("sendMessage", lambda call: bool(buttons(call)))  # the last part
    replies = bot.sent_to(update)

    assert not [call for call in bot.tg.calls if call.failed]
    assert len(replies) >= 2
    for reply in replies:
        assert utf16_len(reply.params["text"]) <= MESSAGE_LIMIT
        assert reply.params["parse_mode"] == "HTML"
    visible = " ".join(reply.result["text"] for reply in replies)
    assert all(word in visible for word in words)
    assert [bool(buttons(reply)) for reply in replies][-1]
    assert not any(buttons(reply) for reply in replies[:-1])


async def test_in_a_group_only_messages_addressed_to_the_bot_are_answered(
    bot: RunningBot,
) -> None:
    ignored = bot.tg.group_message(GROUP, USER, TR_QUESTION)
    sticker = bot.tg.sticker_message(USER, chat_id=GROUP)
    other_command = bot.tg.group_message(GROUP, USER, "/foo")
    other_bot = bot.tg.group_message(GROUP, USER, f"/ask@OtherBot {TR_QUESTION}")
    addressed = bot.tg.group_message(GROUP, USER, f"@{BOT_USERNAME} {TR_QUESTION}")

    reply = await bot.reply_to(addressed)

    assert TR_ANSWER_NAME in reply.result["text"]
    for update in (ignored, sticker, other_command, other_bot):
        assert bot.sent_to(update) == []
    storage = await bot.storage()
    async with storage:
        session = await storage.session(buttons(reply)[0].split(":")[1])
    assert session is not None and session.question == TR_QUESTION  # the mention is removed


async def test_a_reply_to_the_bot_is_a_question(bot: RunningBot) -> None:
    first = await ask_in_group(bot, f"@{BOT_USERNAME} {TR_QUESTION}")
    [answer] = bot.sent_to(first)

    follow_up = bot.tg.group_message(
        GROUP, OTHER_USER, EN_OUT_OF_CORPUS, reply_to_message_id=answer.result["message_id"]
    )

    reply = await bot.reply_to(follow_up)
    assert reply.result["text"].startswith(EN.not_found)


async def test_ask_command_with_the_bot_username_works_in_groups(bot: RunningBot) -> None:
    update = bot.tg.group_message(GROUP, USER, f"/ask@{BOT_USERNAME} {TR_QUESTION}")

    reply = await bot.reply_to(update)

    assert TR_ANSWER_NAME in reply.result["text"]


async def test_answers_stay_in_the_forum_topic_of_the_question(bot: RunningBot) -> None:
    update = bot.tg.group_message(
        GROUP, USER, f"@{BOT_USERNAME} {TR_QUESTION}", is_forum=True, message_thread_id=77
    )

    reply = await bot.reply_to(update)

    assert reply.params["message_thread_id"] == 77
    assert reply.result["message_thread_id"] == 77


async def test_typing_is_shown_only_while_a_slow_answer_is_worked_on(
    bot: RunningBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    quick = bot.tg.private_message(USER, TR_QUESTION)
    await bot.reply_to(quick)
    assert bot.tg.calls_to("sendChatAction") == []  # the answer itself was the first sign
    slow_down(monkeypatch, seconds=1.5)
    slow = bot.tg.group_message(
        GROUP, USER, f"@{BOT_USERNAME} {TR_QUESTION}", is_forum=True, message_thread_id=77
    )

    reply = await bot.reply_to(slow)

    [typing] = bot.tg.calls_to("sendChatAction")
    assert typing.params == {"chat_id": GROUP, "action": "typing", "message_thread_id": 77}
    assert typing.at < reply.at
    assert TR_ANSWER_NAME in reply.result["text"]


async def test_a_rate_limited_typing_action_never_holds_up_the_answer(
    bot: RunningBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow_down(monkeypatch, seconds=1.5)
    bot.tg.fail_next("sendChatAction", retry_after=30)
    update = bot.tg.private_message(USER, TR_QUESTION)

    reply = await bot.reply_to(update, timeout=10)

    assert TR_ANSWER_NAME in reply.result["text"]
    [typing] = bot.tg.calls_to("sendChatAction")  # dropped, not sent again after 30 s
    assert typing.failed


async def test_empty_and_overlong_questions_get_a_short_explanation(bot: RunningBot) -> None:
    mention_only = bot.tg.group_message(GROUP, USER, f"@{BOT_USERNAME}")
    bare_ask = bot.tg.private_message(USER, "/ask")
    too_long = bot.tg.private_message(USER, "Neden " * 100)

    assert (await bot.reply_to(mention_only)).params["text"] == TR.empty_question
    assert (await bot.reply_to(bare_ask)).params["text"] == TR.empty_question
    assert (await bot.reply_to(too_long)).result["text"] == TR.too_long.format(
        length=599, limit=500
    )
    assert bot.tg.calls_to("sendChatAction") == []  # the engine was not asked


async def test_stickers_photos_and_voice_notes_get_a_text_only_reply(bot: RunningBot) -> None:
    updates = [
        bot.tg.sticker_message(USER),
        bot.tg.photo_message(USER),
        bot.tg.voice_message(USER),
    ]
    first = await ask_in_group(bot, f"@{BOT_USERNAME} {TR_QUESTION}")
    [answer] = bot.sent_to(first)
    sticker = updates[0]["message"]["sticker"]
    addressed_sticker = bot.tg.raw_update(
        {
            "message": {
                "message_id": 500,
                "date": answer.result["date"],
                "chat": answer.result["chat"],
                "from": {"id": USER, "is_bot": False, "first_name": "Ayşe"},
                "sticker": sticker,
                "reply_to_message": answer.result,
            }
        }
    )

    for update in [*updates, addressed_sticker]:
        assert (await bot.reply_to(update)).result["text"] == TR.text_only


async def test_unknown_commands_are_answered_in_private_and_when_addressed(
    bot: RunningBot,
) -> None:
    private = bot.tg.private_message(USER, "/weather Ankara")
    group_ignored = bot.tg.group_message(GROUP, USER, "/weather")
    group_addressed = bot.tg.group_message(GROUP, USER, f"/weather@{BOT_USERNAME}")

    assert (await bot.reply_to(private)).result["text"] == TR.unknown_command
    assert (await bot.reply_to(group_addressed)).result["text"] == TR.unknown_command
    assert bot.sent_to(group_ignored) == []


async def test_start_and_help_explain_in_turkish_and_english(bot: RunningBot) -> None:
    start = bot.tg.private_message(USER, "/start")
    help_in_group = bot.tg.group_message(GROUP, USER, f"/help@{BOT_USERNAME}")

    for update in (start, help_in_group):
        text = (await bot.reply_to(update)).result["text"]
        assert "2 haber makalesinden" in text and "2 news articles" in text
        assert "Türkçe ya da İngilizce" in text and "Turkish or English" in text
        assert f"@{BOT_USERNAME}" in text and "/ask" in text


async def test_over_the_rate_limit_one_polite_message_says_when_to_retry(
    start_bot: StartBot,
) -> None:
    bot = await start_bot(rate_limit_questions=2, rate_limit_window=60)
    updates = [bot.tg.private_message(USER, f"{TR_QUESTION} {i}") for i in range(5)]

    answers = [await bot.reply_to(update) for update in updates[:3]]
    sentinel = bot.tg.private_message(OTHER_USER, TR_QUESTION)
    await bot.reply_to(sentinel)  # another user is still served

    assert TR_ANSWER_NAME in answers[0].result["text"]
    assert TR_ANSWER_NAME in answers[1].result["text"]
    notice = answers[2].result["text"]
    assert notice.startswith("Kısa sürede çok fazla soru sordunuz.")
    assert "saniye sonra" in notice
    assert bot.sent_to(updates[3]) == [] and bot.sent_to(updates[4]) == []


async def test_many_users_are_served_at_once(bot: RunningBot) -> None:
    updates = [bot.tg.private_message(USER + i, TR_QUESTION) for i in range(12)]

    replies = await asyncio.gather(*(bot.reply_to(update) for update in updates))

    assert all(TR_ANSWER_NAME in reply.result["text"] for reply in replies)


async def test_allowed_chats_restrict_where_the_bot_answers(start_bot: StartBot) -> None:
    bot = await start_bot(allowed_chat_ids=frozenset({GROUP}))
    stranger = bot.tg.private_message(USER, TR_QUESTION)
    elsewhere = bot.tg.group_message(-100999, USER, f"@{BOT_USERNAME} {TR_QUESTION}")
    admin = bot.tg.private_message(ADMIN, TR_QUESTION)
    allowed = bot.tg.group_message(GROUP, USER, f"@{BOT_USERNAME} {TR_QUESTION}")

    await bot.reply_to(admin)
    await bot.reply_to(allowed)

    assert bot.sent_to(stranger) == [] and bot.sent_to(elsewhere) == []


async def test_an_answer_does_not_depend_on_logging_the_question(
    bot: RunningBot, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def disk_full(self: Storage, **kwargs: object) -> str:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(Storage, "record_answer", disk_full)
    update = bot.tg.private_message(USER, TR_QUESTION)

    reply = await bot.reply_to(update)

    assert TR_ANSWER_NAME in reply.result["text"]
    assert "reply_markup" not in reply.params  # no buttons pointing at an answer not kept
    assert "database or disk is full" in caplog.text
    sentinel = bot.tg.private_message(USER, TR_OUT_OF_CORPUS)
    await bot.reply_to(sentinel)
    assert bot.sent_to(update) == [reply]  # and no "something went wrong" after it


NEWS_CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "news" / "corpus"


async def test_news_replies_show_the_other_outlets_and_the_source_line(
    start_bot: StartBot, corpus: Path
) -> None:
    """The dated news fixture beside the seed articles: a reposted story is quoted once,
    the other outlets linked on one line under it, its attribution on the source line."""
    for path in NEWS_CORPUS.iterdir():
        shutil.copy(path, corpus)
    bot = await start_bot()
    question = "Van Gölü'nde inci kefalinin üreme göçü ne zaman başladı?"
    reply = await bot.reply_to(bot.tg.private_message(USER, question))
    text = reply.result["text"]
    assert "Aynı haber: " in text
    assert "gazete-b.example (2026-05-13)" in text
    titles = (
        "Van Gölü'nde inci kefalinin",
        "İnci kefalleri Deliçay'da",
        "Van'da inci kefali göçü erken",
    )
    assert sum(f"📰 {title}" in text for title in titles) == 1  # the copies are not sources
    assert '<a href="https://gazete-a.example/van/inci-kefalleri-delicay">' in reply.params["text"]
    assert "✍️ AA" in text or "✍️ Kaynak: Anadolu Ajansı" in text


async def test_a_question_about_today_without_news_from_today_is_declined(
    start_bot: StartBot, corpus: Path
) -> None:
    """The bot reads time words against today: the newest article is from yesterday."""
    yesterday = dt.date.today() - dt.timedelta(days=1)
    (corpus / "dun.md").write_text(
        f"---\ntitle: Dünkü haber\ndate: {yesterday.isoformat()}\n---\n"
        "Belediye meclisi dün yeni park projesini onayladı.\n",
        encoding="utf-8",
    )
    bot = await start_bot()
    for question, t in (("Bugün ne oldu?", TR), ("What happened today?", EN)):
        reply = await bot.reply_to(bot.tg.private_message(USER, question))
        day = f"{yesterday.day} {t.months[yesterday.month - 1]} {yesterday.year}"
        assert reply.result["text"].startswith("🗓 ")
        assert day in reply.result["text"]
        assert "<blockquote" not in reply.params["text"]
    park = await bot.reply_to(bot.tg.private_message(USER, "Dün meclis hangi projeyi onayladı?"))
    assert "park projesini" in park.result["text"]
