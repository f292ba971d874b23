"""Time expressions in questions and in article text, resolved to calendar dates.

News answers depend on when: "en son faiz kararı", "dün ne oldu?", "nisan ayında",
"in March 2024". `parse` turns a question's time words into a `TimeFilter` against a reference
date (today, or `qabot ask --as-of`); `dates_in_text` finds the dates an article's text
mentions, so that an undated article still matches "16 Aralık'taki konferans"; `parse_date`
reads front-matter dates.

Matching runs on a folded copy of the text (Turkish letters to ASCII, one character for one,
so match positions stay those of the original): a question typed without Turkish letters
("gecen hafta", "subat") is understood as well. Words that are also ordinary words need
context to count: a bare number is a year only with a suffix ("2023'te"), a year word
("2023 yılında") or a preposition ("in 2023"); "Ekim", "Kasım", "Aralık", "Ocak" (also
"sowing", a name, "interval", "stove") and English "May", "March" need a day, a year, "ayı",
a locative suffix or a preposition; "son" is not "latest" in "son derece" or "son olarak".
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

ANY_YEAR = 4
"""The year of a mention whose year is unknown ("16 Aralık" in an undated text): a leap year
that no news text is about, so such a range can be stored as two ISO dates like any other."""


@dataclass(frozen=True, slots=True)
class TimeFilter:
    """What a question says about time. `start`/`end` bound the period it asks about
    (inclusive; None: open). `latest`: it asks for the newest state of things. `strict`: the
    period is relative to today ("bugün", "geçen hafta"), so an article from outside it cannot
    answer and the question should be declined when none is from it; calendar periods
    ("nisan ayında", "2023'te") are preferences, as a later article often reports on them.
    `matched`: the question's words that said so, as written."""

    start: dt.date | None = None
    end: dt.date | None = None
    latest: bool = False
    strict: bool = False
    matched: tuple[str, ...] = ()

    @property
    def bounded(self) -> bool:
        """It names a period (not only "latest")."""
        return self.start is not None or self.end is not None

    def contains(self, day: dt.date | None) -> bool:
        """Is a publication date inside the period? An unknown date is not."""
        if day is None:
            return False
        return (self.start is None or day >= self.start) and (self.end is None or day <= self.end)

    def overlaps(self, start: dt.date, end: dt.date) -> bool:
        """Does a period a text mentions (from `dates_in_text`) fall in this one, at least as
        precisely? "Bu yıl" in an article says nothing about which month of the year the
        question's "haziran ayında" means, and "3 Ağustos" without a year nothing about 2025."""
        if self.start is None and self.end is None:
            return True
        if self.start is not None and self.end is not None and end - start > self.end - self.start:
            return False
        if start.year != ANY_YEAR:
            return (self.start is None or end >= self.start) and (
                self.end is None or start <= self.end
            )
        if self.start is None or self.end is None or (self.end - self.start).days > 31:
            return False
        for year in range(self.start.year, self.end.year + 1):
            lo, hi = _in_year(start, year), _in_year(end, year)
            if lo and hi and hi >= self.start and lo <= self.end:
                return True
        return False

    def matches(
        self, published: dt.date | None, mentions: Iterable[tuple[dt.date, dt.date]]
    ) -> bool:
        """The article was published in the period, or (unless the period is strict) its
        text mentions a date in it. A strict period asks for news from then: an article's
        mention of that day is mostly a plan or a look back, never news of the day."""
        if self.strict:
            return self.contains(published)
        return self.contains(published) or any(self.overlaps(a, b) for a, b in mentions)


