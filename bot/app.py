"""The running bot: wiring (handlers, commands, rate limiter) and its life cycle.

`run(settings)` is what `qabot run` calls. It refuses to start without a usable token,
loads (or builds) the index before taking updates, starts watching the corpus folder and
polling the feeds (embeddings/ingest), then long-polls, or serves a webhook when WEBHOOK_URL
is set, until SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from telegram import Bot, BotCommand, BotCommandScopeChat, Update
from telegram.error import BadRequest, InvalidToken, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import HTTPXRequest

from bot import admin, buttons, guards, questions
from bot.context import BotContext, Services
from bot.filters import ADDRESSED, COMMAND_FOR_THIS_BOT
from bot.ratelimit import PatientFloodLimiter, SlidingWindowLimiter
from bot.settings import Settings
from bot.storage import Storage, StorageError
from bot.texts import EN, TR, Texts
from embeddings.engine import Engine, IndexOpenError, IndexStats, IndexUpdateError
from embeddings.ingest.service import IngestService, running_ingest
from embeddings.ingest.state import IngestStateError

log = logging.getLogger(__name__)

ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY]
SEND_DEADLINE = 300  # seconds of 429s (flood control) after which a request is given up
REDACTED = "<redacted>"


def build_application(
    settings: Settings, engine: Engine, storage: Storage, ingest: IngestService | None = None
) -> Application:
    """The PTB application with every handler registered; not yet initialised. `ingest`: the
    corpus watcher and feeds, for /stats and /feeds."""
    if problem := settings.token_problem():
        raise ValueError(problem)
    application = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token or "")
        .base_url(settings.telegram_api_base_url)
        .base_file_url(settings.telegram_file_base_url)
        .get_updates_request(_TolerantUpdatesRequest(connection_pool_size=1))
        .rate_limiter(PatientFloodLimiter(SEND_DEADLINE))
        .concurrent_updates(True)
        .context_types(ContextTypes(context=BotContext))
        .build()
    )
    limiter = SlidingWindowLimiter(settings.rate_limit_questions, settings.rate_limit_window)
    application.bot_data["services"] = Services(settings, engine, storage, limiter)
    application.bot_data["ingest"] = ingest

    admins = filters.User(user_id=settings.admin_user_ids)
    private, groups = filters.ChatType.PRIVATE, filters.ChatType.GROUPS
    application.add_handler(TypeHandler(Update, guards.restrict_chats), group=-1)
    application.add_handlers(
        [
            CommandHandler(["start", "help"], questions.show_help),
            CommandHandler("ask", questions.ask_command),
            CommandHandler("reload", admin.reload_index, filters=admins),
            CommandHandler("stats", admin.show_stats, filters=admins),
            CommandHandler("feeds", admin.show_feeds, filters=admins),
            CommandHandler(["reload", "stats", "feeds"], admin.refuse_admin_command),
            MessageHandler(private & filters.TEXT & ~filters.COMMAND, questions.ask_in_private),
            MessageHandler(
                groups & filters.TEXT & ~filters.COMMAND & ADDRESSED, questions.ask_in_group
            ),
            MessageHandler(private & filters.Document.ALL & admins, admin.add_document),
            MessageHandler(private & filters.Document.ALL, admin.refuse_document),
            MessageHandler(
                filters.COMMAND & (private | COMMAND_FOR_THIS_BOT),
                questions.refuse_unknown_command,
            ),
            MessageHandler(
                ~filters.TEXT & ~filters.StatusUpdate.ALL & (private | ADDRESSED),
                questions.refuse_non_text,
            ),
            CallbackQueryHandler(buttons.show_more_sources, pattern=buttons.MORE_PATTERN),
            CallbackQueryHandler(buttons.record_feedback, pattern=buttons.VOTE_PATTERN),
            CallbackQueryHandler(buttons.expire_unknown_button),
        ]
    )
    application.add_error_handler(guards.report_error)
    return application


def run(settings: Settings) -> int:
    """`qabot run`: serve until SIGINT/SIGTERM; the process exit code.

    LOG_LEVEL governs the running service, even if the caller configured logging already.
    """
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(settings.log_level)
    try:
        return asyncio.run(serve(settings))
    except KeyboardInterrupt:  # Ctrl-C before the bot was ready (e.g. while loading the model)
        return 130


async def serve(settings: Settings, stop: asyncio.Event | None = None) -> int:
    """Run the bot until `stop` is set (default: on SIGINT/SIGTERM); the exit code.

    Start-up problems end it at once with one line on stderr, never with the token in it.
    """
    if problem := settings.token_problem():
        return _fail(problem)
    token = settings.telegram_bot_token or ""
    # httpx logs every request URL, token included, at INFO.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    with _redacted_logs(token):
        try:
            await _check_token(settings)
        except InvalidToken:  # its message holds the token: not shown
            return _fail(
                "Telegram rejected TELEGRAM_BOT_TOKEN (Unauthorized): set the current token "
                "from @BotFather."
            )
        except TelegramError as err:
            return _fail(f"cannot reach the Telegram Bot API: {err}".replace(token, REDACTED))
        async with contextlib.AsyncExitStack() as resources:
            try:  # the bot's database first: it opens in an instant, the model may take minutes
                storage = await resources.enter_async_context(
                    await Storage.open(storage_dir(settings))
                )
                engine = await resources.enter_async_context(
                    await Engine.open(settings.engine_config())
                )
            except (StorageError, IndexOpenError) as err:
                return _fail(str(err))
            built_before = await engine.is_built()
            try:
                stats = await prepare_index(engine)
            except IndexUpdateError as err:
                return _fail(f"could not build the index: {err}")
            try:
                ingest = await resources.enter_async_context(
                    running_ingest(
                        settings.ingest_config(),
                        engine,
                        watch=settings.watch_corpus,
                        catch_up=built_before,
                    )
                )
            except IngestStateError as err:
                return _fail(str(err))
            application = build_application(settings, engine, storage, ingest)
            try:
                await _serve_updates(application, settings, stats, stop or _on_signals())
            except (TelegramError, OSError) as err:
                return _fail(f"could not start: {err}".replace(token, REDACTED))
    return 0


def storage_dir(settings: Settings) -> Path:
    """The bot's own database (questions, feedback), kept apart from the engine's index files."""
    return settings.data_dir / "bot"


async def prepare_index(engine: Engine) -> IndexStats:
    """Build the index on the first start; later starts serve the saved one (the watcher's
    catch-up, or /reload, updates it)."""
    if not await engine.is_built():
        log.info("No index yet: building it from %s", engine.config.corpus_dir)
        report = await engine.update()
        for skipped in report.skipped:
            log.warning("Skipped %s", skipped)
    return await engine.stats()


async def register_commands(bot: Bot, settings: Settings) -> None:
    """Command menus: Turkish by default, English for English clients; admins' private
    chats also list the admin commands."""
    for t, language in ((TR, None), (EN, "en")):
        await bot.set_my_commands(_user_commands(t), language_code=language)
        for admin_id in sorted(settings.admin_user_ids):
            try:
                await bot.set_my_commands(
                    _user_commands(t) + _admin_commands(t),
                    scope=BotCommandScopeChat(admin_id),
                    language_code=language,
                )
            except BadRequest as err:  # e.g. the admin never opened a chat with the bot
                log.warning("Could not set the admin commands for %s: %s", admin_id, err)


def _user_commands(t: Texts) -> list[BotCommand]:
    return [
        BotCommand("ask", t.command_ask),
        BotCommand("help", t.command_help),
        BotCommand("start", t.command_start),
    ]


def _admin_commands(t: Texts) -> list[BotCommand]:
    return [
        BotCommand("reload", t.command_reload),
        BotCommand("stats", t.command_stats),
        BotCommand("feeds", t.command_feeds),
    ]


async def _serve_updates(
    application: Application, settings: Settings, stats: IndexStats, stop: asyncio.Event
) -> None:
    updater = application.updater
    assert updater is not None
    async with application:
        await register_commands(application.bot, settings)
        if settings.webhook_url:
            await updater.start_webhook(
                listen=settings.webhook_listen,
                port=settings.webhook_port,
                url_path=urlsplit(settings.webhook_url).path.lstrip("/"),
                webhook_url=settings.webhook_url,
                secret_token=settings.webhook_secret or secrets.token_urlsafe(32),
                allowed_updates=ALLOWED_UPDATES,
            )
        else:
            await updater.start_polling(allowed_updates=ALLOWED_UPDATES)
        await application.start()
        log.info(
            "ready: @%s answers from %d articles (%d passages), model %s, %s",
            application.bot.username,
            stats.articles,
            stats.passages,
            stats.model or "none (lexical-only)",
            "webhook" if settings.webhook_url else "long polling",
        )
        try:
            await stop.wait()
        finally:
            await updater.stop()
            await application.stop()


async def _check_token(settings: Settings) -> None:
    """getMe before anything slow (the model) is loaded: a bad token fails at once."""
    bot = Bot(
        settings.telegram_bot_token or "",
        base_url=settings.telegram_api_base_url,
        base_file_url=settings.telegram_file_base_url,
    )
    async with bot:  # initialize() calls getMe
        pass


def _on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


def _fail(message: str) -> int:
    print(f"qabot: {' '.join(message.split())}", file=sys.stderr)
    return 1


class TokenRedactor(logging.Filter):
    """Defence in depth: whatever logs the token (a URL, an exception), handlers never see it."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.token in message:
            record.msg, record.args = message.replace(self.token, REDACTED), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = record.exc_text.replace(self.token, REDACTED)
        if record.stack_info:
            record.stack_info = record.stack_info.replace(self.token, REDACTED)
        return True


@contextlib.contextmanager
def _redacted_logs(token: str) -> Iterator[None]:
    """Redact the token in every handler of the root logger while the bot runs."""
    redactor = TokenRedactor(token)
    handlers = list(logging.getLogger().handlers)
    for handler in handlers:
        handler.addFilter(redactor)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(redactor)


class _TolerantUpdatesRequest(HTTPXRequest):
    """getUpdates transport that defuses updates python-telegram-bot cannot parse.

    PTB does not move its offset past a batch it failed to parse, so one malformed update
    would be fetched again and again and the bot would stop answering. Such an update is
    logged and replaced by a bare one with the same id, which no handler matches.
    """

    def parse_json_payload(self, payload: bytes) -> dict:
        data = super().parse_json_payload(payload)
        if isinstance(data.get("result"), list):
            data["result"] = [_parsable(update) for update in data["result"]]
        return data


def _parsable(update: dict) -> dict:
    try:
        Update.de_json(update, None)
    except Exception as err:
        update_id = update["update_id"]  # without it, Telegram could not have sent it
        log.warning("Ignoring update %s: it cannot be parsed (%r)", update_id, err)
        return {"update_id": update_id}
    return update
