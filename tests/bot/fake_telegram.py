"""A local fake of the Telegram Bot API for end-to-end tests.

The bot under test keeps its real python-telegram-bot (PTB) client and talks to this server over
real HTTP on 127.0.0.1, so request encoding, error mapping and retries are exercised exactly as in
production. Responses are built with PTB's own classes (``to_dict()``) so they always match the
installed PTB version, and the validation errors mirror what the real Bot API returns.

PTB encodes every request as ``application/x-www-form-urlencoded`` (``multipart/form-data`` when
a file is uploaded), and every value is a *string*: plain strings are sent as-is and everything
else is ``json.dumps``-ed. ``text="true"`` and ``disable_notification=True`` are therefore both
sent as ``true`` on the wire, so parameters are decoded by their *name*, never by their shape.
"""

import asyncio
import datetime as dtm
import itertools
import json
import math
import re
import string
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import PurePosixPath
from types import TracebackType
from typing import Any, Self

from aiohttp import web
from telegram import (
    BotCommand,
    CallbackQuery,
    Chat,
    Document,
    File,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    PhotoSize,
    Sticker,
    Update,
    User,
    Voice,
    WebhookInfo,
)

JSONDict = dict[str, Any]

# Parameters whose wire value is a JSON document (PTB json.dumps-es them into a form field).
_JSON_PARAMS = frozenset(
    {
        "allowed_updates",
        "caption_entities",
        "commands",
        "entities",
        "link_preview_options",
        "media",
        "message_ids",
        "reply_markup",
        "reply_parameters",
        "scope",
    }
)
_INT_PARAMS = frozenset(
    {
        "chat_id",
        "direct_messages_topic_id",
        "from_chat_id",
        "limit",
        "max_connections",
        "message_id",
        "message_thread_id",
        "offset",
        "reply_to_message_id",
        "timeout",
        "user_id",
    }
)
_BOOL_PARAMS = frozenset(
    {
        "allow_paid_broadcast",
        "allow_sending_without_reply",
        "disable_content_type_detection",
        "disable_notification",
        "disable_web_page_preview",
        "drop_pending_updates",
        "protect_content",
        "show_alert",
    }
)
_INT_RE = re.compile(r"-?\d+")
_HEX_DIGITS_RE = re.compile(r"[0-9a-fA-F]{1,8}")
_DEC_DIGITS_RE = re.compile(r"[0-9]{1,8}")
_ENTITY_NAME_RE = re.compile(r"[A-Za-z]+")
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HTML_SPACE = " \t\r\n\v\f"
_NAME_TOKEN_CHARS = string.ascii_letters + string.digits + ".-"

_MAX_TEXT_LENGTH = 4096
_MAX_CAPTION_LENGTH = 1024
_MAX_CALLBACK_DATA_BYTES = 64
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_BUTTON_ACTIONS = frozenset(
    {
        "url",
        "callback_data",
        "web_app",
        "login_url",
        "switch_inline_query",
        "switch_inline_query_current_chat",
        "switch_inline_query_chosen_chat",
        "copy_text",
        "callback_game",
        "pay",
    }
)
_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)

# Auto-detected entities, after tdlib's match_bot_commands / match_mentions.
_BOT_COMMAND_RE = re.compile(r"(?<![\w/<>])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/<>])")
_MENTION_RE = re.compile(r"(?<!\w)@[A-Za-z0-9_]{2,32}(?!\w)")


class ApiError(Exception):
    """A Bot API error reply; raised by method handlers and turned into the JSON error body."""

    def __init__(self, error_code: int, description: str, retry_after: int | None = None):
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.retry_after = retry_after


class HtmlParseError(ValueError):
    """Telegram's own wording for why an HTML text was rejected (without the API prefix)."""


@dataclass
class Call:
    """One request the bot made; kept even when it failed so tests can assert on retries."""

    method: str
    params: JSONDict
    at: float  # time.monotonic() when the request arrived
    failed: bool = False
    error: str | None = None
    result: Any = None


@dataclass(frozen=True)
class UploadedFile:
    """A multipart file part, recorded in Call.params in place of the raw bytes stream."""

    filename: str | None
    content_type: str
    content: bytes


@dataclass(frozen=True)
class _StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    content: bytes


@dataclass
class _Failure:
    error_code: int
    description: str
    retry_after: int | None


# What Telegram's flood control counts: the bot's output to chats.
_FLOOD_METHODS = frozenset(
    {"sendMessage", "sendDocument", "sendChatAction", "editMessageText", "editMessageReplyMarkup"}
)


@dataclass
class _Bucket:
    """A flood budget: `capacity` requests at once, refilled at `rate` per second."""

    capacity: float
    rate: float
    tokens: float
    updated: float

    def wait(self, now: float) -> float:
        """Seconds until a request fits (0: now)."""
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate


class _FloodControl:
    """Telegram's documented limits: about 30 messages per second overall, 20 per minute in
    a group, and one per second in a private chat (a soft limit: short bursts pass)."""

    OVERALL = (30, 30.0)  # (burst, per second)
    GROUP = (20, 20 / 60)
    PRIVATE = (5, 1.0)

    def __init__(self) -> None:
        self._overall = self._bucket(self.OVERALL)
        self._chats: dict[int | str, _Bucket] = {}

    def admit(self, chat_id: int | str | None) -> None:
        """Count one request to `chat_id`, or raise a 429 saying how long to wait."""
        now = time.monotonic()
        buckets = [self._overall]
        if chat_id is not None:
            limits = self.PRIVATE if isinstance(chat_id, int) and chat_id > 0 else self.GROUP
            buckets.append(self._chats.setdefault(chat_id, self._bucket(limits)))
        wait = max(bucket.wait(now) for bucket in buckets)
        if wait:
            retry_after = max(1, math.ceil(wait))
            raise ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)
        for bucket in buckets:
            bucket.tokens -= 1

    @staticmethod
    def _bucket(limits: tuple[float, float]) -> _Bucket:
        burst, rate = limits
        return _Bucket(burst, rate, burst, time.monotonic())


