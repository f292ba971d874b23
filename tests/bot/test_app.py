"""Start-up, shutdown, the token, Telegram's errors and odd updates, end to end."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import re
import socket
import sqlite3
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import aiosqlite
import pytest
from telegram import MessageEntity

from bot import app
from bot.app import run, serve, storage_dir
from bot.settings import Settings
from bot.storage import DB_NAME
from embeddings.engine import Engine, IndexOpenError
from tests.bot.conftest import (
    ADMIN,
    OTHER_USER,
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
        (ADMIN, None): ["ask", "help", "start", "reload", "stats", "feeds"],
        (ADMIN, "en"): ["ask", "help", "start", "reload", "stats", "feeds"],
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


async def test_429s_are_outlasted_and_the_reply_still_arrives(bot: RunningBot) -> None:
    bot.tg.fail_next("sendMessage", error_code=429, retry_after=1, times=6)
    update = bot.tg.private_message(USER, TR_QUESTION)

    reply = await bot.reply_to(update, timeout=20)

    assert TR_ANSWER_NAME in reply.result["text"]
    assert len([call for call in bot.tg.calls_to("sendMessage") if call.failed]) == 6
    assert bot.sent_to(update) == [reply]  # and no "something went wrong"


async def test_a_reply_is_given_up_only_past_the_send_deadline_and_without_an_error_notice(
    start_bot: StartBot, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(app, "SEND_DEADLINE", 5)
    bot = await start_bot()
    bot.tg.fail_next("sendMessage", error_code=429, retry_after=60)
    update = bot.tg.private_message(USER, TR_QUESTION)

    await wait_for_log(caplog, "Gave up sending a reply")
    sentinel = bot.tg.private_message(OTHER_USER, TR_QUESTION)
    await bot.reply_to(sentinel)  # the bot is not held up by the flood wait either

    assert bot.sent_to(update) == []
    assert len(bot.tg.calls_to("sendMessage")) == 2  # the given-up reply and the sentinel's


async def test_a_reply_telegram_confirms_too_late_is_not_followed_by_an_error_notice(
    bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot")
    bot.tg.delay_next("sendMessage", 8)  # past PTB's read timeout (5 s)
    update = bot.tg.private_message(USER, TR_QUESTION)

    reply = await bot.reply_to(update)
    await wait_for_log(caplog, "it may have been delivered", timeout=15)

    assert TR_ANSWER_NAME in reply.result["text"]
    assert bot.sent_to(update) == [reply]
    assert "Answered in chat" in caplog.text  # the handler went on as for any sent reply


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
async def test_a_damaged_bot_database_stops_start_up_with_one_line(
    tg: FakeTelegram, settings: Settings, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    config = dataclasses.replace(settings, telegram_api_base_url=tg.base_url)
    damage_bot_database(config, damage)

    code = await serve(config, asyncio.Event())

    err = one_line(capsys)
    assert code != 0
    assert err.startswith("qabot: the bot database ") and "is damaged" in err
    assert "move it aside" in err
    assert not [t for t in threading.enumerate() if isinstance(t, aiosqlite.Connection)]


async def test_an_index_that_cannot_be_opened_stops_start_up_with_one_line(
    tg: FakeTelegram,
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def unopenable(config: object, *args: object) -> Engine:
        raise IndexOpenError("the index database data/qabot.sqlite3 is damaged: run qabot index")

    monkeypatch.setattr(Engine, "open", unopenable)
    config = dataclasses.replace(settings, telegram_api_base_url=tg.base_url)

    code = await serve(config, asyncio.Event())

    assert code != 0
    assert one_line(capsys) == (
        "qabot: the index database data/qabot.sqlite3 is damaged: run qabot index\n"
    )
    assert not [t for t in threading.enumerate() if isinstance(t, aiosqlite.Connection)]


async def test_qabot_run_exits_on_a_damaged_bot_database_instead_of_hanging(
    tg: FakeTelegram, settings: Settings, tmp_path: Path
) -> None:
    damage_bot_database(settings, "garbage")
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": tg.base_url,
        "EMBEDDING_MODEL": "none",
        "CORPUS_DIR": str(settings.corpus_dir),
        "DATA_DIR": str(settings.data_dir),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", cwd=tmp_path, env=env, stderr=asyncio.subprocess.PIPE
    )
    try:
        _, err = await asyncio.wait_for(process.communicate(), 60)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError("qabot run hung on a damaged bot database") from None

    assert process.returncode == 1
    lines = [line for line in err.decode().splitlines() if line.startswith("qabot:")]
    assert len(lines) == 1 and "is damaged" in lines[0], err.decode()


def damage_bot_database(settings: Settings, damage: str) -> None:
    """A bot database whose bytes are garbage, or one cut short (a full disk, a bad copy)."""
    folder = storage_dir(settings)
    folder.mkdir(parents=True)
    if damage == "garbage":
        (folder / DB_NAME).write_bytes(bytes(range(256)) * 64)
        return
    with sqlite3.connect(folder / DB_NAME) as db:
        db.execute("CREATE TABLE filler (text TEXT)")
        db.executemany("INSERT INTO filler VALUES (?)", [("x" * 500,)] * 200)
    data = (folder / DB_NAME).read_bytes()
    (folder / DB_NAME).write_bytes(data[: len(data) // 2])


async def wait_for_log(
    caplog: pytest.LogCaptureFixture, text: str, timeout: float = 10
) -> logging.LogRecord:
    """The first log record containing `text`, once it is logged (within `timeout`)."""
    async with asyncio.timeout(timeout):
        while True:
            for record in caplog.records:
                if text in record.getMessage():
                    return record
            await asyncio.sleep(0.05)