def parse(question: str, as_of: dt.date) -> TimeFilter | None:
    """The question's time constraint relative to `as_of`, or None when it has none."""
    hits = _scan(question, as_of, question_mode=True)
    if not hits:
        return None
    latest = any(h.latest for h in hits)
    periods = _merge_years([h for h in hits if not h.latest], as_of, question_mode=True)
    matched = tuple(question[h.span[0] : h.span[1]] for h in hits)
    if not periods:
        return TimeFilter(latest=latest, matched=matched)
    starts = [p.start for p in periods]
    ends = [p.end for p in periods]
    return TimeFilter(
        start=None if None in starts else min(starts),
        end=None if None in ends else max(ends),
        latest=latest,
        strict=all(p.strict for p in periods),
        matched=matched,
    )


def dates_in_text(text: str, published: dt.date | None = None) -> list[tuple[dt.date, dt.date]]:
    """The dates and periods a text mentions, as inclusive (start, end) ranges in order.

    A day or month without a year takes the year that puts it nearest to `published` (an
    article of 5 January means the December before, one of December means the coming
    January); without a publication date its year is `ANY_YEAR`. Words relative to the
    article's own date ("dün", "geçen hafta") count only when it has one."""
    hits = _scan(text, published, question_mode=False)
    periods = _merge_years([h for h in hits if not h.latest], published, question_mode=False)
    return [(p.start, p.end) for p in periods if p.start is not None and p.end is not None]


def parse_date(value: object) -> dt.date | None:
    """An article's date from front matter or JSONL: ISO date or timestamp (the date as
    written, whatever its time zone), "12.03.2024", RFC 2822, or "12 Mart 2024"."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if m := _ISO_PREFIX.match(text):
        return _day(int(m[1]), int(m[2]), int(m[3]))
    if m := _DMY_PREFIX.match(text):
        return _day(int(m[3]), int(m[2]), int(m[1]))
    if text[:1].isalpha() and "," in text[:5]:
        try:
            return parsedate_to_datetime(text).date()
        except (TypeError, ValueError):
            pass
    days = [a for a, b in dates_in_text(text) if a == b and a.year != ANY_YEAR]
    return days[0] if days else None


_ISO_PREFIX = re.compile(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?![\d])")
_DMY_PREFIX = re.compile(r"(\d{1,2})[./-](\d{1,2})[./-](\d{4})(?!\d)")

# Folding: one character for one, so that spans in the folded text are spans of the original.
# "İ" goes first, as its lower() is two characters; the letters and apostrophes below are then
# replaced in the lower-cased text. A str.replace per letter is a fast scan in C, several times
# faster on article text than str.translate, which looks every character up in a dict.
_FOLD = (
    ("ı", "i"),
    ("ş", "s"),
    ("ğ", "g"),
    ("ü", "u"),
    ("ö", "o"),
    ("ç", "c"),
    ("â", "a"),
    ("î", "i"),
    ("û", "u"),
    ("’", "'"),
    ("‘", "'"),
    ("`", "'"),
    ("´", "'"),
    ("ʼ", "'"),
)


def _fold(text: str) -> str:
    """Lower case, Turkish letters as ASCII, one apostrophe: "Geçen Şubat’ta" → "gecen
    subat'ta", of the same length."""
    folded = text.replace("İ", "i").lower()
    for letter, plain in _FOLD:
        folded = folded.replace(letter, plain)
    return folded


_MONTHS_TR = {
    "ocak": 1,
    "subat": 2,
    "mart": 3,
    "nisan": 4,
    "mayis": 5,
    "haziran": 6,
    "temmuz": 7,
    "agustos": 8,
    "eylul": 9,
    "ekim": 10,
    "kasim": 11,
    "aralik": 12,
}
_MONTH_NAMES_EN = (
    "january february march april may june july august september october november december"
)
_MONTHS_EN = {name: n for n, name in enumerate(_MONTH_NAMES_EN.split(), start=1)} | {
    name[:3]: n for n, name in enumerate(_MONTH_NAMES_EN.split(), start=1)
}
_MONTHS_EN["sept"] = 9
_MONTHS = _MONTHS_TR | _MONTHS_EN
_ABBREVIATIONS = frozenset(name[:3] for name in _MONTH_NAMES_EN.split()) - {"may"} | {"sept"}
# Month names that are also ordinary words or names: counted only in an unambiguous context.
_AMBIGUOUS_MONTHS = frozenset({"ocak", "ekim", "kasim", "aralik", "may", "march", "august"})
_ENGLISH_MONTHS = frozenset(_MONTHS_EN)