class _Signal:
    """Wakes all waiters on every notify(); lets synchronous code wake async waiters."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait until predicate() holds or timeout passes; return the final predicate value."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            event = self._event
            try:
                async with asyncio.timeout(remaining):
                    await event.wait()
            except TimeoutError:
                return predicate()
        return True


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's limits and entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def _decode_char_ref(source: str, pos: int) -> tuple[str, int] | None:
    """Decode the HTML entity at source[pos] ('&') as tdlib does; None if it is not one."""
    end = pos + 1
    if source.startswith("#x", end):
        digits = _HEX_DIGITS_RE.match(source, end + 2)
        base = 16
    elif source.startswith("#", end):
        digits = _DEC_DIGITS_RE.match(source, end + 1)
        base = 10
    else:
        name = _ENTITY_NAME_RE.match(source, end)
        char = _NAMED_ENTITIES.get(name.group()) if name else None
        if name is None or char is None:
            return None
        end = name.end()
        return char, end + source.startswith(";", end)
    if digits is None:
        return None
    code = int(digits.group(), base)
    if code == 0 or code >= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    end = digits.end()
    return chr(code), end + source.startswith(";", end)


@dataclass
class _OpenTag:
    name: str
    argument: str
    expandable: bool
    utf16_offset: int
    text_index: int


_SIMPLE_TAG_ENTITIES = {
    "b": MessageEntity.BOLD,
    "strong": MessageEntity.BOLD,
    "i": MessageEntity.ITALIC,
    "em": MessageEntity.ITALIC,
    "u": MessageEntity.UNDERLINE,
    "ins": MessageEntity.UNDERLINE,
    "s": MessageEntity.STRIKETHROUGH,
    "strike": MessageEntity.STRIKETHROUGH,
    "del": MessageEntity.STRIKETHROUGH,
    "tg-spoiler": MessageEntity.SPOILER,
    "span": MessageEntity.SPOILER,
}
_HTML_TAGS = frozenset({*_SIMPLE_TAG_ENTITIES, "a", "code", "pre", "blockquote", "tg-emoji"})


class _HtmlParser:
    """Telegram's parse_mode=HTML, ported from tdlib's parse_html (same checks, same messages).

    With strict=True a '&' that does not start one of the supported entities is rejected too;
    tdlib keeps such a '&' literally, but the Bot API documentation requires escaping it.
    """

    def __init__(self, source: str, *, strict: bool) -> None:
        self.source = source
        self.strict = strict
        self.pos = 0
        self.text: list[str] = []
        self.utf16_offset = 0
        self.entities: list[JSONDict] = []
        self.open_tags: list[_OpenTag] = []

    def parse(self) -> tuple[str, list[MessageEntity]]:
        source = self.source
        while self.pos < len(source):
            char = source[self.pos]
            if char == "&":
                decoded = _decode_char_ref(source, self.pos)
                if decoded is not None:
                    self._emit(decoded[0])
                    self.pos = decoded[1]
                    continue
                if self.strict:
                    raise HtmlParseError(
                        f"Unsupported HTML entity at byte offset {self._byte(self.pos)}; "
                        "a literal '&' must be written as &amp;"
                    )
            if char != "<":
                self._emit(char)
                self.pos += 1
            elif source.startswith("/", self.pos + 1):
                self._end_tag()
            else:
                self._start_tag()
        if self.open_tags:
            name = self.open_tags[-1].name
            raise HtmlParseError(f'Can\'t find end tag corresponding to start tag "{name}"')
        for entity in self.entities:
            entity.pop("argument", None)
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.text), [MessageEntity(**entity) for entity in self.entities]

    def _emit(self, char: str) -> None:
        self.text.append(char)
        self.utf16_offset += utf16_len(char)

    def _byte(self, pos: int) -> int:
        """tdlib reports positions as UTF-8 byte offsets into the original text."""
        return len(self.source[:pos].encode())

    def _at(self, chars: str) -> bool:
        return self.pos < len(self.source) and self.source[self.pos] in chars

    def _skip_spaces(self) -> None:
        while self._at(_HTML_SPACE):
            self.pos += 1

    def _skip_until(self, stops: str) -> None:
        while self.pos < len(self.source) and not self._at(stops):
            self.pos += 1

    def _start_tag(self) -> None:
        source, begin = self.source, self.pos
        self.pos += 1
        self._skip_until(_HTML_SPACE + ">")
        if self.pos >= len(source):
            raise HtmlParseError(f"Unclosed start tag at byte offset {self._byte(begin)}")
        name = source[begin + 1 : self.pos].lower()
        if name not in _HTML_TAGS:
            raise HtmlParseError(
                f'Unsupported start tag "{name}" at byte offset {self._byte(begin)}'
            )
        argument, expandable = "", False
        while not self._at(">"):
            self._skip_spaces()
            if self.pos >= len(source):
                raise HtmlParseError(f"Unclosed start tag at byte offset {self._byte(begin)}")
            if self._at(">"):
                break
            attr_begin = self.pos
            self._skip_until(_HTML_SPACE + "=>")
            attr_name = source[attr_begin : self.pos]
            if not attr_name:
                raise HtmlParseError(
                    f'Empty attribute name in the tag "{name}" at byte offset {self._byte(begin)}'
                )
            self._skip_spaces()
            if not self._at("="):
                if name == "blockquote" and attr_name == "expandable":
                    expandable = True
                    continue
                raise HtmlParseError(
                    "Expected equal sign in declaration of an attribute of the tag "
                    f'"{name}" at byte offset {self._byte(begin)}'
                )
            self.pos += 1
            self._skip_spaces()
            if self.pos >= len(source):
                raise HtmlParseError(
                    f'Unclosed start tag "{name}" at byte offset {self._byte(begin)}'
                )
            value = self._attribute_value()
            if self.pos >= len(source):
                raise HtmlParseError(f"Unclosed start tag at byte offset {self._byte(begin)}")
            if (name, attr_name) in (("a", "href"), ("tg-emoji", "emoji-id")):
                argument = value
            elif name == "code" and attr_name == "class" and value.startswith("language-"):
                argument = value.removeprefix("language-")
            elif name == "span" and attr_name == "class" and value.startswith("tg-"):
                argument = value.removeprefix("tg-")
        self.pos += 1  # the '>'
        if name == "span" and argument != "spoiler":
            raise HtmlParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {self._byte(begin)}'
            )
        self.open_tags.append(
            _OpenTag(name, argument, expandable, self.utf16_offset, len(self.text))
        )

    def _attribute_value(self) -> str:
        source = self.source
        if not self._at("'\""):
            token_begin = self.pos
            while self._at(_NAME_TOKEN_CHARS):
                self.pos += 1
            if self.pos < len(source) and not self._at(_HTML_SPACE + ">"):
                raise HtmlParseError(
                    f"Unexpected end of name token at byte offset {self._byte(token_begin)}"
                )
            return source[token_begin : self.pos].lower()
        quote = source[self.pos]
        self.pos += 1
        value: list[str] = []
        while self.pos < len(source) and source[self.pos] != quote:
            decoded = _decode_char_ref(source, self.pos) if self._at("&") else None
            if decoded is None:
                value.append(source[self.pos])
                self.pos += 1
            else:
                value.append(decoded[0])
                self.pos = decoded[1]
        if self.pos < len(source):
            self.pos += 1  # the closing quote
        return "".join(value)

    def _end_tag(self) -> None:
        source, begin = self.source, self.pos
        if not self.open_tags:
            raise HtmlParseError(f"Unexpected end tag at byte offset {self._byte(begin)}")
        self.pos += 2
        self._skip_until(_HTML_SPACE + ">")
        end_name = source[begin + 2 : self.pos].lower()
        self._skip_spaces()
        if not self._at(">"):
            raise HtmlParseError(f"Unclosed end tag at byte offset {self._byte(begin)}")
        self.pos += 1
        tag = self.open_tags.pop()
        if end_name and end_name != tag.name:
            raise HtmlParseError(
                f"Unmatched end tag at byte offset {self._byte(begin)}, "
                f'expected "</{tag.name}>", found "</{end_name}>"'
            )
        if self.utf16_offset > tag.utf16_offset:
            self._add_entity(tag)

    def _add_entity(self, tag: _OpenTag) -> None:
        span = {"offset": tag.utf16_offset, "length": self.utf16_offset - tag.utf16_offset}
        last = self.entities[-1] if self.entities else {}
        same_span = all(last.get(key) == value for key, value in span.items())
        if tag.name in _SIMPLE_TAG_ENTITIES:
            self.entities.append({"type": _SIMPLE_TAG_ENTITIES[tag.name], **span})
        elif tag.name == "a":
            url = tag.argument or "".join(self.text[tag.text_index :])
            self.entities.append({"type": MessageEntity.TEXT_LINK, **span, "url": url})
        elif tag.name == "tg-emoji":
            if not tag.argument.isdigit() or int(tag.argument) == 0:
                raise HtmlParseError("Invalid custom emoji identifier specified")
            emoji = {"type": MessageEntity.CUSTOM_EMOJI, **span, "custom_emoji_id": tag.argument}
            self.entities.append(emoji)
        elif tag.name == "blockquote":
            quote = {"type": MessageEntity.BLOCKQUOTE, **span}
            if tag.expandable:
                quote["type"] = MessageEntity.EXPANDABLE_BLOCKQUOTE
            self.entities.append(quote)
        elif tag.name == "pre":
            # <pre><code class="language-x">...</code></pre> is one pre entity with a language.
            if same_span and last["type"] == MessageEntity.CODE and last["argument"]:
                last.update(type=MessageEntity.PRE, language=last["argument"])
            else:
                self.entities.append({"type": MessageEntity.PRE, **span})
        elif same_span and last["type"] == MessageEntity.PRE and tag.argument:  # <code> in <pre>
            last["language"] = tag.argument
        else:  # <code>; its language only counts inside <pre>
            self.entities.append({"type": MessageEntity.CODE, **span, "argument": tag.argument})


def parse_html(source: str, *, strict: bool = True) -> tuple[str, list[MessageEntity]]:
    """Return the visible text and entities of a parse_mode=HTML text, or raise HtmlParseError."""
    return _HtmlParser(source, strict=strict).parse()


def detect_entities(text: str) -> list[MessageEntity]:
    """The bot_command and mention entities Telegram's clients attach to a typed message."""
    commands = [m.span() for m in _BOT_COMMAND_RE.finditer(text)]
    mentions = [
        m.span()
        for m in _MENTION_RE.finditer(text)
        if not any(start <= m.start() < end for start, end in commands)
    ]
    spans = [(span, MessageEntity.BOT_COMMAND) for span in commands]
    spans += [(span, MessageEntity.MENTION) for span in mentions]
    return [
        MessageEntity(kind, utf16_len(text[:start]), utf16_len(text[start:end]))
        for (start, end), kind in sorted(spans)
    ]


