"""The buttons under an answer: "More sources" and 👍/👎 feedback.

Callback data names the stored answer session ("more:<session>:<offset>",
"vote:<session>:up"), well within Telegram's 64 bytes, so buttons keep working after a
restart for as long as the session is kept.
"""

from __future__ import annotations

import logging
import re

from telegram import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MaybeInaccessibleMessage,
    Message,
    Update,
)
from telegram.error import BadRequest

from bot.context import BotContext
from bot.messaging import reply
from bot.render import PAGE_SIZE, render_more
from bot.storage import Session
from bot.texts import Texts, texts, texts_for

log = logging.getLogger(__name__)

MORE_PATTERN = r"^more:(?P<session>[\w-]+):(?P<offset>\d+)$"
VOTE_PATTERN = r"^vote:(?P<session>[\w-]+):(?P<vote>up|down)$"


def answer_keyboard(session_id: str, shown: int, total: int, t: Texts) -> InlineKeyboardMarkup:
    """Feedback buttons, with "More sources" above them while some are left to show."""
    rows = _more_row(session_id, shown, total, t)
    rows.append(
        [
            InlineKeyboardButton("👍", callback_data=f"vote:{session_id}:up"),
            InlineKeyboardButton("👎", callback_data=f"vote:{session_id}:down"),
        ]
    )
    return InlineKeyboardMarkup(rows)


def _more_row(
    session_id: str, shown: int, total: int, t: Texts
) -> list[list[InlineKeyboardButton]]:
    if shown >= total:
        return []
    data = f"more:{session_id}:{shown}"
    return [[InlineKeyboardButton(f"📚 {t.more_sources}", callback_data=data)]]


async def show_more_sources(update: Update, context: BotContext) -> None:
    """Reply with the next page of sources; the pressed button goes away so a page is shown
    once, and the new page carries the button for the one after it."""
    if (pressed := await _pressed(update, context, MORE_PATTERN)) is None:
        return
    query, message, session, match = pressed
    t = texts(session.language)
    start = int(match["offset"])
    end = min(start + PAGE_SIZE, len(session.sources))
    await context.services.storage.mark_shown(session.id, end)
    await query.answer()
    if isinstance(message, Message):
        await _drop_more_button(message)
    rows = _more_row(session.id, end, len(session.sources), t)
    markup = InlineKeyboardMarkup(rows) if rows else None
    await reply(message, render_more(session.sources, start, t), markup)


async def record_feedback(update: Update, context: BotContext) -> None:
    """👍/👎: stored with the question and the passages shown; one vote per user and answer,
    a second one replaces it."""
    if (pressed := await _pressed(update, context, VOTE_PATTERN)) is None:
        return
    query, _, session, match = pressed
    await context.services.storage.record_feedback(
        session, query.from_user.id, positive=match["vote"] == "up"
    )
    await query.answer(texts(session.language).feedback_thanks)


async def expire_unknown_button(update: Update, context: BotContext) -> None:
    """Buttons whose data the bot does not (or no longer) understands."""
    assert update.callback_query is not None
    await _expired(update.callback_query)


async def _pressed(
    update: Update, context: BotContext, pattern: str
) -> tuple[CallbackQuery, MaybeInaccessibleMessage, Session, re.Match[str]] | None:
    """The button's query, its message, its stored answer session and its data matched by
    `pattern`. None, with the press answered as expired, when the data does not match (PTB
    hands a press without data to every button handler), the message is unknown (a button
    is only honoured in the chat of its answer), or the session is gone or another chat's."""
    query = update.callback_query
    assert query is not None
    match = re.fullmatch(pattern, query.data or "")
    session = await context.services.storage.session(match["session"]) if match else None
    message = query.message
    if match is None or session is None or message is None or session.chat_id != message.chat.id:
        await _expired(query)
        return None
    return query, message, session, match


async def _expired(query: CallbackQuery) -> None:
    await query.answer(texts_for(query.from_user).session_expired)


async def _drop_more_button(message: Message) -> None:
    markup = message.reply_markup
    rows = [
        [b for b in row if not str(b.callback_data or "").startswith("more:")]
        for row in (markup.inline_keyboard if markup else ())
    ]
    rows = [row for row in rows if row]
    try:
        await message.edit_reply_markup(InlineKeyboardMarkup(rows) if rows else None)
    except BadRequest as err:  # e.g. pressed twice: the button is already gone
        log.debug("Could not remove the More sources button: %s", err)
