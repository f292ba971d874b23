"""Start-up, shutdown, the token, Telegram's errors and odd updates, end to end."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import socket
from collections.abc import Iterator

import aiohttp
import pytest
from telegram import MessageEntity

from bot.app import run, serve
from bot.settings import Settings
from tests.bot.conftest import (
    ADMIN,
    TOKEN,
    TR_ANSWER_NAME,
    TR_QUESTION,
    USER,
    RunningBot,
    StartBot,
)
from tests.bot.fake_telegram import FakeTelegram

OTHER_TOKEN = "654321:AAHanotherFakeTokenForTests_98765432"


async def listening(port: int) -> None:
    """PTB sets the webhook before its server listens, and no Bot API call marks the moment."""
    async with asyncio.timeout(10):
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.02)
                continue
            writer.close()
            await writer.wait_closed()
            return


def one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err


@pytest.fixture
def keep_root_log_level() -> Iterator[None]:
    """run() sets the root logger's level from LOG_LEVEL; other tests expect it unchanged."""
    root = logging.getLogger()
    level = root.level
    yield
    root.setLevel(level)


@pytest.mark.usefixtures("keep_root_log_level")
@pytest.mark.parametrize(
    ("token", "expected"),
    [(None, "TELEGRAM_BOT_TOKEN is not set"), ("12345:short", "TELEGRAM_BOT_TOKEN is malformed")],
)
def test_a_missing_or_malformed_token_stops_at_once_with_one_line(
    settings: Settings, capsys: pytest.CaptureFixture[str], token: str | None, expected: str
) -> None:
    code = run(dataclasses.replace(settings, telegram_bot_token=token))

    err = one_line(capsys)
    assert code != 0
    assert err.startswith(f"qabot: {expected}")
    assert "12345:short" not in err
    assert not settings.data_dir.exists()  # nothing was loaded


