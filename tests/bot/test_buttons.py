"""The buttons under an answer, end to end: "More sources" and 👍/👎."""

from __future__ import annotations

import sqlite3

import aiosqlite
import pytest

from bot.app import storage_dir
from bot.storage import DB_NAME, Storage
from bot.texts import TR
from tests.bot.conftest import GROUP, OTHER_USER, TR_QUESTION, USER, RunningBot, StartBot
from tests.bot.fake_telegram import Call


def button(call: Call, kind: str) -> str:
    markup = call.params["reply_markup"]["inline_keyboard"]
    return next(
        b["callback_data"] for row in markup for b in row if b["callback_data"].startswith(kind)
    )


async def ask(bot: RunningBot, user: int = USER) -> Call:
    return await bot.reply_to(bot.tg.private_message(user, TR_QUESTION))


async def test_more_sources_replies_with_the_next_passages(bot: RunningBot) -> None:
    answer = await ask(bot)
    more = button(answer, "more:")
    _, session_id, offset = more.split(":")

    bot.tg.callback_query(USER, answer.result, more)
    [page] = await bot.tg.wait_for(
        "sendMessage",
        lambda call: (
            (call.params.get("reply_parameters") or {}).get("message_id")
            == answer.result["message_id"]
        ),
    )

    [ack] = bot.tg.calls_to("answerCallbackQuery")
    assert not ack.failed
    text = page.result["text"]
    assert page.params["parse_mode"] == "HTML" and "<blockquote" in page.params["text"]
    assert f"\n{int(offset) + 1}. 📰 " in text  # numbered on from the answer
    # The pressed button is gone (feedback stays); the page carries the next one.
    [edit] = bot.tg.calls_to("editMessageReplyMarkup")
    kept = [
        b["callback_data"] for row in edit.params["reply_markup"]["inline_keyboard"] for b in row
    ]
    assert kept == [f"vote:{session_id}:up", f"vote:{session_id}:down"]
    if "reply_markup" in page.params:
        assert button(page, "more:") == f"more:{session_id}:{int(offset) + 3}"


async def test_feedback_is_stored_with_the_question_and_passages_shown(bot: RunningBot) -> None:
    answer = await ask(bot)
    bot.tg.callback_query(USER, answer.result, button(answer, "vote:"))
    bot.tg.callback_query(OTHER_USER, answer.result, button(answer, "vote:").replace("up", "down"))

    acks = await bot.tg.wait_for("answerCallbackQuery", count=2)

    assert [ack.params["text"] for ack in acks] == [TR.feedback_thanks] * 2
    storage = await bot.storage()
    async with storage:
        usage = await storage.usage()
    async with aiosqlite.connect(storage_dir(bot.settings) / DB_NAME) as db:
        query = "SELECT user_id, question, passage_ids, positive FROM feedback"
        rows = await (await db.execute(query)).fetchall()
    assert (usage.feedback_up, usage.feedback_down) == (1, 1)
    by_user = {row[0]: row[1:] for row in rows}
    question, passage_ids, positive = by_user[USER]
    assert (question, positive) == (TR_QUESTION, 1)
    assert passage_ids.startswith('["') and by_user[OTHER_USER][2] == 0


async def test_buttons_keep_working_after_a_restart(start_bot: StartBot) -> None:
    first = await start_bot()
    answer = await ask(first)
    await first.shut_down()

    second = await start_bot()
    second.tg.callback_query(USER, answer.result, button(answer, "more:"))

    [page] = await second.tg.wait_for(
        "sendMessage",
        lambda call: (
            (call.params.get("reply_parameters") or {}).get("message_id")
            == answer.result["message_id"]
        ),
    )
    assert "📰" in page.result["text"]


async def test_a_button_of_an_unknown_answer_says_it_expired(bot: RunningBot) -> None:
    answer = await ask(bot)
    bot.tg.callback_query(USER, answer.result, "more:doesnotexist:3")
    bot.tg.callback_query(USER, answer.result, "something-else")

    acks = await bot.tg.wait_for("answerCallbackQuery", count=2)

    assert [ack.params["text"] for ack in acks] == [TR.session_expired] * 2
    assert len(bot.tg.calls_to("sendMessage")) == 1  # nothing but the answer


async def test_a_button_only_works_in_the_chat_of_its_answer(bot: RunningBot) -> None:
    theirs = await ask(bot, USER)
    mine = await ask(bot, OTHER_USER)
    their_session = button(theirs, "more:").split(":")[1]
    for data in (f"more:{their_session}:3", f"vote:{their_session}:up"):
        bot.tg.callback_query(OTHER_USER, mine.result, data)  # forged on one's own answer

    acks = await bot.tg.wait_for("answerCallbackQuery", count=2)

    assert [ack.params["text"] for ack in acks] == [TR.session_expired] * 2
    assert len(bot.tg.calls_to("sendMessage")) == 2  # the two answers, no sources of theirs
    storage = await bot.storage()
    async with storage:
        assert (await storage.usage()).feedback_up == 0


async def test_malformed_presses_are_answered_and_otherwise_ignored(bot: RunningBot) -> None:
    answer = await ask(bot)
    session_id = button(answer, "more:").split(":")[1]
    bot.tg.callback_query(USER, answer.result, "")
    bot.tg.callback_query(USER, answer.result, None)
    bot.tg.callback_query(USER, None, f"more:{session_id}:3")  # no message to reply under
    bot.tg.callback_query(USER, None, f"vote:{session_id}:up")

    acks = await bot.tg.wait_for("answerCallbackQuery", count=4)

    assert not [ack for ack in acks if ack.failed]
    assert bot.tg.calls_to("sendMessage") == [answer]  # nothing else was sent
    assert await ask(bot, OTHER_USER)  # and the bot still serves


async def test_a_press_whose_handling_fails_still_stops_spinning(
    bot: RunningBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def disk_full(self: Storage, *args: object, **kwargs: object) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(Storage, "record_feedback", disk_full)
    answer = await ask(bot)
    bot.tg.callback_query(USER, answer.result, button(answer, "vote:"))

    [ack] = await bot.tg.wait_for("answerCallbackQuery")

    assert not ack.failed and ack.params["text"] == TR.something_went_wrong


async def test_a_press_in_a_chat_not_allowed_is_answered_silently(start_bot: StartBot) -> None:
    bot = await start_bot(allowed_chat_ids=frozenset({GROUP}))
    question = bot.tg.private_message(USER, TR_QUESTION)  # not answered: not allowed here
    bot.tg.callback_query(USER, question["message"], "vote:abc:up")

    [ack] = await bot.tg.wait_for("answerCallbackQuery")

    assert not ack.failed and "text" not in ack.params
    assert bot.tg.calls_to("sendMessage") == []
