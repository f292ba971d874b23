"""English → Turkish query translation for questions asked in English.

The bundled model matches across languages only roughly: "who chaired ..." scores the
sentence where someone *attended* the conference above the one where someone *chaired* it.
Dictionary-based query translation, the classic cross-language retrieval technique, gives
the lexical side Turkish words to match and tells the highlight which relation was asked
about. The hand-written glossary (data/glossary-en-tr.tsv) holds common news words and
wins where both know a word; the induced one (data/glossary-en-tr-induced.tsv, built from
the bundled model by benchmarks/build_glossary.py) covers the rest of everyday English.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

GLOSSARY = Path(__file__).with_name("data") / "glossary-en-tr.tsv"
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


@lru_cache(maxsize=1)
def entries() -> tuple[dict[str, tuple[str, ...]], ...]:
    """The word tables in the order they are asked: hand-written first."""
    induced = _read(INDUCED) if INDUCED.exists() else {}
    return _read(GLOSSARY), induced


def _read(path: Path) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        english, _, turkish = line.partition("\t")
        phrases = tuple(p.strip() for p in turkish.split(";") if p.strip())
        out[english.strip()] = out.get(english.strip(), ()) + phrases
    return out


def translate_word(word: str) -> tuple[str, ...]:
    """Turkish renderings of one English word, as written or through its lemma; the hand
    glossary's lemma ("chaired" → chair) wins over the induced list's inflected form."""
    word = word.lower()
    lemmas = [word] + [
        word[: -len(suffix)] + replacement
        for suffix, replacement in _SUFFIXES
        if word.endswith(suffix) and len(word) - len(suffix) >= 3
    ]
    for table in entries():
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
