"""The fake Bot API must behave like Telegram for the real PTB client, or e2e tests lie."""

import asyncio
import datetime as dtm
import html
import io
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MessageEntity,
    Update,
)
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, RetryAfter, TimedOut
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters
from telegram.request import HTTPXRequest

from tests.bot.fake_telegram import FakeTelegram, HtmlParseError, parse_html

TOKEN = "123456:TEST-TOKEN"
USER = 1001
GROUP = -100500


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN, bot_username="QaTestBot") as server:
        yield server


@pytest.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=tg.base_url, base_file_url=tg.base_file_url) as client:
        yield client


def keyboard(*data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(d, callback_data=d) for d in data]])


async def test_get_me_returns_the_configured_bot(tg: FakeTelegram, bot: Bot) -> None:
    me = await bot.get_me()

    assert (me.id, me.username, me.is_bot) == (123456, "QaTestBot", True)
    assert me.can_join_groups is True
    assert len(tg.calls_to("getMe")) == 2  # Bot.initialize() calls getMe too


async def test_a_wrong_token_is_unauthorized(tg: FakeTelegram) -> None:
    with pytest.raises(InvalidToken, match="rejected by the server"):
        async with Bot("654321:WRONG", base_url=tg.base_url):  # initialize() calls getMe
            pass

    [call] = tg.calls
    assert (call.method, call.failed, call.error) == ("getMe", True, "Unauthorized")


async def test_send_message_with_html_is_parsed_and_recorded(tg: FakeTelegram, bot: Bot) -> None:
    tg.private_message(USER, "hi")
    html = '<b>Özet</b> &amp; <a href="https://example.org/a?b=1&amp;c=2">kaynak</a> 😀 <i>son</i>'

    sent = await bot.send_message(
        USER, html, parse_mode="HTML", reply_markup=keyboard("src:1", "src:2")
    )

    assert sent.text == "Özet & kaynak 😀 son"
    assert sent.message_id == 2  # the user's message was 1 in this chat
    assert sent.from_user is not None and sent.from_user.id == 123456
    assert sent.parse_entity(sent.entities[0]) == "Özet"
    assert sent.entities[1].url == "https://example.org/a?b=1&c=2"
    assert sent.parse_entities([MessageEntity.ITALIC]).popitem()[1] == "son"  # after a surrogate
    assert sent.reply_markup == keyboard("src:1", "src:2")
    [params] = tg.sent_messages(USER)
    assert params["text"] == html
    assert params["parse_mode"] == "HTML"
    assert params["chat_id"] == USER
    assert params["reply_markup"]["inline_keyboard"][0][1]["callback_data"] == "src:2"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("<foo>x</foo>", 'unsupported start tag "foo" at byte offset 0'),
        ("1 < 2", 'unsupported start tag "" at byte offset 2'),
        ("a <", "unclosed start tag at byte offset 2"),
        ("<b>bold", 'can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>x</b></i>", 'expected "</i>", found "</b>"'),
        ("x</b>", "unexpected end tag at byte offset 1"),
        ('<span class="x">y</span>', 'tag "span" must have class "tg-spoiler"'),
        ("<a href=https://x.org>x</a>", "unexpected end of name token"),
        ("AT&T", "unsupported html entity at byte offset 2"),
        ("&nbsp;", "unsupported html entity at byte offset 0"),
    ],
)
async def test_invalid_html_is_rejected(tg: FakeTelegram, bot: Bot, text: str, reason: str) -> None:
    tg.private_message(USER, "hi")

    with pytest.raises(BadRequest, match="Can't parse entities") as caught:
        await bot.send_message(USER, text, parse_mode="HTML")

    assert reason in caught.value.message.lower()  # PTB capitalize()s, lowering the rest
    assert tg.sent_messages() == []
    assert tg.calls_to("sendMessage")[0].failed


def test_html_parser_accepts_everything_telegram_documents() -> None:
    text, entities = parse_html(
        "<b>b</b><strong>s</strong><i>i</i><em>e</em><u>u</u><ins>n</ins><s>s</s>"
        "<strike>k</strike><del>d</del><tg-spoiler>p</tg-spoiler>"
        '<span class="tg-spoiler">q</span><a href="tg://user?id=1">m</a>'
        '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji><code>c</code>'
        '<pre><code class="language-python">x = 1</code></pre><pre>raw</pre>'
        "<blockquote>quote</blockquote><blockquote expandable>more</blockquote>"
        "&lt;&gt;&quot;&#65;&#x42;<B>z</b >"
    )

    assert text == 'bsieunskdpqm👍cx = 1rawquotemore<>"ABz'
    kinds = [(e.type, e.language) for e in entities]
    assert ("pre", "python") in kinds
    assert ("pre", None) in kinds
    assert ("code", None) in kinds
    assert {"expandable_blockquote", "blockquote", "spoiler", "custom_emoji"} <= {
        e.type for e in entities
    }