_NUMBERS = {
    "bir": 1,
    "iki": 2,
    "uc": 3,
    "dort": 4,
    "bes": 5,
    "alti": 6,
    "yedi": 7,
    "sekiz": 8,
    "dokuz": 9,
    "on": 10,
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
}
_UNITS = {
    "gun": "day",
    "hafta": "week",
    "ay": "month",
    "yil": "year",
    "sene": "year",
    "day": "day",
    "week": "week",
    "month": "month",
    "year": "year",
}
# Words before a bare month or year that make it a date ("in April", "since 2023").
_CONTEXT_WORDS = frozenset(
    "in since during throughout from until till by of for before after year early late mid "
    "around circa last this next gecen gectigimiz bu".split()
)
_ENGLISH_DETERMINERS = frozenset("the a his her my your our their its whose one only".split())
_ENGLISH_WORDS = re.compile(
    r"\b(?:the|what|who|whom|whose|was|were|are|did|does|how|which|when)\b"
)  # not "is": "iş"

_B = r"(?<![\w'])"  # start of a word (not a suffix after an apostrophe)
_E = r"(?!\w)"
_YEAR = r"(?:19\d\d|20\d\d|2100)"
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
_LOC = r"[dt][ae](?:ki|n)?"  # -da/-de/-ta/-te, -daki, -dan: locative and ablative
_SUFFIX = rf"(?:'\w+|{_LOC})"  # after a name or a number: with an apostrophe, or locative
_NUM = r"(?:\d{1,3}|" + "|".join(sorted(_NUMBERS, key=len, reverse=True)) + ")"
_UNIT_TR = r"(?:gun|hafta|ay|yil|sene)"
_UNIT_EN = r"(?:day|week|month|year)s?"
_PERIOD_SUFFIX = r"(?:n?in|n?[dt][ae](?:ki|n)?|ki|y?[ae]|y?[iu])?"
_SINCE = r"(?P<{0}>\s+(?:beri|bu\s+yana|itibaren))?"


def _month(group: str, english_only: bool = False) -> str:
    names = _ENGLISH_MONTHS if english_only else _MONTHS
    alternatives = "|".join(sorted(names, key=len, reverse=True))
    return rf"(?P<{group}>{alternatives})\.?(?P<{group}_s>{_SUFFIX})?{_E}"


_NOT_LATEST_AFTER_SON = (
    r"derece\w*|olarak|care\w*|nokta\w*|soz\w*|sinif\w*|kullanma\w*|teslim\w*|basvuru\w*|"
    r"gun|gunu|ver\w*|bul\w*|an|anda|of|ve|saniye\w*|skor\w*|" + _NUM  # "son üç dakika"
)
_LATEST = (
    r"en\s+son(?:ki|u|uncu)?|en\s+(?:guncel|yeni)\w*|guncel(?:de)?|su\s+an(?:da|ki)?|"
    r"su\s+sira(?:lar|da)\w*|simdi(?:ki|lerde|ye\s+(?:kadar|dek))?|halen|halihazirda|"
    r"gunumuzde|bugunlerde|bugune\s+(?:kadar|dek|degin)|su\s+ana\s+(?:kadar|dek)|"
    r"son\s+(?:zamanlarda|gunlerde|durum\w*|dakika\w*)|latest|most\s+recent(?:ly)?|"
    r"recent(?:ly)?|newest|current(?:ly)?(?!\s+account)|right\s+now|now(?:adays)?|"
    r"these\s+days|so\s+far|to\s+date|up\s+to\s+date|at\s+present|presently|"
    r"bugun\s+(?:bile|dahi|hala)|hala\s+bugun|even\s+today|still\s+today|today\s+still|"
    r"to\s+this\s+day|the\s+last(?!\s+(?:name|resort|word|minute|straw|few|couple|"
    + _NUM
    + r")\w*)"
)

