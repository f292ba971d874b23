"""The bot with its default model (bundled, offline): English questions about Turkish news."""

from __future__ import annotations

import html

from bot.texts import EN, TR
from embeddings.encoders import BUNDLED_MODEL
from embeddings.engine import Engine
from tests.bot.conftest import EN_OUT_OF_CORPUS, TR_ANSWER_NAME, USER, StartBot
from tests.conftest import HEADLINE_EN

ANSWER_SENTENCE_END = "başkanlık etti."


async def start_with_default_model(start_bot: StartBot, settings) -> object:
    """Index first (encoding takes seconds on a busy machine), then start the bot on it."""
    config = settings.engine_config().__class__(
        corpus_dir=settings.corpus_dir, data_dir=settings.data_dir, model=BUNDLED_MODEL
    )
    async with await Engine.open(config) as engine:
        await engine.update()
    return await start_bot(embedding_model=BUNDLED_MODEL)


async def test_english_question_gets_the_turkish_answer_in_english_chrome(
    start_bot: StartBot, settings
) -> None:
    bot = await start_with_default_model(start_bot, settings)
    update = bot.tg.private_message(USER, HEADLINE_EN)

    reply = await bot.reply_to(update, timeout=30)

    text = reply.params["text"]
    assert not reply.result["text"].startswith(EN.not_found)  # found, not "not in corpus"
    bold = text[text.index("<b>") + 3 : text.index("</b>")]
    assert TR_ANSWER_NAME in bold and bold.endswith(html.escape(ANSWER_SENTENCE_END))
    assert text.index("<b>") < text.index("</blockquote>")  # quoted, in Turkish
    labels = [b["text"] for row in reply.params["reply_markup"]["inline_keyboard"] for b in row]
    chrome = [TR.other_sources, TR.more_sources, TR.possibly_related, TR.not_found]
    assert not any(t in text or any(t in label for label in labels) for t in chrome)
    assert all(label in ("👍", "👎") or EN.more_sources in label for label in labels)


async def test_english_question_outside_the_corpus_is_said_so_with_the_model(
    start_bot: StartBot, settings
) -> None:
    bot = await start_with_default_model(start_bot, settings)
    update = bot.tg.private_message(USER, EN_OUT_OF_CORPUS)

    reply = await bot.reply_to(update, timeout=30)

    assert reply.result["text"].startswith(EN.not_found)
