"""Sending replies: HTML, in the asker's thread, quoting them, split messages, "typing",
and status messages that show the progress of long work."""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
from telegram import (
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    MaybeInaccessibleMessage,
    Message,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, TelegramError, TimedOut

from bot.render import plain_text
from embeddings.progress import Progress, ProgressCallback

log = logging.getLogger(__name__)

TYPING_DELAY = 1.0  # seconds; most answers take tens of ms and are better sent than announced
TYPING_REFRESH = 4.0  # seconds; Telegram shows "typing…" for 5 s after each action
PROGRESS_EDIT_INTERVAL = 4.0  # seconds between edits of a status message (Telegram limits edits)
COSMETIC = 0  # rate_limit_args: after a 429, drop the request rather than send it late
_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def message_of(update: Update) -> Message:
    """The message a message or command handler runs for (its filters guarantee one)."""
    assert update.effective_message is not None
    return update.effective_message


async def reply(
    message: MaybeInaccessibleMessage,
    chunks: list[str],
    markup: InlineKeyboardMarkup | None = None,
) -> list[Message]:
    """Send `chunks` (rendered HTML, each within the size limit) as replies to `message`, in
    its forum topic; the buttons go under the last one. The messages Telegram confirmed."""
    sent = []
    for number, chunk in enumerate(chunks, 1):
        last = number == len(chunks)
        if confirmed := await _send(message, chunk, markup if last else None):
            sent.append(confirmed)
    return sent


async def _send(
    message: MaybeInaccessibleMessage, text: str, markup: InlineKeyboardMarkup | None
) -> Message | None:
    options = {
        "chat_id": message.chat.id,
        "message_thread_id": _thread_of(message),
        "reply_parameters": ReplyParameters(message.message_id, allow_sending_without_reply=True),
        "reply_markup": markup,
        "link_preview_options": _NO_PREVIEW,
    }
    try:
        return await _send_html(message, text, options)
    except TimedOut as err:
        if isinstance(err.__cause__, httpx.ConnectTimeout | httpx.PoolTimeout):
            raise  # the request never left: nothing was delivered
        # Telegram may well have sent it: sending it again could duplicate it, and an error
        # notice would contradict the message the user sees.
        log.warning(
            "Telegram did not confirm a reply in chat %s in time; it may have been delivered.",
            message.chat.id,
        )
        return None


async def _send_html(
    message: MaybeInaccessibleMessage, text: str, options: dict[str, Any]
) -> Message:
    bot = message.get_bot()
    try:
        return await bot.send_message(text=text, parse_mode=ParseMode.HTML, **options)
    except BadRequest as err:
        # Everything is escaped when rendered, so this should never happen; if Telegram
        # still rejects the markup, the answer goes out without it rather than not at all.
        if "can't parse entities" not in err.message.lower():
            raise
        log.error("Telegram rejected the HTML of a reply (%s); sending it as plain text.", err)
        return await bot.send_message(text=plain_text(text), **options)


def _thread_of(message: MaybeInaccessibleMessage) -> int | None:
    if isinstance(message, Message) and message.is_topic_message:
        return message.message_thread_id
    return None


@contextlib.asynccontextmanager
async def typing(message: Message) -> AsyncIterator[None]:
    """Show "typing…" in the asker's chat (and topic) while the block runs, once it has run
    for TYPING_DELAY. The block never waits for it: an action costs a request from
    Telegram's flood budget, which a fast answer needs for itself."""

    async def keep_typing() -> None:
        await asyncio.sleep(TYPING_DELAY)
        while True:
            await _show_typing(message)
            await asyncio.sleep(TYPING_REFRESH)

    typist = asyncio.create_task(keep_typing())
    try:
        yield
    finally:
        typist.cancel()


async def _show_typing(message: Message) -> None:
    try:
        await message.get_bot().send_chat_action(
            message.chat.id,
            ChatAction.TYPING,
            message_thread_id=_thread_of(message),
            rate_limit_args=COSMETIC,
        )
    except TelegramError as err:  # cosmetic: never let it cost the answer
        log.debug("Could not send the typing action: %s", err)


@contextlib.asynccontextmanager
async def progress_message(message: Message, heading: str) -> AsyncIterator[ProgressCallback]:
    """Reply `heading` at once, and edit it with the progress lines of the work in the block
    (the callback it yields), at most every PROGRESS_EDIT_INTERVAL seconds."""
    sent = await reply(message, [heading])
    status = _StatusMessage(sent[0] if sent else None, heading)
    try:
        yield status.show
    finally:
        status.stop()


class _StatusMessage:
    """Edits are cosmetic: one that fails, or would come too soon after the last, is skipped."""

    def __init__(self, message: Message | None, heading: str) -> None:
        self._message = message
        self._heading = heading
        self._edited = time.monotonic()
        self._editing: asyncio.Task[None] | None = None

    def show(self, progress: Progress) -> None:
        """The ProgressCallback: called on the event loop's thread, so it only schedules."""
        now = time.monotonic()
        busy = self._editing is not None and not self._editing.done()
        if self._message is None or busy or now - self._edited < PROGRESS_EDIT_INTERVAL:
            return
        self._edited = now
        text = f"{self._heading}\n{html.escape(str(progress))}"
        self._editing = asyncio.create_task(self._edit(self._message, text))

    def stop(self) -> None:
        if self._editing is not None:
            self._editing.cancel()

    @staticmethod
    async def _edit(message: Message, text: str) -> None:
        try:
            await message.get_bot().edit_message_text(
                text,
                chat_id=message.chat.id,
                message_id=message.message_id,
                parse_mode=ParseMode.HTML,
                rate_limit_args=COSMETIC,
            )
        except TelegramError as err:
            log.debug("Could not show the progress: %s", err)