_PATTERN = re.compile(
    "|".join(
        _B + alternative + _E
        for alternative in (
            rf"(?P<iso>(?P<iso_y>{_YEAR})-(?P<iso_m>\d\d)-(?P<iso_d>\d\d))",
            rf"(?P<dmy>(?P<dmy_d>\d\d?)[./](?P<dmy_m>\d\d?)[./](?P<dmy_y>{_YEAR})(?:{_SUFFIX})?)",
            rf"(?P<span>(?P<span_p>(?:between|from)\s+)?(?P<span_a>{_YEAR})\s*"
            rf"(?P<span_j>-|–|—|and|to|ile|ve)\s*(?P<span_b>{_YEAR})"
            rf"(?P<span_c>(?:{_SUFFIX})?(?:\s+(?:yil|sene)\w*)?(?:\s+aras\w*)?))",
            rf"(?P<dm>(?:the\s+)?(?P<dm_d>{_DAY})(?:'\w+)?\.?(?:\s+of)?\s+{_month('dm_m')}"
            rf"(?:,?\s+(?P<dm_y>{_YEAR})(?:{_SUFFIX})?)?)",
            rf"(?P<md>{_month('md_m', english_only=True)}\s+(?:the\s+)?(?P<md_d>{_DAY})(?!\d)"
            rf"(?:,?\s+(?P<md_y>{_YEAR}))?)",
            rf"(?P<ym>(?P<ym_y>{_YEAR})(?:'\w+|\s+(?:yil|sene)\w*)?\s+{_month('ym_m')}"
            r"(?:\s+ayi\w*)?)",
            rf"(?P<my>{_month('my_m')}(?:\s+ayi\w*)?(?:\s+of)?,?\s+(?P<my_y>{_YEAR})"
            rf"(?:{_SUFFIX})?)",
            rf"(?P<roll>son\s+(?P<roll_n>{_NUM})\s+(?P<roll_u>{_UNIT_TR})\w*|"
            rf"(?:the\s+)?(?P<roll_w>last|past|previous)\s+(?:(?P<roll_n2>{_NUM})\s+)?"
            rf"(?P<roll_u2>{_UNIT_EN})(?:'s)?)",
            r"(?P<prev>(?:gecen|gectigimiz|onceki)\s+(?P<prev_u>hafta|ay|yil|sene)"
            rf"{_PERIOD_SUFFIX})",
            rf"(?P<this>(?:bu|this)\s+(?:(?P<this_u>{_UNIT_TR}){_PERIOD_SUFFIX}|"
            r"(?P<this_e>week|month|year)(?:'s)?|sabah\w*|aksam\w*|gece\w*|ogle\w*|morning|"
            r"afternoon|evening))",
            rf"(?P<ago>(?P<ago_n>{_NUM})\s+(?P<ago_u>{_UNIT_TR}|{_UNIT_EN})\s+"
            r"(?:once|evvel|ago)(?:ki|si)?)",
            r"(?P<before_yesterday>(?:onceki|evvelki|evvelsi|dunden\s+onceki)\s+gun\w*|"
            r"the\s+day\s+before\s+yesterday)",
            rf"(?P<latest>{_LATEST})",
            r"(?P<today>bugun(?:ku|un|u|de)?|today(?:'s)?|tonight)",
            r"(?P<yesterday>dun(?:ku|un|u|den)?|yesterday(?:'s)?)",
            rf"(?P<son>son(?!\s+(?:{_NOT_LATEST_AFTER_SON}){_E}))",
            rf"(?P<mo>{_month('mo_m')}(?P<mo_ayi>\s+ayi\w*)?{_SINCE.format('mo_since')})",
            rf"(?P<yr>(?P<yr_y>{_YEAR})(?P<yr_s>{_SUFFIX})?(?P<yr_w>\s+(?:yil|sene)\w*)?"
            rf"{_SINCE.format('yr_since')})",
        )
    )
)
_LAST_WORD_REVERSED = re.compile(r"[\s-]*(\w+)")

