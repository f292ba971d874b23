"""A running bot against the fake Bot API: the real Application, long polling over HTTP."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.app import serve, storage_dir
from bot.settings import Settings
from bot.storage import Storage
from tests.bot.fake_telegram import Call, FakeTelegram

SEED_CORPUS = Path(__file__).resolve().parents[2] / "corpus"
TOKEN = "123456:AAHfakeTokenForTests_0123456789abcdef"
BOT_USERNAME = "QaTestBot"
ADMIN = 42
USER = 1001
OTHER_USER = 1002
GROUP = -100777

TR_QUESTION = "16 Aralık konferansına kim başkanlık etti?"
TR_ANSWER_NAME = "Le Minh Hung"
EN_OUT_OF_CORPUS = "What is the tallest mountain in Japan?"
TR_OUT_OF_CORPUS = "Japonya'nın en yüksek dağı hangisidir?"


@dataclasses.dataclass
class RunningBot:
    """The bot under test, the fake Telegram it talks to, and helpers to wait on replies."""

    tg: FakeTelegram
    settings: Settings
    stop: asyncio.Event
    task: asyncio.Task[int]

    async def replies_to(self, update: dict, count: int = 1, timeout: float = 10) -> list[Call]:
        """The bot's successful sendMessage calls replying to the message of `update`."""
        message = update["message"]
        return await self.tg.wait_for(
            "sendMessage",
            lambda call: not call.failed and _replies_to(call, message),
            count=count,
            timeout=timeout,
        )

    async def reply_to(self, update: dict, timeout: float = 10) -> Call:
        [call] = await self.replies_to(update, timeout=timeout)
        return call

    def sent_to(self, update: dict) -> list[Call]:
        """Everything sent so far in reply to `update` (no waiting)."""
        message = update["message"]
        return [
            call
            for call in self.tg.calls_to("sendMessage")
            if not call.failed and _replies_to(call, message)
        ]

    async def storage(self) -> Storage:
        """A second connection to the bot's database, as a restarted bot would see it."""
        return await Storage.open(storage_dir(self.settings))

    async def shut_down(self) -> None:
        self.stop.set()
        assert await asyncio.wait_for(self.task, 15) == 0


def _replies_to(call: Call, message: dict) -> bool:
    reply = call.params.get("reply_parameters") or {}
    return (
        call.params.get("chat_id") == message["chat"]["id"]
        and reply.get("message_id") == message["message_id"]
    )


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A private copy of the two seed articles; tests may add files to it."""
    folder = tmp_path / "corpus"
    shutil.copytree(SEED_CORPUS, folder)
    return folder


@pytest.fixture
def settings(tmp_path: Path, corpus: Path) -> Settings:
    return Settings(
        telegram_bot_token=TOKEN,
        admin_user_ids=frozenset({ADMIN}),
        corpus_dir=corpus,
        data_dir=tmp_path / "data",
        embedding_model=None,
        rate_limit_questions=20,
        rate_limit_window=60.0,
        watch_corpus=False,  # tests that change the corpus and /reload must not race a watcher
    )


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN, bot_username=BOT_USERNAME) as server:
        yield server


StartBot = Callable[..., Awaitable[RunningBot]]


@pytest.fixture
async def start_bot(tg: FakeTelegram, settings: Settings) -> AsyncIterator[StartBot]:
    """Start the bot through its real run path (`serve`), with settings overridden by kwargs;
    it is stopped (and must exit cleanly) at the end of the test."""
    running: list[RunningBot] = []

    async def start(wait_for: str = "getUpdates", **overrides: Any) -> RunningBot:
        """`wait_for`: the Bot API call that shows the bot is taking updates."""
        config = dataclasses.replace(settings, telegram_api_base_url=tg.base_url, **overrides)
        calls_before = len(tg.calls_to(wait_for))
        stop = asyncio.Event()
        task = asyncio.create_task(serve(config, stop))
        polling = asyncio.create_task(tg.wait_for(wait_for, count=calls_before + 1, timeout=30))
        await asyncio.wait({task, polling}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            polling.cancel()
            raise AssertionError(f"the bot exited during start-up with {task.result()}")
        await polling
        bot = RunningBot(tg, config, stop, task)
        running.append(bot)
        return bot

    yield start
    for bot in running:
        if not bot.task.done():
            await bot.shut_down()


@pytest.fixture
async def bot(start_bot: StartBot) -> RunningBot:
    return await start_bot()
