"""Answers as Telegram HTML messages.

Everything from the corpus or the user is escaped here and nowhere else. Messages are built
from complete fragments (a blockquote, a source line, a list item) and only ever split
between fragments, so no message exceeds Telegram's limit or cuts through a tag; a passage
too long for one message is split at paragraph (else sentence, else word) boundaries, each
piece in its own blockquote.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

from bot.texts import Texts
from embeddings.answer import Declined, Hit

MESSAGE_LIMIT = 4096  # Telegram's limit, in UTF-16 code units
EXPANDABLE_OVER = 500  # passages longer than this (characters) are collapsed
FIRST_PAGE = 3  # sources in the answer itself: the quoted passage and two more
PAGE_SIZE = 3  # sources per "More sources" message
SHORT_QUOTE = 160
LEAD_CHARS = 200  # the bold answer starts within this much of a quote (collapsed view)
JOINED_MAX = 2000  # overlapping passages are joined into one quote up to this length
MIN_OVERLAP = 10  # characters; passages overlap by a whole sentence
TITLE_CHARS = 150
URL_CHARS = 2000
ALSO_SHOWN = 5  # other outlets of a story named under its quote; the rest are counted

_SAFE_URL = re.compile(r"^https?://[^\s]+$", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*\s")
# Room for <blockquote expandable></blockquote> and one <b></b> around the quoted text.
_QUOTE_MARKUP = 48


@dataclass(frozen=True)
class Source:
    """What the bot shows of one or more adjacent passages of an article; stored with the
    answer so that its buttons outlive restarts."""

    passage_ids: tuple[str, ...]
    article_id: str
    text: str
    highlight: str
    title: str
    url: str | None
    date: str | None
    weak: bool
    attribution: str | None = None
    also: tuple[tuple[str, str | None, str | None], ...] = ()  # other outlets: title, url, date

    @classmethod
    def from_hit(cls, hit: Hit) -> Source:
        return cls(
            passage_ids=(hit.passage_id,),
            article_id=hit.article_id,
            text=hit.text,
            highlight=hit.highlight,
            title=hit.title,
            url=hit.source_url,
            date=hit.date,
            weak=hit.weak,
            attribution=hit.attribution,
            also=tuple((c.title, c.source_url, c.date) for c in hit.also),
        )

    @classmethod
    def from_dict(cls, data: dict) -> Source:
        """A stored source; those stored before attributions and copies lack them."""
        also = tuple(tuple(copy) for copy in data.get("also", ()))
        return cls(**{**data, "passage_ids": tuple(data["passage_ids"]), "also": also})

    def to_dict(self) -> dict:
        return asdict(self)


def order_sources(hits: Iterable[Hit]) -> list[Source]:
    """Passages that answer first, then weak ones, each in rank order.

    Passages overlap by a sentence, so neighbours from one article often come back together
    (the answer may even sit in the second one): answering neighbours are joined into one
    quote, and a passage already shown whole inside another is dropped.
    """
    hits = list(hits)
    sources: list[Source] = []
    for hit in [h for h in hits if not h.weak] + [h for h in hits if h.weak]:
        new = Source.from_hit(hit)
        for i, kept in enumerate(sources):
            if (joined := _join(kept, new)) is not None:
                sources[i] = joined
                break
        else:
            sources.append(new)
    return sources


def _join(kept: Source, new: Source) -> Source | None:
    """`kept` extended by `new` if they are overlapping (or nested) passages of one article."""
    if kept.article_id != new.article_id:
        return None
    if new.text in kept.text:
        text = kept.text
    elif kept.weak or new.weak:
        return None
    elif kept.text in new.text:
        text = new.text
    else:
        text = _overlapped(kept.text, new.text) or _overlapped(new.text, kept.text)
        if text is None or len(text) > JOINED_MAX:
            return None
    return dataclasses.replace(kept, passage_ids=kept.passage_ids + new.passage_ids, text=text)


def _overlapped(first: str, second: str) -> str | None:
    """first + second without their shared part, when second begins where first ends."""
    for size in range(min(len(first), len(second)) - 1, MIN_OVERLAP - 1, -1):
        if first.endswith(second[:size]):
            return first + second[size:]
    return None


def first_page(sources: list[Source], answered: bool) -> int:
    """How many sources the answer shows: the quoted one plus up to two more that answer
    too; only the closest one when nothing answers."""
    if not answered:
        return min(1, len(sources))
    strong = sum(1 for source in sources[:FIRST_PAGE] if not source.weak)
    return max(1, strong)


def render_answer(sources: list[Source], answered: bool, t: Texts) -> list[str]:
    """The reply to a question: the best passage quoted, its source, up to two more sources."""
    if not sources:
        return [t.not_found]
    best, *others = sources[: first_page(sources, answered)]
    blocks = [] if answered else [t.not_found, "", t.possibly_related]
    blocks += quote(best.text, best.highlight)
    blocks.append(source_line(best, t, mark_weak=answered))
    if best.also:
        blocks.append(also_line(best, t))
    if others:
        blocks += ["", t.other_sources]
        blocks += [short_item(number, source, t) for number, source in enumerate(others, 2)]
    return pack(blocks)


def render_more(sources: list[Source], start: int, t: Texts) -> list[str]:
    """Sources[start:start + PAGE_SIZE], each quoted in full and numbered on from the answer."""
    if start >= len(sources):
        return [t.no_more_sources]
    blocks: list[str] = []
    for number, source in enumerate(sources[start : start + PAGE_SIZE], start + 1):
        if blocks:
            blocks.append("")
        blocks += quote(source.text, source.highlight)
        blocks.append(f"{number}. {source_line(source, t)}")
        if source.also:
            blocks.append(also_line(source, t))
    return pack(blocks)


def render_declined(declined: Declined, t: Texts) -> list[str]:
    """The reply to a question bound to a period no article is from: which period, and
    the newest news there is."""
    start, end = (day_text(d, t) for d in (declined.start, declined.end))
    period = start if start == end else f"{start} – {end}"
    latest = day_text(declined.latest, t)
    return [t.no_news_for_period.format(period=period, latest=latest)]


def day_text(day: dt.date | None, t: Texts) -> str:
    """ "1 Aralık 2026" / "1 December 2026" ("…" for an open end); escaped already."""
    return f"{day.day} {t.months[day.month - 1]} {day.year}" if day else "…"


def quote(text: str, highlight: str) -> list[str]:
    """The passage in a blockquote (expandable when long) with `highlight` in bold; several
    blockquotes when it cannot fit one message."""
    start = text.find(highlight) if highlight else -1
    if start > LEAD_CHARS and (cut := _lead_in(text, start)):
        # A collapsed quote shows only its first lines: begin one sentence before the
        # answer, marking what was left out.
        text = "… " + text[cut:]
        start = text.find(highlight)
    tag = "blockquote expandable" if len(text) > EXPANDABLE_OVER else "blockquote"
    bold = (start, start + len(highlight)) if start >= 0 else (0, 0)
    return [
        f"<{tag}>{_with_bold(text, span, bold)}</blockquote>"
        for span in _spans(text, MESSAGE_LIMIT - _QUOTE_MARKUP)
    ]


def _lead_in(text: str, start: int) -> int:
    """Where the sentence before the one at `start` begins (0: keep the whole text)."""
    boundaries = sorted(
        {m.end() for m in _SENTENCE_END.finditer(text, 0, start)}
        | {i + 1 for i in range(start) if text[i] == "\n"}
    )
    return boundaries[-2] if len(boundaries) >= 2 else 0


def source_line(source: Source, t: Texts, *, mark_weak: bool = True) -> str:
    """📰 linked title · date, marked when the passage may not answer the question."""
    title = html.escape(_shorten(source.title, TITLE_CHARS), quote=False)
    url = source.url or ""
    if _SAFE_URL.match(url) and len(url) <= URL_CHARS:
        title = f'<a href="{html.escape(url, quote=True)}">{title}</a>'
    line = f"📰 {title}"
    if source.date:
        line += f" · {html.escape(_shorten(source.date, 40), quote=False)}"
    if source.attribution:
        line += f" · ✍️ {html.escape(_shorten(source.attribution, TITLE_CHARS), quote=False)}"
    if source.weak and mark_weak:
        line += f" {t.maybe_unrelated}"
    return line


def also_line(source: Source, t: Texts) -> str:
    """The story's other outlets on one line: each linked by its site's name (its title
    without a link), with its date."""
    items = []
    for title, url, date in source.also[:ALSO_SHOWN]:
        url = url or ""
        if _SAFE_URL.match(url) and len(url) <= URL_CHARS:
            name = html.escape(_site(url), quote=False)
            item = f'<a href="{html.escape(url, quote=True)}">{name}</a>'
        else:
            item = html.escape(_shorten(title, SHORT_QUOTE // 2), quote=False)
        if date:
            item += f" ({html.escape(_shorten(date, 40), quote=False)})"
        items.append(item)
    if len(source.also) > ALSO_SHOWN:
        items.append(f"+{len(source.also) - ALSO_SHOWN}")
    return t.also_reported.format(outlets=", ".join(items))


def _site(url: str) -> str:
    """The host of a URL without "www.", or the URL when it has no readable host."""
    try:
        host = urlsplit(url).hostname
    except ValueError:  # "http://[::1" and the like
        host = None
    return _shorten(host.removeprefix("www."), TITLE_CHARS) if host else _shorten(url, TITLE_CHARS)


def short_item(number: int, source: Source, t: Texts) -> str:
    """A numbered further source: its answering sentence, shortened, then its source line."""
    excerpt = html.escape(_shorten(source.highlight, SHORT_QUOTE), quote=False)
    return f"{number}. «{excerpt}» — {source_line(source, t)}"


def pack(blocks: list[str]) -> list[str]:
    """Join fragments line by line into as few messages as fit; blank lines never open one."""
    messages: list[list[str]] = [[]]
    for block in blocks:
        current = messages[-1]
        if current and utf16_len("\n".join([*current, block])) > MESSAGE_LIMIT:
            messages.append(current := [])
        if block or current:
            current.append(block)
    return ["\n".join(lines).strip("\n") for lines in messages if any(lines)]


def plain_text(message: str) -> str:
    """A rendered message without its markup, for when Telegram rejects the HTML anyway."""
    return html.unescape(_TAG.sub("", message))


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _with_bold(text: str, span: tuple[int, int], bold: tuple[int, int]) -> str:
    """Escaped text[span] with the part inside `bold` wrapped in <b>."""
    start, end = span
    b_start, b_end = max(bold[0], start), min(bold[1], end)
    if b_start >= b_end:
        return html.escape(text[start:end], quote=False)
    return (
        html.escape(text[start:b_start], quote=False)
        + f"<b>{html.escape(text[b_start:b_end], quote=False)}</b>"
        + html.escape(text[b_end:end], quote=False)
    )


def _spans(text: str, budget: int) -> list[tuple[int, int]]:
    """Cut `text` into stripped spans whose escaped size fits `budget`, preferring paragraph,
    then sentence, then word boundaries in the second half of each window."""
    spans = []
    start, size = _skip_space(text, 0), len(text)
    while start < size:
        end, used = start, 0
        while (
            end < size and used + (cost := utf16_len(html.escape(text[end], quote=False))) <= budget
        ):
            used += cost
            end += 1
        if end < size:
            end = _break_before(text, start, end)
        stop = end
        while stop > start and text[stop - 1].isspace():
            stop -= 1
        spans.append((start, stop))
        start = _skip_space(text, end)
    return spans


def _break_before(text: str, start: int, end: int) -> int:
    """The best place to cut text[start:end] short."""
    floor = start + (end - start) // 2
    newline = text.rfind("\n", floor, end)
    if newline > start:
        return newline
    sentence_ends = [m.end() for m in _SENTENCE_END.finditer(text, floor, end)]
    if sentence_ends:
        return sentence_ends[-1]
    space = max(text.rfind(" ", floor, end), text.rfind("\t", floor, end))
    return space if space > start else end


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position].isspace():
        position += 1
    return position


def _shorten(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a word boundary with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "…"