# Where an alternative of _PATTERN can start (tests check that scanning from there finds what
# `_PATTERN.finditer` finds): a year; a number of at most three digits before what makes it a
# date ("16.", "16th", "16'sında", "16 Aralık", "3 gün"); a number word before a unit; a month
# name as `_month` takes it; one of the words, or of the words before what makes them time words
# ("bu hafta", "en son"); a word beginning with one of the prefixes. `_STARTS`: each word and
# what must follow it.
_UNIT = rf"\s+(?:{_UNIT_TR}|{_UNIT_EN})"
_DIGITS_AHEAD = (
    r"(?=[./']|st|nd|rd|th|\s+(?:of\s|"
    + "|".join(sorted(_MONTHS, key=len, reverse=True))
    + rf")|{_UNIT})"
)
_STARTS = {
    **dict.fromkeys(
        "between from the son last past previous gecen gectigimiz onceki evvelki evvelsi "
        "halen halihazirda gunumuzde latest most newest right these so to up at presently "
        "tonight hala even still dun dunku dunun dunu dunden".split(),
        r"(?!\w)",
    ),
    **dict.fromkeys(_NUMBERS, rf"(?={_UNIT})"),
    **dict.fromkeys(_MONTHS, rf"(?=\.?(?:{_SUFFIX})?{_E})"),
    **dict.fromkeys(
        ("bu", "this"),
        rf"(?=\s+(?:{_UNIT_TR}|week|month|year|sabah|aksam|gece|ogle|morning|afternoon|evening))",
    ),
    "en": r"(?=\s+(?:son|guncel|yeni))",
    "su": r"(?=\s+(?:an|sira))",
    **dict.fromkeys(
        ("bugun", "simdi", "guncel", "recent", "current", "now", "today", "yesterday"), ""
    ),
}


def _trie(words: dict[str, str]) -> str:
    """A regex for the words, each followed by its own lookahead ("" for a prefix), shaped as a
    trie: the `re` engine tries an alternation's branches one by one, and a scan that tries
    them at every word start of a text is much faster with them grouped by first letters."""
    tree: dict = {}
    for word, ahead in words.items():
        node = tree
        for char in word:
            node = node.setdefault(char, {})
        node[""] = ahead

    def branches(node: dict) -> str:
        if node.get("") == "":  # a prefix ends here: whatever follows matches
            return ""
        parts = [re.escape(char) + branches(node[char]) for char in sorted(node) if char]
        parts += [node[""]] if "" in node else []
        return parts[0] if len(parts) == 1 else "(?:" + "|".join(parts) + ")"

    return branches(tree)


# A trigger is a character that ends a word (or the space put before the text), then the start
# of an alternative, matched by lookaheads after its first word: a match consumes no character
# that could end the word before another trigger. a-z0-9 listed in the class let `re` reject
# most characters with a bitmap before looking up their Unicode category.
_TRIGGER = re.compile(rf"[^a-z0-9\w'](?:{_YEAR}(?!\d)|\d{{1,3}}{_DIGITS_AHEAD}|{_trie(_STARTS)})")


@dataclass(frozen=True, slots=True)
class _Hit:
    span: tuple[int, int]
    start: dt.date | None = None
    end: dt.date | None = None
    strict: bool = False
    latest: bool = False
    year_only: bool = False  # "2023'te": the year a yearless month in the question belongs to
    month: int = 0  # a month (and day) given without a year, to resolve after all hits
    day: int = 0
    since: bool = False


