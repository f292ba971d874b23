"""English → Turkish query translation for questions asked in English.

The bundled model matches across languages only roughly: "who chaired ..." scores the
sentence where someone *attended* the conference above the one where someone *chaired* it.
Dictionary-based query translation, the classic cross-language retrieval technique, gives
the lexical side Turkish words to match and tells the highlight which relation was asked
about. The glossary (data/glossary-en-tr.tsv) holds common news and encyclopaedia words.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

GLOSSARY = Path(__file__).with_name("data") / "glossary-en-tr.tsv"
_ENGLISH_WORD = re.compile(r"[a-z]+")
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


@lru_cache(maxsize=1)
def entries() -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for line in GLOSSARY.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        english, _, turkish = line.partition("\t")
        phrases = tuple(p.strip() for p in turkish.split(";") if p.strip())
        out[english.strip()] = out.get(english.strip(), ()) + phrases
    return out


def translate_word(word: str) -> tuple[str, ...]:
    """Turkish renderings of one English word, through its lemma; () when unknown."""
    table = entries()
    word = word.lower()
    if word in table:
        return table[word]
    for suffix, replacement in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            lemma = word[: -len(suffix)] + replacement
            if lemma in table:
                return table[lemma]
    return ()


def translate(text: str) -> str:
    """The Turkish words for the English words of `text` that the glossary knows."""
    return " ".join(
        phrase for word in _ENGLISH_WORD.findall(text.lower()) for phrase in translate_word(word)
    )
