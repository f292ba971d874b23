"""Sentence-aware splitting of articles into overlapping passages.

Passages are the unit that is ranked, embedded and quoted, so they are a few whole
sentences (never a cut mid-sentence), small enough for the embedding model's token limit,
with one sentence of overlap so an answer that straddles two passages is whole in one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from dataclasses import dataclass
from typing import NamedTuple

from embeddings.corpus import Article, attribution_tail

MAX_WORDS = 100  # ~200 multilingual-e5 tokens for Turkish text; the model's limit is 512
MIN_WORDS = 60  # below this a passage keeps taking sentences past a paragraph break
# Words a question about an article's source uses, in Turkish (English questions reach them
# through the glossary: "agency" → "ajans", "source" → "kaynak").
ATTRIBUTION_LABEL = "Haberin kaynağı, haber ajansı:"

# Abbreviations after which a period does not end a Turkish (or English) sentence.
ABBREVIATIONS = frozenset(
    [
        "dr",
        "prof",
        "doç",
        "doc",
        "yrd",
        "av",
        "müh",
        "muh",
        "sn",
        "bkz",
        "vb",
        "vs",
        "örn",
        "orn",
        "yy",
        "mah",
        "cad",
        "sok",
        "apt",
        "no",
        "tel",
        "st",
        "mr",
        "mrs",
        "ms",
        "jr",
        "sr",
        "inc",
        "ltd",
        "şti",
        "sti",
        "co",
        "corp",
        "gen",
        "col",
        "lt",
        "sgt",
        "yön",
        "hz",
        "age",
        "alb",
        "kur",
        "bşk",
        "bsk",
        "ort",
        "tic",
        "san",
    ]
)
# A sentence end: punctuation, closing quotes, a space, and then what a sentence opens with.
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*\s+(?=[\"'“‘(\[]*[A-ZÇĞİÖŞÜ0-9])")


@dataclass(frozen=True)
class Passage:
    id: str
    article_id: str
    position: int
    sentences: tuple[str, ...]
    paragraph_starts: tuple[bool, ...]  # sentence i opens a new paragraph
    title: str
    title_in_text: bool  # the title was derived from the text, so it adds nothing to ranking
    attribution: str | None = None  # the article's source, on the passage that names it

    @property
    def text(self) -> str:
        return join_sentences(self.sentences, self.paragraph_starts)

    @property
    def ranking_text(self) -> str:
        """What is embedded and lexically indexed: a real title gives a passage its topic,
        and the article's attribution, labelled, makes "which agency reported…" findable
        ("VNA'ya göre" alone shares no word with "kaynağı hangi ajans?")."""
        text = self.text if self.title_in_text else f"{self.title}\n{self.text}"
        return f"{text}\n{ATTRIBUTION_LABEL} {self.attribution}" if self.attribution else text


def join_sentences(sentences: tuple[str, ...], paragraph_starts: tuple[bool, ...]) -> str:
    """Display text: sentences joined by spaces, paragraphs by newlines."""
    parts = [sentences[0]]
    for sentence, starts in zip(sentences[1:], paragraph_starts[1:], strict=True):
        parts.append(("\n" if starts else " ") + sentence)
    return "".join(parts)


def split_sentences(paragraph: str) -> list[str]:
    """Split one paragraph into sentences without breaking at "13." or "Dr."."""
    sentences, start = [], 0
    for match in _SENTENCE_END.finditer(paragraph):
        dot = match.start()
        if paragraph[dot] == ".":
            token = paragraph[start : dot + 1].rsplit(None, 1)[-1]  # the word the dot ends
            if _is_non_terminal(token.rstrip(".!?…").lower()):
                continue
        end = match.end()
        sentences.append(paragraph[start:end].strip())
        start = end
    tail = paragraph[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def _is_non_terminal(word: str) -> bool:
    """Ordinals ("13."), initials ("K."), abbreviations ("Prof.") and dotted acronyms."""
    if word.isdigit():
        return len(word) <= 3
    bare = word.lstrip("(\"'“‘")
    return len(bare) == 1 or bare in ABBREVIATIONS or "." in bare


def split_article(article: Article, max_words: int = MAX_WORDS) -> list[Passage]:
    """Greedy packing of sentences into passages with one sentence of overlap."""
    paragraphs = article.paragraphs
    body = len(paragraphs) - attribution_tail(paragraphs)
    units = [u for p in paragraphs[:body] for u in _units(p, max_words)]
    # Closing attribution lines ("VNA'ya göre") stay with the passage before them: a
    # passage of their own would repeat that passage's last sentence, or be two words.
    sticky_from = len(units)
    units += [u for p in paragraphs[body:] for u in _units(p, max_words)]
    windows: list[list[_Unit]] = []
    current: list[_Unit] = []
    words = fresh = 0  # fresh: sentences not already carried over from the previous passage
    for number, unit in enumerate(units):
        n = unit.words
        full = words + n > max_words
        breaks = unit.starts and words >= MIN_WORDS and number < sticky_from
        if current and fresh and (full or breaks):
            windows.append(current)
            # One sentence of overlap, unless it alone would overflow with the next one or
            # is the whole window (the next passage would then contain this one).
            keep = current[-1]
            kept = keep.words
            if len(current) > 1 and kept + n <= max_words:
                current, words, fresh = [keep], kept, 0
            else:
                current, words, fresh = [], 0, 0
        current.append(unit)
        words += n
        fresh += 1
    if current and fresh:
        windows.append(current)
    title_in_text = article.text.startswith(article.title.rstrip("…"))
    # The attribution is labelled on the passage that holds it: the closing lines are in the
    # last one, an agency dateline ("VAN (AA) -") in the first.
    dateline = bool(article.attribution) and body == len(paragraphs) and bool(paragraphs)
    dateline = dateline and f"({article.attribution})" in paragraphs[0]
    passages: list[Passage] = []
    seen: set[str] = set()
    for window in windows:
        sentences = tuple(unit.text for unit in window)
        starts = (True, *(unit.starts for unit in window[1:]))
        pid = passage_id(article, sentences, starts)
        if pid in seen:  # a repeated block of text adds nothing to retrieval
            continue
        seen.add(pid)
        passages.append(
            Passage(
                id=pid,
                article_id=article.id,
                position=len(passages),
                sentences=sentences,
                paragraph_starts=starts,
                title=article.title,
                title_in_text=title_in_text,
            )
        )
    if article.attribution and passages:
        where = 0 if dateline else len(passages) - 1
        passages[where] = dataclasses.replace(passages[where], attribution=article.attribution)
    return passages


def passage_id(article: Article, sentences: tuple[str, ...], starts: tuple[bool, ...]) -> str:
    """Content hash: the same article text always yields the same passage ids."""
    layout = "".join("1" if flag else "0" for flag in starts)
    payload = "\x1f".join((article.id, article.title, layout, *sentences))
    return hashlib.blake2b(payload.encode(), digest_size=8).hexdigest()


class _Unit(NamedTuple):
    """A sentence, or a piece of a run-on one, and its number of words (counted once)."""

    text: str
    starts: bool  # opens its paragraph
    words: int


def _units(paragraph: str, max_words: int) -> list[_Unit]:
    return [
        _Unit(piece, i == 0, words)
        for i, sentence in enumerate(split_sentences(paragraph))
        for piece, words in _cap_words(sentence, max_words)
    ]


def _cap_words(sentence: str, max_words: int) -> list[tuple[str, int]]:
    """A run-on "sentence" longer than a passage is cut into word windows; (text, words)."""
    tokens = sentence.split()
    if len(tokens) <= max_words:
        return [(sentence, len(tokens))]
    windows = (tokens[i : i + max_words] for i in range(0, len(tokens), max_words))
    return [(" ".join(window), len(window)) for window in windows]
