"""An article page's title, publication date, language and main text (trafilatura), with
navigation, cookie banners, ads, related-news lists, comments and footers left out.

The date is the page's own publication date from its markup (htmldate, through trafilatura,
without the "extensive" guessing that would read "© 2025" in a footer as a date); a page
without one gets the feed item's date from the caller. CPU-bound: call it off the event loop.
"""

from __future__ import annotations

from dataclasses import dataclass

import trafilatura
from trafilatura.utils import load_html

MIN_TEXT_CHARS = 80  # less is a teaser, a paywall or a page that is not an article
DATE_PARAMS = {"extensive_search": False, "original_date": True}


@dataclass(frozen=True)
class Extracted:
    title: str | None
    date: str | None  # ISO YYYY-MM-DD
    lang: str | None
    paragraphs: list[str]


def extract_article(html: bytes, url: str, charset: str | None = None) -> Extracted | None:
    """The article on the page, or None when no article text could be found. `charset`: the
    one the server declared (else it is read from the page or guessed)."""
    tree = load_html(_decoded(html, charset), max_size=len(html) * 4)
    if tree is None:
        return None
    lang = _language(tree.get("lang"))
    document = trafilatura.bare_extraction(
        tree,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        favor_precision=True,
        date_extraction_params=DATE_PARAMS,
    )
    if document is None or not document.text:
        return None
    title = " ".join((document.title or "").split()) or None
    paragraphs = [" ".join(line.split()) for line in document.text.split("\n")]
    paragraphs = [p for p in paragraphs if p]
    if paragraphs and title and paragraphs[0] == title:  # the page's <h1>
        paragraphs = paragraphs[1:]
    if sum(len(p) for p in paragraphs) < MIN_TEXT_CHARS:
        return None
    return Extracted(title=title, date=document.date, lang=lang, paragraphs=paragraphs)


def _decoded(html: bytes, charset: str | None) -> bytes | str:
    if charset:
        try:
            return html.decode(charset)
        except (LookupError, UnicodeDecodeError):
            pass  # a wrong declaration: let the page's own, or a guess, decide
    return html


def _language(value: str | None) -> str | None:
    """ "tr-TR" → "tr"."""
    code = (value or "").strip().split("-", 1)[0].split("_", 1)[0].lower()
    return code if code.isalpha() and 2 <= len(code) <= 3 else None