def _scan(text: str, ref: dt.date | None, *, question_mode: bool) -> list[_Hit]:
    """`_PATTERN` tried only where `_TRIGGER` finds a word that can open one of its
    alternatives: what `finditer` would find, several times faster on article text."""
    folded = _fold(text)
    hits = []
    end = 0
    for trigger in _TRIGGER.finditer(" " + folded):
        start = trigger.start()  # of the word after the trigger's first character, in `folded`
        if start < end:
            continue
        match = _PATTERN.match(folded, start)
        if match is None:
            continue
        end = match.end()
        hit = _HANDLERS[match.lastgroup](match, folded, ref)
        if hit is not None and (question_mode or not hit.latest):
            hits.append(hit)
    return hits


def _merge_years(hits: list[_Hit], ref: dt.date | None, *, question_mode: bool) -> list[_Hit]:
    """Give months and days written without a year their year: the question's own year when
    it names exactly one ("2024'te nisan ayında"), else the one nearest `ref`."""
    yearless = [h for h in hits if h.month]
    if not yearless:
        return hits
    years = {h.start.year for h in hits if h.year_only}
    own = years.pop() if question_mode and len(years) == 1 else None
    out = []
    for hit in hits:
        if own is not None and hit.year_only:
            continue
        if hit.month:
            hit = _resolve(hit, own, ref, question_mode)
            if hit is None:
                continue
        out.append(hit)
    return out


def _resolve(hit: _Hit, year: int | None, ref: dt.date | None, question_mode: bool) -> _Hit | None:
    if year is None:
        year = ANY_YEAR if ref is None else _year_for(hit.month, hit.day, ref, question_mode)
    if hit.day:
        day = _day(year, hit.month, hit.day)
        if day is None:
            return None
        start = end = day
    else:
        start, end = _month_range(year, hit.month)
    if hit.since and ref is not None:
        end = ref
    return _Hit(hit.span, start, end, strict=hit.strict)


# Handlers: one per alternative of _PATTERN; None when the context says it is no date.


def _iso(m: re.Match, folded: str, ref: dt.date | None) -> _Hit | None:
    day = _day(int(m["iso_y"]), int(m["iso_m"]), int(m["iso_d"]))
    return _Hit(m.span(), day, day) if day else None


def _dmy(m: re.Match, folded: str, ref: dt.date | None) -> _Hit | None:
    day = _day(int(m["dmy_y"]), int(m["dmy_m"]), int(m["dmy_d"]))
    return _Hit(m.span(), day, day) if day else None


def _span(m: re.Match, folded: str, ref: dt.date | None) -> _Hit | None:
    first, last = int(m["span_a"]), int(m["span_b"])
    worded = m["span_j"].isalpha()  # "2020 ve 2021 kişi" is two counts; "2020-2021" a span
    if last <= first or (worded and not m["span_p"] and not m["span_c"]):
        return None
    return _Hit(m.span(), dt.date(first, 1, 1), dt.date(last, 12, 31))


def _day_month(m: re.Match, folded: str, ref: dt.date | None) -> _Hit | None:
    prefix = "dm" if m["dm"] else "md"
    month = _MONTHS[m[prefix + "_m"]]
    number = int(m[prefix + "_d"].rstrip("stndrh"))  # "16th", "1st"
    if m[prefix + "_y"]:
        day = _day(int(m[prefix + "_y"]), month, number)
        return _Hit(m.span(), day, day) if day else None
    if number > calendar.monthrange(2000, month)[1]:
        return None
    return _Hit(m.span(), month=month, day=number)


def _month_year(m: re.Match, folded: str, ref: dt.date | None) -> _Hit | None:
    prefix = "ym" if m["ym"] else "my"
    month = _MONTHS[m[prefix + "_m"]]
    start, end = _month_range(int(m[prefix + "_y"]), month)
    return _Hit(m.span(), start, end)


