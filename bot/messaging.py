"""Sending replies: HTML, in the asker's thread, quoting them, split messages, "typing"."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from telegram import (
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    MaybeInaccessibleMessage,
    Message,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, TelegramError

from bot.render import plain_text

log = logging.getLogger(__name__)

TYPING_REFRESH = 4.0  # seconds; Telegram shows "typing…" for 5 s after each action
_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def message_of(update: Update) -> Message:
    """The message a message or command handler runs for (its filters guarantee one)."""
    assert update.effective_message is not None
    return update.effective_message


async def reply(
    message: MaybeInaccessibleMessage,
    chunks: list[str],
    markup: InlineKeyboardMarkup | None = None,
) -> None:
    """Send `chunks` (rendered HTML, each within the size limit) as replies to `message`, in
    its forum topic; the buttons go under the last one."""
    thread_id = (
        message.message_thread_id
        if isinstance(message, Message) and message.is_topic_message
        else None
    )
    for number, chunk in enumerate(chunks, 1):
        await _send(message, chunk, thread_id, markup if number == len(chunks) else None)


async def _send(
    message: MaybeInaccessibleMessage,
    text: str,
    thread_id: int | None,
    markup: InlineKeyboardMarkup | None,
) -> None:
    bot = message.get_bot()
    options = {
        "chat_id": message.chat.id,
        "message_thread_id": thread_id,
        "reply_parameters": ReplyParameters(message.message_id, allow_sending_without_reply=True),
        "reply_markup": markup,
        "link_preview_options": _NO_PREVIEW,
    }
    try:
        await bot.send_message(text=text, parse_mode=ParseMode.HTML, **options)
    except BadRequest as err:
        # Everything is escaped when rendered, so this should never happen; if Telegram
        # still rejects the markup, the answer goes out without it rather than not at all.
        if "can't parse entities" not in err.message.lower():
            raise
        log.error("Telegram rejected the HTML of a reply (%s); sending it as plain text.", err)
        await bot.send_message(text=plain_text(text), **options)


@contextlib.asynccontextmanager
async def typing(message: Message) -> AsyncIterator[None]:
    """Show "typing…" in the asker's chat (and topic) until the block is done."""

    async def keep_typing() -> None:
        while True:
            await asyncio.sleep(TYPING_REFRESH)
            await _show_typing(message)

    await _show_typing(message)
    refresher = asyncio.create_task(keep_typing())
    try:
        yield
    finally:
        refresher.cancel()


async def _show_typing(message: Message) -> None:
    try:
        await message.reply_chat_action(ChatAction.TYPING)
    except TelegramError as err:  # cosmetic: never let it cost the answer
        log.debug("Could not send the typing action: %s", err)