def _decode_param(name: str, value: Any) -> Any:
    """Undo PTB's per-field string encoding, by parameter name (see the module docstring)."""
    if not isinstance(value, str):
        return value
    if name in _JSON_PARAMS:
        try:
            return json.loads(value)
        except ValueError:
            raise ApiError(400, f"Bad Request: can't parse {name} JSON object") from None
    if name in _INT_PARAMS and _INT_RE.fullmatch(value):
        return int(value)
    if name in _BOOL_PARAMS:
        return value.lower() in ("true", "1")
    return value


def _error_body(error_code: int, description: str, retry_after: int | None = None) -> JSONDict:
    body: JSONDict = {"ok": False, "error_code": error_code, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return body


def _error_response(error: ApiError) -> web.Response:
    body = _error_body(error.error_code, error.description, error.retry_after)
    return web.json_response(body, status=error.error_code)


def _without_reply(message: JSONDict) -> JSONDict:
    """Telegram never nests reply_to_message more than one level deep."""
    return {key: value for key, value in message.items() if key != "reply_to_message"}


Handler = Callable[[JSONDict], Awaitable[Any]]


class FakeTelegram:
    """An in-process Bot API server for one bot token; see the module docstring."""

    def __init__(
        self,
        token: str = "123456:TEST-TOKEN",
        *,
        bot_id: int | None = None,
        bot_username: str = "QaTestBot",
        first_name: str = "QA Test Bot",
        strict_html: bool = True,
        flood_limits: bool = False,
    ) -> None:
        """`flood_limits`: answer 429 with retry_after, as Telegram does, to sends beyond its
        flood limits (see _FloodControl)."""
        self.token = token
        self.strict_html = strict_html
        self._flood = _FloodControl() if flood_limits else None
        if bot_id is None:  # a real bot's id is the numeric prefix of its token
            prefix = token.partition(":")[0]
            if not prefix.isdigit():
                raise ValueError(f"token {token!r} has no numeric bot id prefix; pass bot_id")
            bot_id = int(prefix)
        self.bot_user = User(id=bot_id, is_bot=True, first_name=first_name, username=bot_username)
        self.calls: list[Call] = []
        self._calls_changed = _Signal()
        self._updates_changed = _Signal()
        self._pending_updates: list[JSONDict] = []
        self._update_ids = itertools.count(1)
        self._ids = itertools.count(1)
        self._users: dict[int, User] = {}
        self._chats: dict[int, Chat] = {}
        self._messages: dict[tuple[int, int], JSONDict] = {}
        self._last_message_id: dict[int, int] = {}
        self._files: dict[str, _StoredFile] = {}
        self._commands: dict[tuple[str, str], list[JSONDict]] = {}
        self._open_callback_queries: set[str] = set()
        self._webhook_url = ""
        self._failures: dict[str, list[_Failure]] = {}
        self._delays: dict[str, list[float]] = {}
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._handlers: dict[str, Handler] = {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "sendChatAction": self._send_chat_action,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "answerCallbackQuery": self._answer_callback_query,
            "getFile": self._get_file,
            "sendDocument": self._send_document,
            "close": self._return_true,
            "logOut": self._return_true,
        }
        # Bot API method names are case-insensitive.
        self._method_names = {name.lower(): name for name in self._handlers}

    # ----------------------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1."""
        app = web.Application(client_max_size=50 * 1024 * 1024)  # the Bot API upload limit
        app.router.add_route("GET", "/bot{token}/{method}", self._handle_api)
        app.router.add_route("POST", "/bot{token}/{method}", self._handle_api)
        app.router.add_route("GET", "/file/bot{token}/{file_path:.*}", self._handle_file)
        self._closing = False
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self._port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        """Release pending long polls first so shutdown does not wait for their timeout."""
        self._closing = True
        self._updates_changed.notify()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """Pass as ``base_url`` to telegram.Bot / ApplicationBuilder (PTB appends the token)."""
        return f"http://127.0.0.1:{self._require_port()}/bot"

    @property
    def base_file_url(self) -> str:
        """Pass as ``base_file_url`` to telegram.Bot / ApplicationBuilder."""
        return f"http://127.0.0.1:{self._require_port()}/file/bot"

    def _require_port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeTelegram is not started")
        return self._port

    # ---------------------------------------------------------------------- test inspection

    def calls_to(self, method: str) -> list[Call]:
        """All recorded calls of one method, failed ones included, in arrival order."""
        return [call for call in self.calls if call.method == method]

    async def wait_for(
        self,
        method: str,
        predicate: Callable[[Call], bool] | None = None,
        timeout: float = 10.0,
        count: int = 1,
    ) -> list[Call]:
        """Wait until ``count`` calls of ``method`` matching ``predicate`` were recorded.

        Failed calls count too (check ``call.failed`` in the predicate to exclude them).
        Returns every matching call; raises AssertionError listing all calls on timeout.
        """

        def matching() -> list[Call]:
            return [call for call in self.calls_to(method) if predicate is None or predicate(call)]

        if await self._calls_changed.wait_until(lambda: len(matching()) >= count, timeout):
            return matching()
        recorded = "\n".join(
            f"  {call.method}{' FAILED (' + str(call.error) + ')' if call.failed else ''} "
            f"{call.params!r:.300}"
            for call in self.calls
        )
        raise AssertionError(
            f"timed out after {timeout}s waiting for {count} matching {method} call(s), "
            f"got {len(matching())}; recorded calls:\n{recorded or '  (none)'}"
        )

    def sent_messages(self, chat_id: int | str | None = None) -> list[JSONDict]:
        """Params of the successful sendMessage/editMessageText calls, in order."""
        return [
            call.params
            for call in self.calls
            if call.method in ("sendMessage", "editMessageText")
            and not call.failed
            and (chat_id is None or call.params.get("chat_id") == chat_id)
        ]

    def bot_messages(self, chat_id: int | None = None) -> list[JSONDict]:
        """Current state (after edits, without deleted ones) of the messages the bot sent."""
        return [
            message
            for (message_chat_id, _), message in self._messages.items()
            if message.get("from", {}).get("id") == self.bot_user.id
            and (chat_id is None or message_chat_id == chat_id)
        ]

    @property
    def pending_updates(self) -> list[JSONDict]:
        """Updates queued and not yet confirmed by a getUpdates offset."""
        return list(self._pending_updates)

    def fail_next(
        self,
        method: str,
        *,
        error_code: int = 429,
        description: str | None = None,
        retry_after: int | None = 1,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail with this Bot API error.

        ``parameters.retry_after`` is only sent for 429 (PTB turns any response carrying it
        into RetryAfter); the default description follows Telegram's wording.
        """
        if error_code != 429:
            retry_after = None
        if description is None:
            description = (
                f"Too Many Requests: retry after {retry_after}"
                if error_code == 429
                else HTTPStatus(error_code).phrase
            )
        failure = _Failure(error_code, description, retry_after)
        self._failures.setdefault(method.lower(), []).extend([failure] * times)

    def delay_next(self, method: str, seconds: float, *, times: int = 1) -> None:
        """Handle the next ``times`` calls of ``method`` at once but send the response only
        ``seconds`` later, as a slow Telegram does: a client that gives up first never learns
        that the call (e.g. a message sent) took effect."""
        self._delays.setdefault(method.lower(), []).extend([seconds] * times)

    # ----------------------------------------------------------------------- update injection

    def private_message(
        self,
        user_id: int,
        text: str,
        *,
        first_name: str = "Ayşe",
        username: str | None = None,
        entities: Iterable[MessageEntity] | None = None,
    ) -> JSONDict:
        """Queue a text message a user sent to the bot in their private chat."""
        user = self._remember_user(user_id, first_name, username)
        chat = self._private_chat(user)
        return self._inject_message(chat, user, **self._text_content(text, entities))

    def group_message(
        self,
        chat_id: int,
        user_id: int,
        text: str,
        *,
        chat_type: str = Chat.SUPERGROUP,
        title: str = "Test group",
        reply_to_message_id: int | None = None,
        message_thread_id: int | None = None,
        is_forum: bool = False,
        entities: Iterable[MessageEntity] | None = None,
        first_name: str = "Ayşe",
        username: str | None = None,
    ) -> JSONDict:
        """Queue a group message; reply_to_message_id must name a stored message of the chat."""
        user = self._remember_user(user_id, first_name, username)
        chat = Chat(id=chat_id, type=chat_type, title=title, is_forum=is_forum or None)
        self._chats[chat_id] = chat
        reply_to = None
        if reply_to_message_id is not None:
            reply_to = self._messages.get((chat_id, reply_to_message_id))
            if reply_to is None:
                raise ValueError(f"no message {reply_to_message_id} in chat {chat_id} to reply to")
        return self._inject_message(
            chat,
            user,
            reply_to=reply_to,
            thread_id=message_thread_id,
            **self._text_content(text, entities),
        )

    def callback_query(
        self, user_id: int, message: JSONDict | tuple[int, int] | None, data: str | None
    ) -> JSONDict:
        """Queue a press on an inline button of ``message`` (a Message dict or (chat, id));
        ``message=None``: a button of an inline-mode message, which the update does not carry."""
        query_id = str(next(self._ids))
        if message is None:
            shown: JSONDict = {"inline_message_id": f"inline-{query_id}"}
            chat_instance = "instance-inline"
        else:
            chat_id, message_id = (
                (message["chat"]["id"], message["message_id"])
                if isinstance(message, dict)
                else message
            )
            stored = self._messages.get((chat_id, message_id))
            if stored is None:
                raise ValueError(f"no message {message_id} in chat {chat_id}")
            shown = {"message": Message.de_json(stored, None)}
            chat_instance = f"instance-{chat_id}"
        self._open_callback_queries.add(query_id)
        query = CallbackQuery(
            id=query_id,
            from_user=self._remember_user(user_id),
            chat_instance=chat_instance,
            data=data,
            **shown,
        )
        return self._queue(Update(update_id=next(self._update_ids), callback_query=query))

    def document_message(
        self,
        user_id: int,
        file_name: str,
        content: bytes,
        *,
        mime_type: str = "text/plain",
        chat_id: int | None = None,
        caption: str | None = None,
    ) -> JSONDict:
        """Queue a document upload; its bytes are then served by getFile + the file route."""
        stored = self._store_file(content, "documents", PurePosixPath(file_name).suffix)
        document = Document(
            stored.file_id,
            stored.file_unique_id,
            file_name=file_name,
            mime_type=mime_type,
            file_size=len(content),
        )
        return self._inject_media(user_id, chat_id, caption, document=document)

    def photo_message(
        self,
        user_id: int,
        *,
        content: bytes = b"\xff\xd8\xff\xe0 fake jpeg",
        caption: str | None = None,
        chat_id: int | None = None,
    ) -> JSONDict:
        """Queue a photo (one size) without text."""
        stored = self._store_file(content, "photos", ".jpg")
        size = PhotoSize(
            stored.file_id, stored.file_unique_id, width=90, height=90, file_size=len(content)
        )
        return self._inject_media(user_id, chat_id, caption, photo=(size,))

    def sticker_message(
        self, user_id: int, *, emoji: str = "👍", chat_id: int | None = None
    ) -> JSONDict:
        """Queue a regular static sticker."""
        stored = self._store_file(b"RIFF fake webp", "stickers", ".webp")
        sticker = Sticker(
            stored.file_id,
            stored.file_unique_id,
            width=512,
            height=512,
            is_animated=False,
            is_video=False,
            type=Sticker.REGULAR,
            emoji=emoji,
        )
        return self._inject_media(user_id, chat_id, None, sticker=sticker)

    def voice_message(
        self,
        user_id: int,
        *,
        duration: int = 3,
        content: bytes = b"OggS fake opus",
        chat_id: int | None = None,
    ) -> JSONDict:
        """Queue a voice note."""
        stored = self._store_file(content, "voice", ".oga")
        voice = Voice(
            stored.file_id,
            stored.file_unique_id,
            duration=duration,
            mime_type="audio/ogg",
            file_size=len(content),
        )
        return self._inject_media(user_id, chat_id, None, voice=voice)

    def raw_update(self, update: JSONDict) -> JSONDict:
        """Queue an update verbatim (update_id is assigned when missing)."""
        update = dict(update)
        update.setdefault("update_id", next(self._update_ids))
        self._pending_updates.append(update)
        self._updates_changed.notify()
        return update

    def _remember_user(
        self, user_id: int, first_name: str | None = None, username: str | None = None
    ) -> User:
        known = self._users.get(user_id)
        if known is not None and first_name is None:
            return known
        user = User(id=user_id, is_bot=False, first_name=first_name or "Ayşe", username=username)
        self._users[user_id] = user
        return user

    def _private_chat(self, user: User) -> Chat:
        chat = Chat(
            id=user.id, type=Chat.PRIVATE, first_name=user.first_name, username=user.username
        )
        self._chats[user.id] = chat
        return chat

    @staticmethod
    def _text_content(text: str, entities: Iterable[MessageEntity] | None) -> JSONDict:
        found = detect_entities(text) if entities is None else list(entities)
        return {"text": text, "entities": found or None}

    def _inject_media(
        self, user_id: int, chat_id: int | None, caption: str | None, **media: Any
    ) -> JSONDict:
        user = self._remember_user(user_id)
        if chat_id is None or chat_id == user_id:
            chat = self._private_chat(user)
        else:
            chat = self._chats.setdefault(
                chat_id, Chat(id=chat_id, type=Chat.SUPERGROUP, title="Test group")
            )
        if caption is not None:
            media.update(caption=caption, caption_entities=detect_entities(caption) or None)
        return self._inject_message(chat, user, **media)

    def _inject_message(self, chat: Chat, user: User, **content: Any) -> JSONDict:
        message = Message.de_json(self._new_message(chat, user, **content), None)
        return self._queue(Update(update_id=next(self._update_ids), message=message))

    def _queue(self, update: Update) -> JSONDict:
        data = update.to_dict()
        self._pending_updates.append(data)
        self._updates_changed.notify()
        return data

    def _new_message(
        self,
        chat: Chat,
        sender: User,
        *,
        reply_to: JSONDict | None = None,
        thread_id: int | None = None,
        **content: Any,
    ) -> JSONDict:
        """Create, store and return a Message dict with the chat's next message_id."""
        message_id = self._last_message_id.get(chat.id, 0) + 1
        self._last_message_id[chat.id] = message_id
        message = Message(
            message_id=message_id,
            date=dtm.datetime.now(dtm.UTC).replace(microsecond=0),
            chat=chat,
            from_user=sender,
            reply_to_message=Message.de_json(_without_reply(reply_to), None) if reply_to else None,
            message_thread_id=thread_id,
            is_topic_message=True if thread_id is not None and chat.is_forum else None,
            **content,
        ).to_dict()
        self._messages[(chat.id, message_id)] = message
        return message

    def _store_file(self, content: bytes, folder: str, suffix: str) -> _StoredFile:
        number = next(self._ids)
        stored = _StoredFile(
            file_id=f"fake-file-{number}",
            file_unique_id=f"fake-unique-{number}",
            file_path=f"{folder}/file_{number}{suffix}",
            content=content,
        )
        self._files[stored.file_id] = stored
        return stored

    # --------------------------------------------------------------------------- HTTP layer

    async def _handle_api(self, request: web.Request) -> web.Response:
        """Record the call, then answer it (the bot's requests all pass through here)."""
        raw_method = request.match_info["method"]
        method = self._method_names.get(raw_method.lower(), raw_method)
        arrived = time.monotonic()
        try:
            if request.match_info["token"] != self.token:
                raise ApiError(401, "Unauthorized")
            params = await self._read_params(request)
        except ApiError as error:
            self._record(Call(method, {}, arrived, failed=True, error=error.description))
            return _error_response(error)
        except ConnectionResetError:  # the client gave up while sending (a cancelled request)
            self._record(Call(method, {}, arrived, failed=True, error="client went away"))
            return web.Response(status=499)
        # From here on only getUpdates awaits, so waiters never see a half-handled call
        # (an in-flight long poll is visible, which lets tests wait for "the bot polls").
        call = Call(method, params, arrived)
        self._record(call)
        try:
            handler = self._handlers.get(method)
            if handler is None:
                raise ApiError(404, "Not Found: method not found")
            failures = self._failures.get(method.lower())
            if failures:
                failure = failures.pop(0)
                raise ApiError(failure.error_code, failure.description, failure.retry_after)
            if self._flood is not None and method in _FLOOD_METHODS:
                self._flood.admit(params.get("chat_id"))
            call.result = await handler(params)
        except ApiError as error:
            call.failed, call.error = True, error.description
            self._calls_changed.notify()
            return _error_response(error)
        self._calls_changed.notify()
        if delays := self._delays.get(method.lower()):
            await asyncio.sleep(delays.pop(0))
        return web.json_response({"ok": True, "result": call.result})

    def _record(self, call: Call) -> None:
        self.calls.append(call)
        self._calls_changed.notify()

    async def _read_params(self, request: web.Request) -> JSONDict:
        raw: JSONDict = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    raise ApiError(400, "Bad Request: can't parse JSON request body") from None
                if not isinstance(body, dict):
                    raise ApiError(400, "Bad Request: JSON request body must be an object")
                raw.update(body)
            else:
                for name, value in (await request.post()).items():
                    raw[name] = (
                        UploadedFile(value.filename, value.content_type, value.file.read())
                        if isinstance(value, web.FileField)
                        else value
                    )
        return {name: _decode_param(name, value) for name, value in raw.items()}

    async def _handle_file(self, request: web.Request) -> web.Response:
        path = request.match_info["file_path"]
        stored = next((f for f in self._files.values() if f.file_path == path), None)
        if request.match_info["token"] != self.token or stored is None:
            return web.json_response(_error_body(404, "Not Found"), status=404)
        return web.Response(body=stored.content, content_type="application/octet-stream")

    # ------------------------------------------------------------------------ API methods

    async def _return_true(self, params: JSONDict) -> bool:
        return True

    async def _get_me(self, params: JSONDict) -> JSONDict:
        me = User(
            id=self.bot_user.id,
            is_bot=True,
            first_name=self.bot_user.first_name,
            username=self.bot_user.username,
            can_join_groups=True,
            can_read_all_group_messages=False,
            supports_inline_queries=False,
        )
        return me.to_dict()

    async def _get_updates(self, params: JSONDict) -> list[JSONDict]:
        if self._webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = params.get("offset", 0)
        if offset < 0:
            del self._pending_updates[:offset]  # keep only the last -offset updates
        else:
            self._pending_updates = [u for u in self._pending_updates if u["update_id"] >= offset]
        limit = min(max(params.get("limit", 100), 1), 100)
        await self._updates_changed.wait_until(
            lambda: bool(self._pending_updates) or self._closing,
            max(params.get("timeout", 0), 0),
        )
        return self._pending_updates[:limit]

    async def _set_webhook(self, params: JSONDict) -> bool:
        url = params.get("url", "")
        if url and not url.startswith("https://"):
            raise ApiError(
                400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
            )
        self._webhook_url = url
        return True

    async def _delete_webhook(self, params: JSONDict) -> bool:
        self._webhook_url = ""
        if params.get("drop_pending_updates"):
            self._pending_updates.clear()
        return True

    async def _get_webhook_info(self, params: JSONDict) -> JSONDict:
        info = WebhookInfo(
            url=self._webhook_url,
            has_custom_certificate=False,
            pending_update_count=len(self._pending_updates),
        )
        return info.to_dict()

    async def _send_message(self, params: JSONDict) -> JSONDict:
        chat = self._target_chat(params)
        text, entities = self._formatted_text(params)
        return self._new_message(
            chat,
            self.bot_user,
            reply_to=self._reply_target(chat, params),
            thread_id=params.get("message_thread_id"),
            text=text,
            entities=entities or None,
            reply_markup=self._inline_markup(params),
        )

    async def _send_document(self, params: JSONDict) -> JSONDict:
        chat = self._target_chat(params)
        document = self._document_param(params.get("document"))
        caption, caption_entities = self._formatted_caption(params)
        return self._new_message(
            chat,
            self.bot_user,
            reply_to=self._reply_target(chat, params),
            thread_id=params.get("message_thread_id"),
            document=document,
            caption=caption,
            caption_entities=caption_entities or None,
            reply_markup=self._inline_markup(params),
        )

    async def _edit_message_text(self, params: JSONDict) -> JSONDict:
        key, stored = self._editable_message(params)
        if "text" not in stored:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        text, entities = self._formatted_text(params)
        return self._replace_message(
            key,
            stored,
            text=text,
            entities=[entity.to_dict() for entity in entities],
            reply_markup=self._inline_markup(params),
        )

    async def _edit_message_reply_markup(self, params: JSONDict) -> JSONDict:
        key, stored = self._editable_message(params)
        return self._replace_message(key, stored, reply_markup=self._inline_markup(params))

    async def _delete_message(self, params: JSONDict) -> bool:
        key = (params.get("chat_id"), params.get("message_id"))
        if self._messages.pop(key, None) is None:
            raise ApiError(400, "Bad Request: message to delete not found")
        return True

    async def _send_chat_action(self, params: JSONDict) -> bool:
        self._target_chat(params)
        if params.get("action") not in _CHAT_ACTIONS:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        return True

    async def _set_my_commands(self, params: JSONDict) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise ApiError(400, 'Bad Request: parameter "commands" is required')
        for command in commands:
            if not isinstance(command, dict) or not _COMMAND_RE.fullmatch(
                str(command.get("command", ""))
            ):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self._commands[self._commands_key(params)] = [
            BotCommand(c["command"], c["description"]).to_dict() for c in commands
        ]
        return True

    async def _get_my_commands(self, params: JSONDict) -> list[JSONDict]:
        return self._commands.get(self._commands_key(params), [])

    async def _delete_my_commands(self, params: JSONDict) -> bool:
        self._commands.pop(self._commands_key(params), None)
        return True

    async def _answer_callback_query(self, params: JSONDict) -> bool:
        query_id = params.get("callback_query_id")
        if query_id not in self._open_callback_queries:
            raise ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        self._open_callback_queries.discard(query_id)
        return True

    async def _get_file(self, params: JSONDict) -> JSONDict:
        stored = self._files.get(params.get("file_id", ""))
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        file = File(
            stored.file_id,
            stored.file_unique_id,
            file_size=len(stored.content),
            file_path=stored.file_path,
        )
        return file.to_dict()

    # ------------------------------------------------------------------ method helpers

    def _target_chat(self, params: JSONDict) -> Chat:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise ApiError(400, "Bad Request: chat_id is empty")
        if isinstance(chat_id, str):
            chat = next((c for c in self._chats.values() if f"@{c.username}" == chat_id), None)
        else:
            chat = self._chats.get(chat_id)
        if chat is not None:
            return chat
        if chat_id in self._users:
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        raise ApiError(400, "Bad Request: chat not found")

    def _formatted(
        self, params: JSONDict, key: str, entities_key: str
    ) -> tuple[str, list[MessageEntity]]:
        raw = params.get(key)
        if not isinstance(raw, str) or not raw:
            return "", []
        parse_mode = params.get("parse_mode")
        if parse_mode is None or parse_mode == "":
            return raw, list(MessageEntity.de_list(params.get(entities_key) or [], None))
        if parse_mode.lower() == "html":
            try:
                return parse_html(raw, strict=self.strict_html)
            except HtmlParseError as error:
                raise ApiError(400, f"Bad Request: can't parse entities: {error}") from None
        if parse_mode.lower() in ("markdown", "markdownv2"):
            return raw, []  # not emulated: the raw text passes through unchecked
        raise ApiError(400, "Bad Request: unsupported parse_mode")

    def _formatted_text(self, params: JSONDict) -> tuple[str, list[MessageEntity]]:
        text, entities = self._formatted(params, "text", "entities")
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if utf16_len(text) > _MAX_TEXT_LENGTH:
            raise ApiError(400, "Bad Request: message is too long")
        return text, entities

    def _formatted_caption(self, params: JSONDict) -> tuple[str | None, list[MessageEntity]]:
        caption, entities = self._formatted(params, "caption", "caption_entities")
        if utf16_len(caption) > _MAX_CAPTION_LENGTH:
            raise ApiError(400, "Bad Request: message caption is too long")
        return caption or None, entities

    @staticmethod
    def _inline_markup(params: JSONDict) -> InlineKeyboardMarkup | None:
        """Validate an inline keyboard; other keyboards are accepted but never echoed back."""
        markup = params.get("reply_markup")
        if not isinstance(markup, dict) or "inline_keyboard" not in markup:
            return None
        for row in markup["inline_keyboard"]:
            for button in row:
                if not _BUTTON_ACTIONS & button.keys():
                    raise ApiError(
                        400,
                        "Bad Request: can't parse inline keyboard button: Text buttons are "
                        "unallowed in the inline keyboard",
                    )
                data = button.get("callback_data")
                if data is not None and not 1 <= len(data.encode()) <= _MAX_CALLBACK_DATA_BYTES:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        return InlineKeyboardMarkup.de_json(markup, None)

    def _reply_target(self, chat: Chat, params: JSONDict) -> JSONDict | None:
        reply = params.get("reply_parameters")
        if reply is None and "reply_to_message_id" in params:
            reply = {
                "message_id": params["reply_to_message_id"],
                "allow_sending_without_reply": params.get("allow_sending_without_reply", False),
            }
        if not reply:
            return None
        target = self._messages.get((reply.get("chat_id", chat.id), reply.get("message_id")))
        if target is None and not reply.get("allow_sending_without_reply"):
            raise ApiError(400, "Bad Request: message to be replied not found")
        return target

    def _document_param(self, document: Any) -> Document:
        if isinstance(document, UploadedFile):
            suffix = PurePosixPath(document.filename or "").suffix
            stored = self._store_file(document.content, "documents", suffix)
            return Document(
                stored.file_id,
                stored.file_unique_id,
                file_name=document.filename,
                mime_type=document.content_type,
                file_size=len(document.content),
            )
        if document is None:
            raise ApiError(400, "Bad Request: there is no document in the request")
        stored = self._files.get(document)
        if stored is None:
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        return Document(stored.file_id, stored.file_unique_id, file_size=len(stored.content))

    def _editable_message(self, params: JSONDict) -> tuple[tuple[int, int], JSONDict]:
        key = (params.get("chat_id"), params.get("message_id"))
        stored = self._messages.get(key)
        if stored is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        if stored["from"]["id"] != self.bot_user.id:
            raise ApiError(400, "Bad Request: message can't be edited")
        return key, stored

    def _replace_message(self, key: tuple[int, int], stored: JSONDict, **changes: Any) -> JSONDict:
        """Apply an edit; omitting reply_markup removes the keyboard, as on Telegram."""
        markup = changes.pop("reply_markup")
        updated = {**stored, **changes}
        updated.pop("reply_markup", None)
        if markup is not None:
            updated["reply_markup"] = markup.to_dict()
        if not updated.get("entities"):
            updated.pop("entities", None)
        if updated == stored:
            raise ApiError(400, _NOT_MODIFIED)
        updated["edit_date"] = int(time.time())
        message = Message.de_json(updated, None).to_dict()
        self._messages[key] = message
        return message

    @staticmethod
    def _commands_key(params: JSONDict) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), params.get("language_code", "")