def _rolling(m: re.Match, folded: str, ref: dt.date | None) -> _Hit | None:
    """ "son 3 ayda", "past week", "last 7 days": up to today; "last week": the previous
    calendar week, as "geçen hafta"."""
    if ref is None:
        return None
    unit = _UNITS[(m["roll_u"] or m["roll_u2"]).removesuffix("s")]
    count = m["roll_n"] or m["roll_n2"]
    if count is None and m["roll_w"] != "past":
        return _previous_period(m.span(), unit, ref)
    n = _number(count) if count else 1
    if unit == "day":
        start = ref - dt.timedelta(days=n - 1)
    elif unit == "week":
        start = ref - dt.timedelta(days=7 * n - 1)
    else:
        months = n * (12 if unit == "year" else 1)
        start = _shift_months(ref, -months) + dt.timedelta(days=1)
    return _Hit(m.span(), start, ref, strict=True)


def _previous(m: re.Match, folded: str, ref: dt.date | None) -> _Hit | None:
    if ref is None:
        return None
    return _previous_period(m.span(), _UNITS[m["prev_u"]], ref)


def _previous_period(span: tuple[int, int], unit: str, ref: dt.date) -> _Hit | None:
    if unit == "week":
        monday = ref - dt.timedelta(days=ref.weekday() + 7)
        return _Hit(span, monday, monday + dt.timedelta(days=6), strict=True)
    if unit == "month":
        start, end = _month_range(*_add_months(ref.year, ref.month, -1))
        return _Hit(span, start, end, strict=True)
    if unit == "year":
        return _Hit(span, dt.date(ref.year - 1, 1, 1), dt.date(ref.year - 1, 12, 31), strict=True)
    return None  # "last day" is no period


def _this(m: re.Match, folded: str, ref: dt.date | None) -> _Hit | None:
    if ref is None:
        return None
    unit = _UNITS.get(m["this_u"] or m["this_e"] or "", "day")  # "bu sabah" is today
    if unit == "week":
        start = ref - dt.timedelta(days=ref.weekday())
    elif unit == "month":
        start = ref.replace(day=1)
    elif unit == "year":
        start = dt.date(ref.year, 1, 1)
    else:
        start = ref
    return _Hit(m.span(), start, ref, strict=True)


def _ago(m: re.Match, folded: str, ref: dt.date | None) -> _Hit | None:
    if ref is None or _previous_word(folded, m.start()).endswith(("dan", "den", "tan", "ten")):
        return None  # "teoriden 100 yıl önce": before something else, not before today
    n = _number(m["ago_n"])
    unit = _UNITS[m["ago_u"].removesuffix("s")]
    if unit == "day":
        day = ref - dt.timedelta(days=n)
        return _Hit(m.span(), day, day, strict=True)
    if unit == "week":
        monday = ref - dt.timedelta(days=ref.weekday() + 7 * n)
        return _Hit(m.span(), monday, monday + dt.timedelta(days=6), strict=True)
    if unit == "month":
        start, end = _month_range(*_add_months(ref.year, ref.month, -n))
        return _Hit(m.span(), start, end, strict=True)
    return _Hit(m.span(), dt.date(ref.year - n, 1, 1), dt.date(ref.year - n, 12, 31), strict=True)


def _days_back(n: int) -> Callable[[re.Match, str, dt.date | None], _Hit | None]:
    def handler(m: re.Match, folded: str, ref: dt.date | None) -> _Hit | None:
        if ref is None:
            return None
        day = ref - dt.timedelta(days=n)
        return _Hit(m.span(), day, day, strict=True)

    return handler


def _latest(m: re.Match, folded: str, ref: dt.date | None) -> _Hit | None:
    return _Hit(m.span(), latest=True)


def _son(m: re.Match, folded: str, ref: dt.date | None) -> _Hit | None:
    """Turkish "son" (last): not the English noun ("Börte's first son", "the son of")."""
    if _previous_word(folded, m.start()) in _ENGLISH_DETERMINERS or _ENGLISH_WORDS.search(folded):
        return None
    return _Hit(m.span(), latest=True)