def test_lenient_html_keeps_unknown_ampersands_like_tdlib() -> None:
    assert parse_html("AT&T &nbsp;", strict=False) == ("AT&T &nbsp;", [])
    with pytest.raises(HtmlParseError):
        parse_html("AT&T")


async def test_html_fake_can_mirror_tdlib_leniency(tg: FakeTelegram) -> None:
    tg.strict_html = False
    tg.private_message(USER, "hi")
    async with Bot(TOKEN, base_url=tg.base_url) as bot:
        sent = await bot.send_message(USER, "AT&T", parse_mode="HTML")
    assert sent.text == "AT&T"


async def test_length_is_counted_in_utf16_after_parsing(tg: FakeTelegram, bot: Bot) -> None:
    tg.private_message(USER, "hi")

    await bot.send_message(USER, f"<b>{'a' * 4096}</b>", parse_mode="HTML")  # tags don't count
    await bot.send_message(USER, "😀" * 2048)  # 4096 UTF-16 code units
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(USER, "a" * 4097)
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(USER, "😀" * 2048 + "a")
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(USER, "<b> </b>", parse_mode="HTML")


async def test_callback_data_is_limited_to_64_bytes(tg: FakeTelegram, bot: Bot) -> None:
    tg.private_message(USER, "hi")

    await bot.send_message(USER, "ok", reply_markup=keyboard("ş" * 32))  # 64 UTF-8 bytes
    with pytest.raises(BadRequest, match="Button_data_invalid"):
        await bot.send_message(USER, "no", reply_markup=keyboard("a" * 65))
    with pytest.raises(BadRequest, match="text buttons are unallowed"):
        await bot.send_message(
            USER, "no", reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("x")]])
        )


async def test_injected_429_raises_retry_after_then_recovers(
    tg: FakeTelegram, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # opt in to PTB's future timedelta API
    tg.private_message(USER, "hi")
    tg.fail_next("sendMessage", retry_after=7)

    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(USER, "first")
    await bot.send_message(USER, "second")

    assert caught.value.retry_after == dtm.timedelta(seconds=7)
    assert [(c.failed, c.params["text"]) for c in tg.calls_to("sendMessage")] == [
        (True, "first"),
        (False, "second"),
    ]
    assert [p["text"] for p in tg.sent_messages()] == ["second"]


async def test_injected_bad_request_uses_the_given_description(tg: FakeTelegram, bot: Bot) -> None:
    tg.private_message(USER, "hi")
    tg.fail_next(
        "sendMessage",
        error_code=400,
        description="Bad Request: can't parse entities: Unclosed start tag at byte offset 3",
        times=2,
    )

    for _ in range(2):
        with pytest.raises(BadRequest, match="Can't parse entities"):
            await bot.send_message(USER, "x")
    await bot.send_message(USER, "x")


async def test_get_updates_delivers_injected_updates_with_entities(
    tg: FakeTelegram, bot: Bot
) -> None:
    tg.private_message(USER, "/start@QaTestBot now", username="ayse")
    tg.group_message(GROUP, USER, "😀 @QaTestBot İstanbul nerede? /help")
    tg.sticker_message(USER)
    tg.raw_update({"some_future_update": {"x": 1}})

    updates = await bot.get_updates(timeout=0)

    assert [u.update_id for u in updates] == [1, 2, 3, 4]
    private, group, sticker, odd = updates
    assert private.message is not None and private.message.chat.type == "private"
    assert private.message.parse_entities() == {
        MessageEntity("bot_command", 0, 16): "/start@QaTestBot"
    }
    assert group.message is not None and group.message.chat.id == GROUP
    assert list(group.message.parse_entities().values()) == ["@QaTestBot", "/help"]
    assert group.message.entities[0].offset == 3  # the emoji is two UTF-16 code units
    assert sticker.message is not None and sticker.message.sticker is not None
    assert sticker.message.text is None
    assert odd.effective_message is None and odd.api_kwargs == {"some_future_update": {"x": 1}}

    assert await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0) == ()
    assert tg.pending_updates == []


