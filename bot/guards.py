"""Handlers that run around the others: the chat allow-list and the error handler."""

from __future__ import annotations

import contextlib
import logging

from telegram import Chat, Update
from telegram.error import RetryAfter, TelegramError
from telegram.ext import ApplicationHandlerStop

from bot.context import BotContext
from bot.messaging import reply
from bot.texts import texts_for

log = logging.getLogger(__name__)


async def restrict_chats(update: Update, context: BotContext) -> None:
    """With ALLOWED_CHAT_IDS set, stay silent everywhere else (admins' private chats aside);
    a button pressed there is still answered, or it would spin."""
    settings = context.services.settings
    if settings.allowed_chat_ids is None:
        return
    chat, user = update.effective_chat, update.effective_user
    if chat is not None and chat.id in settings.allowed_chat_ids:
        return
    if (
        chat is not None
        and chat.type == Chat.PRIVATE
        and user
        and user.id in settings.admin_user_ids
    ):
        return
    log.debug("Ignoring update %s from chat %s: not allowed", update.update_id, chat and chat.id)
    if update.callback_query:
        with contextlib.suppress(TelegramError):  # the update must be stopped all the same
            await update.callback_query.answer()
    raise ApplicationHandlerStop


async def report_error(update: object, context: BotContext) -> None:
    """Log what failed; tell the user something went wrong rather than leaving them waiting
    (for a button, in the answer to the press, which also stops it spinning)."""
    if isinstance(context.error, RetryAfter):
        # Flood control outlasted the send deadline; a notice would meet the same limit.
        log.error("Gave up sending a reply: %s", context.error)
        return
    log.error("Error while handling an update", exc_info=context.error)
    if not isinstance(update, Update):
        return
    t = texts_for(update.effective_user)
    try:
        if update.callback_query:
            await update.callback_query.answer(t.something_went_wrong)
        elif update.effective_message:
            await reply(update.effective_message, [t.something_went_wrong])
    except TelegramError as err:
        log.warning("Could not tell the user about the error: %s", err)
