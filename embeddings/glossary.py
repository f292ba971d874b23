"""English → Turkish query translation for questions asked in English.

The bundled model matches across languages only roughly: "who chaired ..." scores the
sentence where someone *attended* the conference above the one where someone *chaired* it.
Dictionary-based query translation, the classic cross-language retrieval technique, gives
the lexical side Turkish words to match and tells the highlight which relation was asked
about. Three word tables, asked in order, the first that knows a word winning:
data/glossary-en-tr.tsv, news vocabulary curated for qabot; data/glossary-en-tr-common.tsv,
the 16,000 commonest English content words translated by hand; and
data/glossary-en-tr-induced.tsv, induced from the bundled model by
benchmarks/build_glossary.py for the rarer words beyond them (noisy: about half right).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

GLOSSARY = Path(__file__).with_name("data") / "glossary-en-tr.tsv"
COMMON = GLOSSARY.with_name("glossary-en-tr-common.tsv")
INDUCED = GLOSSARY.with_name("glossary-en-tr-induced.tsv")
_WORD = re.compile(r"[^\W_]+")
# Inflections tried, longest first: (suffix, replacement) giving the lemma.
_SUFFIXES = (
    ("ies", "y"),
    ("ied", "y"),
    ("ing", ""),
    ("ing", "e"),
    ("ed", ""),
    ("ed", "e"),
    ("es", ""),
    ("s", ""),
    ("d", ""),
)


Table = dict[str, tuple[str, ...]]


@lru_cache(maxsize=1)
def entries() -> tuple[Table, ...]:
    """The word tables in the order they are asked (a missing file is an empty table)."""
    return tuple(_read(path) for path in (GLOSSARY, COMMON, INDUCED))


def _read(path: Path) -> Table:
    out: Table = {}
    if not path.exists():
        return out
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        english, _, turkish = line.partition("\t")
        phrases = tuple(p.strip() for p in turkish.split(";") if p.strip())
        out[english.strip()] = out.get(english.strip(), ()) + phrases
    return out


def translate_word(word: str, tables: tuple[Table, ...] | None = None) -> tuple[str, ...]:
    """Turkish renderings of one English word, as written or through its lemma; an earlier
    table's lemma ("chaired" → chair) wins over a later one's inflected form."""
    word = word.lower()
    lemmas = [word] + [
        word[: -len(suffix)] + replacement
        for suffix, replacement in _SUFFIXES
        if word.endswith(suffix) and len(word) - len(suffix) >= 3
    ]
    for table in entries() if tables is None else tables:
        for lemma in lemmas:
            if lemma in table:
                return table[lemma]
    return ()


def translations(text: str) -> list[tuple[str, tuple[str, ...]]]:
    """Each word of an English `text` with its Turkish renderings (() when unknown)."""
    return [(word, translate_word(word)) for word in _WORD.findall(text.lower())]


def translate(text: str) -> str:
    """The Turkish words for the English words of `text` that the glossary knows."""
    return " ".join(phrase for _, phrases in translations(text) for phrase in phrases)
