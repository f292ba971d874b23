"""Handlers that run around the others: the chat allow-list and the error handler."""

from __future__ import annotations

import logging

from telegram import Chat, Update
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop

from bot.context import BotContext
from bot.messaging import reply
from bot.texts import texts_for

log = logging.getLogger(__name__)


async def restrict_chats(update: Update, context: BotContext) -> None:
    """With ALLOWED_CHAT_IDS set, stay silent everywhere else (admins' private chats aside)."""
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
    raise ApplicationHandlerStop


async def report_error(update: object, context: BotContext) -> None:
    """Log what failed; tell the user something went wrong rather than leaving them waiting."""
    log.error("Error while handling an update", exc_info=context.error)
    if not isinstance(update, Update) or update.effective_message is None:
        return
    t = texts_for(update.effective_user)
    try:
        await reply(update.effective_message, [t.something_went_wrong])
    except TelegramError as err:
        log.warning("Could not tell the user about the error: %s", err)