def _month_alone(m: re.Match, folded: str, ref: dt.date | None) -> _Hit | None:
    name = m["mo_m"]
    suffix = m["mo_m_s"] or ""
    previous = _previous_word(folded, m.start())
    if name in _ABBREVIATIONS:
        return None
    if name in _AMBIGUOUS_MONTHS and not (m["mo_ayi"] or suffix or previous in _CONTEXT_WORDS):
        return None
    if name in _ENGLISH_MONTHS and suffix not in ("", "'s"):
        return None  # "Mayıs'ta" is Turkish; "may'de" is neither
    month = _MONTHS[name]
    since = bool(m["mo_since"]) or previous in ("since", "from")
    if ref is not None and previous in ("last", "gecen", "gectigimiz") and month >= ref.month:
        start, end = _month_range(ref.year - 1, month)
        return _Hit(m.span(), start, end)
    if ref is not None and previous in ("this", "bu"):
        start, end = _month_range(ref.year, month)
        return _Hit(m.span(), start, end)
    return _Hit(m.span(), month=month, since=since)


def _year_alone(m: re.Match, folded: str, ref: dt.date | None) -> _Hit | None:
    previous = _previous_word(folded, m.start())
    if not (m["yr_s"] or m["yr_w"] or previous in _CONTEXT_WORDS):
        return None  # "2023 kişi": a count, not a year
    year = int(m["yr_y"])
    if (m["yr_s"] or "").startswith("'l"):  # "1990'lı yıllar": a decade, or nothing sure
        return (
            _Hit(m.span(), dt.date(year, 1, 1), dt.date(year + 9, 12, 31))
            if year % 10 == 0
            else None
        )
    start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    if m["yr_since"] or previous in ("since", "from"):
        return _Hit(m.span(), start, ref or end)
    if previous == "before":
        return _Hit(m.span(), None, start - dt.timedelta(days=1))
    if previous == "after":
        return _Hit(m.span(), end + dt.timedelta(days=1), None)
    return _Hit(m.span(), start, end, year_only=True)


_HANDLERS = {
    "iso": _iso,
    "dmy": _dmy,
    "span": _span,
    "dm": _day_month,
    "md": _day_month,
    "ym": _month_year,
    "my": _month_year,
    "roll": _rolling,
    "prev": _previous,
    "this": _this,
    "ago": _ago,
    "before_yesterday": _days_back(2),
    "latest": _latest,
    "today": _days_back(0),
    "yesterday": _days_back(1),
    "son": _son,
    "mo": _month_alone,
    "yr": _year_alone,
}


def _year_for(month: int, day: int, ref: dt.date, question_mode: bool) -> int:
    """A question means the most recent such month or day (today included); a text the one
    nearest to its date, before or after it ("15 Ocak'ta yapılacak", written in December)."""
    if question_mode:
        return ref.year if (month, day) <= (ref.month, ref.day) else ref.year - 1
    return min(
        (ref.year - 1, ref.year, ref.year + 1),
        key=lambda y: abs((_day(y, month, day or 15) or ref) - ref),
    )


def _previous_word(folded: str, position: int) -> str:
    """The word before `position`, lower-cased ("" at the start): a window, not the whole
    text before it, so that scanning a long article stays linear. Matched on the window
    reversed: searching for a word at its end tries every start in it."""
    before = _LAST_WORD_REVERSED.match(folded[max(0, position - 40) : position][::-1])
    return before[1][::-1] if before else ""


def _number(word: str) -> int:
    return int(word) if word.isdigit() else _NUMBERS[word]


def _day(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _month_range(year: int, month: int) -> tuple[dt.date, dt.date]:
    return dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])


def _add_months(year: int, month: int, delta: int) -> tuple[int, int]:
    index = year * 12 + month - 1 + delta
    return index // 12, index % 12 + 1


def _shift_months(day: dt.date, delta: int) -> dt.date:
    year, month = _add_months(day.year, day.month, delta)
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _in_year(day: dt.date, year: int) -> dt.date | None:
    return _day(year, day.month, day.day)