async def test_long_polling_returns_as_soon_as_an_update_arrives(
    tg: FakeTelegram, bot: Bot
) -> None:
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await tg.wait_for("getUpdates")
    tg.private_message(USER, "are you there?")

    [update] = await asyncio.wait_for(poll, 2)

    assert update.message is not None and update.message.text == "are you there?"
    assert time.monotonic() - started < 2
    assert tg.calls_to("getUpdates")[0].params["timeout"] == 5


async def test_stop_releases_a_pending_long_poll(tg: FakeTelegram, bot: Bot) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await tg.wait_for("getUpdates")
    started = time.monotonic()

    await tg.stop()

    assert await asyncio.wait_for(poll, 2) == ()
    assert time.monotonic() - started < 2


async def test_get_file_downloads_an_injected_document(tg: FakeTelegram, bot: Bot) -> None:
    content = "Soru: başkent neresi?\n".encode()
    tg.document_message(USER, "soru.txt", content, caption="/ask this")

    [update] = await bot.get_updates()
    assert update.message is not None and update.message.document is not None
    assert update.message.caption_entities[0].type == "bot_command"
    file = await bot.get_file(update.message.document.file_id)
    buffer = io.BytesIO()
    await file.download_to_memory(buffer)

    assert buffer.getvalue() == content
    assert file.file_size == len(content)


async def test_send_document_accepts_a_multipart_upload(tg: FakeTelegram, bot: Bot) -> None:
    tg.group_message(GROUP, USER, "export please")

    sent = await bot.send_document(
        GROUP,
        io.BytesIO(b"a,b\n1,2\n"),
        filename="sonuç.csv",
        caption="<b>CSV</b>",
        parse_mode="HTML",
    )

    assert sent.document is not None and sent.document.file_name == "sonuç.csv"
    assert sent.caption == "CSV" and sent.caption_entities[0].type == "bold"
    [call] = tg.calls_to("sendDocument")
    assert call.params["document"].content == b"a,b\n1,2\n"
    file = await bot.get_file(sent.document.file_id)
    assert bytes(await file.download_as_bytearray()) == b"a,b\n1,2\n"


async def test_json_and_form_bodies_are_decoded_by_parameter_name(tg: FakeTelegram) -> None:
    tg.private_message(USER, "hi")
    url = f"{tg.base_url}{TOKEN}/sendMessage"
    markup = {"inline_keyboard": [[{"text": "a", "callback_data": "1"}]]}

    async with aiohttp.ClientSession() as session:
        as_json = await session.post(
            url, json={"chat_id": USER, "text": "123", "reply_markup": markup}
        )
        as_form = await session.post(
            url, data={"chat_id": str(USER), "text": "true", "disable_notification": "true"}
        )
        unknown = await session.post(f"{tg.base_url}{TOKEN}/noSuchMethod")
        case_insensitive = await session.get(f"{tg.base_url}{TOKEN}/GETME")

        assert (await as_json.json())["result"]["text"] == "123"
        assert (await as_json.json())["result"]["reply_markup"] == markup
        assert (await as_form.json())["result"]["text"] == "true"
        assert unknown.status == 404
        assert await unknown.json() == {
            "ok": False,
            "error_code": 404,
            "description": "Not Found: method not found",
        }
        assert (await case_insensitive.json())["result"]["username"] == "QaTestBot"

    first, second = tg.sent_messages()
    assert first["text"] == "123" and first["reply_markup"] == markup
    assert second == {"chat_id": USER, "text": "true", "disable_notification": True}


async def test_edit_message_text(tg: FakeTelegram, bot: Bot) -> None:
    tg.private_message(USER, "hi")
    sent = await bot.send_message(USER, "thinking…", reply_markup=keyboard("stop"))

    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text(
            "thinking…", USER, sent.message_id, reply_markup=keyboard("stop")
        )
    edited = await bot.edit_message_text("<b>answer</b>", USER, sent.message_id, parse_mode="HTML")
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("x", USER, 999)

    assert edited.text == "answer" and edited.edit_date is not None
    assert edited.reply_markup is None  # omitting reply_markup removes the keyboard
    assert [p["text"] for p in tg.sent_messages(USER)] == ["thinking…", "<b>answer</b>"]
    assert tg.bot_messages(USER)[0]["text"] == "answer"
    await bot.edit_message_reply_markup(USER, sent.message_id, reply_markup=keyboard("more"))
    assert await bot.delete_message(USER, sent.message_id) is True
    assert tg.bot_messages() == []