async def test_a_token_telegram_rejects_stops_at_once_with_one_line(
    tg: FakeTelegram, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    config = dataclasses.replace(
        settings, telegram_bot_token=OTHER_TOKEN, telegram_api_base_url=tg.base_url
    )

    code = await serve(config, asyncio.Event())

    err = one_line(capsys)
    assert code != 0
    assert "Telegram rejected TELEGRAM_BOT_TOKEN" in err
    assert OTHER_TOKEN not in err and OTHER_TOKEN.split(":")[1] not in err
    assert [call.method for call in tg.calls] == ["getMe"]


async def test_an_unreachable_bot_api_stops_with_one_line(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = dataclasses.replace(settings, telegram_api_base_url=f"http://127.0.0.1:{port}/bot")

    code = await serve(config, asyncio.Event())

    err = one_line(capsys)
    assert code != 0 and "cannot reach the Telegram Bot API" in err and TOKEN not in err


async def test_start_up_builds_the_index_registers_commands_and_logs_ready(
    start_bot: StartBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)

    bot = await start_bot()

    [ready] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("ready")]
    assert re.fullmatch(
        r"ready: @QaTestBot answers from 2 articles \(\d+ passages\), "
        r"model none \(lexical-only\), long polling",
        ready,
    )
    assert (bot.settings.data_dir / "qabot.sqlite3").is_file()  # the index was built
    commands = {
        (
            call.params.get("scope", {"type": "default"}).get("chat_id"),
            call.params.get("language_code"),
        ): [c["command"] for c in call.params["commands"]]
        for call in bot.tg.calls_to("setMyCommands")
    }
    assert commands == {
        (None, None): ["ask", "help", "start"],
        (None, "en"): ["ask", "help", "start"],
        (ADMIN, None): ["ask", "help", "start", "reload", "stats"],
        (ADMIN, "en"): ["ask", "help", "start", "reload", "stats"],
    }
    methods = [call.method for call in bot.tg.calls]
    assert methods.index("setMyCommands") < methods.index("getUpdates")
    assert "deleteWebhook" in methods


async def test_the_token_never_reaches_the_logs(
    bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bot.tg.fail_next("sendMessage", retry_after=0)
    update = bot.tg.private_message(ADMIN, "/reload")
    await bot.reply_to(update)
    question = bot.tg.private_message(USER, TR_QUESTION)
    await bot.reply_to(question)
    logging.getLogger("telegram.ext").warning("GET %s/getMe failed", bot.tg.base_url + TOKEN)

    await bot.shut_down()

    assert caplog.records
    assert not [r for r in caplog.records if r.name.startswith(("httpx", "httpcore"))]
    for record in caplog.records:
        assert TOKEN not in record.getMessage()
        assert TOKEN not in (record.exc_text or "")
    assert TOKEN not in caplog.text
    assert "/bot<redacted>/getMe failed" in caplog.text


async def test_a_429_in_the_middle_of_a_reply_is_retried_and_the_reply_arrives(
    bot: RunningBot,
) -> None:
    bot.tg.fail_next("sendMessage", error_code=429, retry_after=1)
    update = bot.tg.private_message(USER, TR_QUESTION)

    reply = await bot.reply_to(update, timeout=15)

    failed = [call for call in bot.tg.calls_to("sendMessage") if call.failed]
    assert [call.error for call in failed] == ["Too Many Requests: retry after 1"]
    assert reply.at - failed[0].at >= 1.0
    assert TR_ANSWER_NAME in reply.result["text"]
    assert reply.params["text"] == failed[0].params["text"]  # the same reply, not lost


async def test_html_telegram_rejects_anyway_is_resent_as_plain_text(bot: RunningBot) -> None:
    bot.tg.fail_next(
        "sendMessage",
        error_code=400,
        description="Bad Request: can't parse entities: Unsupported start tag at byte offset 0",
    )
    update = bot.tg.private_message(USER, TR_QUESTION)

    reply = await bot.reply_to(update)

    assert "parse_mode" not in reply.params
    assert TR_ANSWER_NAME in reply.result["text"] and "<b>" not in reply.result["text"]
    assert reply.params["reply_markup"]  # the buttons are kept


async def test_malformed_and_unknown_updates_do_not_stop_the_bot(bot: RunningBot) -> None:
    bot.tg.raw_update({"message": {"message_id": 1, "text": "no chat, no date"}})
    bot.tg.raw_update({"callback_query": {"id": "1"}})
    bot.tg.raw_update({"some_future_update": {"x": 1}})
    bot.tg.raw_update({"edited_message": None})
    update = bot.tg.private_message(USER, TR_QUESTION)

    reply = await bot.reply_to(update)

    assert TR_ANSWER_NAME in reply.result["text"]
    assert [call.method for call in bot.tg.calls if call.method == "sendMessage"] == ["sendMessage"]


async def test_webhook_mode_takes_updates_checked_by_the_secret_token(
    start_bot: StartBot, tg: FakeTelegram
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    await start_bot(
        webhook_url="https://bot.example.org/telegram/hook",
        webhook_secret="s3cret-Token_1",
        webhook_listen="127.0.0.1",
        webhook_port=port,
        wait_for="setWebhook",
    )
    [hook] = tg.calls_to("setWebhook")
    assert hook.params["url"] == "https://bot.example.org/telegram/hook"
    assert hook.params["secret_token"] == "s3cret-Token_1"
    update = tg.private_message(USER, TR_QUESTION)
    url = f"http://127.0.0.1:{port}/telegram/hook"

    async with aiohttp.ClientSession() as http:
        await listening(port)
        async with http.post(url, json=update) as wrong:
            assert wrong.status == 403
        headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret-Token_1"}
        async with http.post(url, json=update, headers=headers) as right:
            assert right.status == 200

    [reply] = await tg.wait_for("sendMessage")
    assert TR_ANSWER_NAME in reply.result["text"]
    assert MessageEntity.TEXT_LINK in [e["type"] for e in reply.result["entities"]]
    assert tg.calls_to("getUpdates") == []
