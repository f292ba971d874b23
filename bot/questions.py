"""Handlers for people asking questions, and for what they send that is not a question."""

from __future__ import annotations

import logging

from telegram import Message, Update

from bot import buttons
from bot.context import BotContext, Services
from bot.filters import without_mention
from bot.messaging import message_of, reply, typing
from bot.render import Source, first_page, order_sources, render_answer, render_declined
from bot.texts import HELP, texts, texts_for
from embeddings.answer import Answer
from embeddings.text import detect_language

log = logging.getLogger(__name__)

PASSAGES_PER_QUESTION = 8  # stories: the answer shows three; "More sources" pages through the rest


async def show_help(update: Update, context: BotContext) -> None:
    """/start and /help: what the bot knows and how to ask, in Turkish and English."""
    stats = await context.services.engine.stats()
    await reply(
        message_of(update), [HELP.format(articles=stats.articles, username=context.bot.username)]
    )


async def ask_in_private(update: Update, context: BotContext) -> None:
    """In a private chat every text message is a question."""
    message = message_of(update)
    await answer(message, context, message.text or "")


async def ask_in_group(update: Update, context: BotContext) -> None:
    """A group message addressed to the bot: the question is the text without the mention."""
    message = message_of(update)
    await answer(message, context, without_mention(message.text or "", context.bot.username))


async def ask_command(update: Update, context: BotContext) -> None:
    """/ask question (or /ask@BotName question, which reaches bots in privacy mode)."""
    await answer(message_of(update), context, " ".join(context.args or []))


async def refuse_non_text(update: Update, context: BotContext) -> None:
    """Stickers, photos, voice notes…: the bot can only read text."""
    message = message_of(update)
    t = texts_for(message.from_user)
    await reply(message, [t.text_only])


async def refuse_unknown_command(update: Update, context: BotContext) -> None:
    message = message_of(update)
    t = texts_for(message.from_user)
    await reply(message, [t.unknown_command])


async def answer(message: Message, context: BotContext, question: str) -> None:
    """Check the question, then reply with quoted sources (or say the corpus lacks it)."""
    services = context.services
    question = " ".join(question.split())
    user = message.from_user
    if not question:
        await reply(message, [texts_for(user).empty_question])
        return
    language = detect_language(question)
    t = texts(language)
    limit = services.settings.max_question_chars
    if len(question) > limit:
        await reply(message, [t.too_long.format(length=len(question), limit=limit)])
        return
    verdict = services.limiter.check(user.id if user else message.chat.id)
    if not verdict.allowed:
        if verdict.tell_user:
            await reply(message, [t.rate_limited.format(seconds=verdict.retry_after)])
        return
    async with typing(message):
        result = await services.engine.ask(question, k=PASSAGES_PER_QUESTION)
    if result.declined is not None:
        await _record(services, message, question, language, result, [], 0)
        await reply(message, render_declined(result.declined, t))
        log.info("Declined in chat %s: no article from the period asked", message.chat.id)
        return
    sources = order_sources(result.passages)
    shown = first_page(sources, result.answered)
    session_id = await _record(services, message, question, language, result, sources, shown)
    markup = (
        buttons.answer_keyboard(session_id, shown, len(sources), t)
        if sources and session_id
        else None
    )
    await reply(message, render_answer(sources, result.answered, t), markup)
    log.info(
        "Answered in chat %s: %s, %d sources, %.0f ms",
        message.chat.id,
        "found" if result.answered else "not in corpus",
        len(sources),
        result.latency_ms,
    )


async def _record(
    services: Services,
    message: Message,
    question: str,
    language: str,
    result: Answer,
    sources: list[Source],
    shown: int,
) -> str | None:
    """Log the question and keep its answer for the buttons; the session id. None when the
    write fails (a full disk…): the answer must not depend on it, and goes out without the
    buttons that would need the session."""
    try:
        return await services.storage.record_answer(
            chat_id=message.chat.id,
            user_id=message.from_user.id if message.from_user else None,
            question=question,
            language=language,
            answered=result.answered,
            latency_ms=result.latency_ms,
            sources=sources,
            shown=shown,
        )
    except Exception:
        log.exception(
            "Could not record a question in chat %s; answering without buttons", message.chat.id
        )
        return None