async def test_replies_must_target_an_existing_message(tg: FakeTelegram, bot: Bot) -> None:
    question = tg.group_message(GROUP, USER, "@QaTestBot soru?", message_thread_id=7, is_forum=True)
    asked = question["message"]["message_id"]

    answer = await bot.send_message(GROUP, "cevap", reply_to_message_id=asked, message_thread_id=7)
    with pytest.raises(BadRequest, match="Message to be replied not found"):
        await bot.send_message(GROUP, "x", reply_to_message_id=999)
    await bot.send_message(GROUP, "x", reply_to_message_id=999, allow_sending_without_reply=True)
    follow_up = tg.group_message(GROUP, USER, "neden?", reply_to_message_id=answer.message_id)

    assert answer.reply_to_message is not None
    assert answer.reply_to_message.message_id == asked
    assert answer.message_thread_id == 7 and answer.is_topic_message
    replied = follow_up["message"]["reply_to_message"]
    assert replied["from"]["id"] == 123456 and replied["text"] == "cevap"
    assert "reply_to_message" not in replied  # Telegram nests only one level


async def test_unknown_chats_are_rejected(tg: FakeTelegram, bot: Bot) -> None:
    tg.group_message(GROUP, USER, "hi")

    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(42, "x")
    with pytest.raises(Forbidden, match="can't initiate conversation"):
        await bot.send_message(USER, "x")  # the user never opened a private chat


async def test_callback_queries_are_delivered_and_answered_once(tg: FakeTelegram, bot: Bot) -> None:
    tg.private_message(USER, "hi")
    sent = await bot.send_message(USER, "pick", reply_markup=keyboard("a", "b"))
    tg.callback_query(USER, sent.to_dict(), "b")

    [_, update] = await bot.get_updates()
    query = update.callback_query

    assert query is not None and query.data == "b"
    assert query.message is not None and query.message.message_id == sent.message_id
    assert await bot.answer_callback_query(query.id, text="ok") is True
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query(query.id)


async def test_commands_are_stored_per_scope_and_language(tg: FakeTelegram, bot: Bot) -> None:
    scope = BotCommandScopeChat(USER)
    await bot.set_my_commands([BotCommand("ask", "Soru sor")], language_code="tr")
    await bot.set_my_commands([BotCommand("help", "Help")], scope=scope)

    assert await bot.get_my_commands(language_code="tr") == (BotCommand("ask", "Soru sor"),)
    assert await bot.get_my_commands(scope=scope) == (BotCommand("help", "Help"),)
    assert await bot.get_my_commands() == ()
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Ask", "x")])
    await bot.delete_my_commands(scope=scope)
    assert await bot.get_my_commands(scope=scope) == ()
    assert tg.calls_to("setMyCommands")[1].params["scope"] == {"type": "chat", "chat_id": USER}


async def test_a_webhook_blocks_get_updates(tg: FakeTelegram, bot: Bot) -> None:
    tg.private_message(USER, "hi")
    await bot.set_webhook("https://example.org/hook")

    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates()
    assert (await bot.get_webhook_info()).pending_update_count == 1
    await bot.delete_webhook(drop_pending_updates=True)
    assert await bot.get_updates() == ()


async def test_media_and_edited_updates_parse(tg: FakeTelegram, bot: Bot) -> None:
    tg.photo_message(USER, caption="bu ne?")
    tg.voice_message(USER, duration=4)
    message = tg.private_message(USER, "typo")["message"]
    tg.raw_update({"edited_message": {**message, "text": "fixed", "edit_date": message["date"]}})

    photo, voice, _, edited = await bot.get_updates()

    assert photo.message is not None and photo.message.photo and photo.message.caption == "bu ne?"
    assert voice.message is not None and voice.message.voice is not None
    assert edited.edited_message is not None and edited.edited_message.text == "fixed"
    await bot.send_chat_action(USER, "typing")
    with pytest.raises(BadRequest, match="Wrong parameter action"):
        await bot.send_chat_action(USER, "dancing")


async def test_wait_for_times_out_with_the_recorded_calls(tg: FakeTelegram, bot: Bot) -> None:
    tg.private_message(USER, "hi")
    await bot.send_message(USER, "only one")

    [call] = await tg.wait_for("sendMessage", lambda c: c.params["text"] == "only one")
    assert call.result["text"] == "only one"
    with pytest.raises(AssertionError, match=r"(?s)2 matching sendMessage.*only one"):
        await tg.wait_for("sendMessage", count=2, timeout=0.05)


async def test_updates_parse_with_update_de_json(tg: FakeTelegram, bot: Bot) -> None:
    raw = tg.private_message(USER, "merhaba @QaTestBot")

    update = Update.de_json(raw, bot)

    assert update.message is not None
    assert update.message.parse_entities() == {MessageEntity("mention", 8, 10): "@QaTestBot"}


async def test_a_polling_application_round_trip(tg: FakeTelegram) -> None:
    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        text = update.effective_message.text or ""
        await update.effective_message.reply_html(f"<b>echo</b> {html.escape(text)}")

    app = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(tg.base_url)
        .base_file_url(tg.base_file_url)
        .build()
    )
    app.add_handler(MessageHandler(filters.TEXT, echo))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0)
        tg.private_message(USER, "1 < 2 & 3")
        [reply] = await tg.wait_for("sendMessage", timeout=5)
        await app.updater.stop()
        await app.stop()

    assert not reply.failed
    assert reply.result["text"] == "echo 1 < 2 & 3"
    assert tg.pending_updates == []  # the updater confirmed the update on stop


async def test_updates_are_delivered_again_until_a_later_offset_confirms_them(
    tg: FakeTelegram, bot: Bot
) -> None:
    for text in ("one", "two", "three"):
        tg.private_message(USER, text)

    first = await bot.get_updates(timeout=0)
    again = await bot.get_updates(timeout=0)  # no offset: nothing was confirmed
    rest = await bot.get_updates(offset=first[1].update_id, timeout=0)

    assert [u.update_id for u in again] == [u.update_id for u in first] == [1, 2, 3]
    assert [u.update_id for u in rest] == [2, 3]  # only the update below the offset is gone
    assert [u["update_id"] for u in tg.pending_updates] == [2, 3]
    assert await bot.get_updates(offset=-1, timeout=0) == (rest[-1],)  # the last one only
    assert await bot.get_updates(offset=4, timeout=0) == ()
    assert tg.pending_updates == []


async def test_flood_limits_answer_429_beyond_telegrams_budgets() -> None:
    async with (
        FakeTelegram(token=TOKEN, flood_limits=True) as tg,
        Bot(TOKEN, base_url=tg.base_url, request=HTTPXRequest(connection_pool_size=64)) as client,
    ):
        tg.group_message(GROUP, USER, "hi")
        for _ in range(20):
            await client.send_message(GROUP, "x")
        with pytest.raises(RetryAfter, match="Retry in 3 seconds"):  # 20 per minute
            await client.send_message(GROUP, "x")
        tg.private_message(USER, "hi")
        for _ in range(5):  # a short burst passes
            await client.send_message(USER, "x")
        with pytest.raises(RetryAfter, match="Retry in 1 seconds"):
            await client.send_message(USER, "x")
        users = range(USER + 1, USER + 61)
        for user in users:
            tg.private_message(user, "hi")
        sent = await asyncio.gather(
            *(client.send_message(user, "x") for user in users), return_exceptions=True
        )

    refused = [result for result in sent if isinstance(result, RetryAfter)]
    assert 0 < len(refused) < len(users)  # about 30 per second overall
    assert len([call for call in tg.calls if call.failed]) == 2 + len(refused)


async def test_flood_limits_are_off_by_default(tg: FakeTelegram, bot: Bot) -> None:
    tg.group_message(GROUP, USER, "hi")

    for _ in range(25):
        await bot.send_message(GROUP, "x")

    assert not [call for call in tg.calls if call.failed]


async def test_a_delayed_response_times_out_after_the_call_took_effect(
    tg: FakeTelegram, bot: Bot
) -> None:
    tg.private_message(USER, "hi")
    tg.delay_next("sendMessage", 2)

    with pytest.raises(TimedOut):
        await bot.send_message(USER, "sent anyway", read_timeout=0.5)
    await bot.send_message(USER, "on time", read_timeout=0.5)

    assert [m["text"] for m in tg.bot_messages(USER)] == ["sent anyway", "on time"]


async def test_a_button_of_an_inline_message_is_pressed_without_a_message(
    tg: FakeTelegram, bot: Bot
) -> None:
    raw = tg.callback_query(USER, None, "vote:x:up")

    [update] = await bot.get_updates(timeout=0)
    query = update.callback_query

    assert raw["callback_query"]["inline_message_id"]
    assert query is not None and query.message is None and query.data == "vote:x:up"
    assert await query.answer()
