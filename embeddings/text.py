"""Turkish-aware normalisation, tokenisation and stemming for the lexical index.

Index text and questions go through the same `terms()` so they always meet on the same
vocabulary: Turkish casing first (İ→i, I→ı, which `str.lower` gets wrong), Snowball
Turkish stemming on the properly spelt word, and only then diacritics folded away so that a
question typed on a keyboard without Turkish letters still finds its words.

Each word also yields its first five letters as a second term. Snowball is inconsistent on
Turkish inflection ("Konferansa"→konfera but "konferansına"→konferans, "Başkanı"→baska),
and fixed-prefix truncation is known to match stemming on Turkish retrieval (Can et al.,
2008); the two together measured best on XQuAD-tr (see README).
"""

from __future__ import annotations

import re
import unicodedata

import Stemmer

from embeddings import glossary

# Folding applied after stemming: Turkish letters and circumflexes to plain ASCII.
_FOLD = str.maketrans("ıçğöşüâîû", "icgosuaiu")
# A word, and an apostrophe suffix ("Hanoi'de") matched but not kept, as Turkish cuts it off.
_WORD = re.compile(r"([^\W_]+)(?:['’][^\W_]+)?", re.UNICODE)
_TURKISH_LETTERS = set("çğışöüÇĞİŞÖÜ")

# Question words and function words in both query languages. Dropping them keeps BM25 from
# rewarding passages for "ne", "kim", "the", "what" and keeps FTS5 posting lists short.
STOPWORDS_TR = frozenset(
    [
        "acaba",
        "ama",
        "ancak",
        "artık",
        "aslında",
        "az",
        "bazı",
        "belki",
        "ben",
        "beni",
        "benim",
        "bile",
        "bir",
        "biri",
        "birkaç",
        "birşey",
        "biz",
        "bize",
        "bizi",
        "bu",
        "buna",
        "bunda",
        "bundan",
        "bunu",
        "bunun",
        "burada",
        "çok",
        "çünkü",
        "da",
        "daha",
        "de",
        "defa",
        "diye",
        "dolayı",
        "en",
        "gibi",
        "göre",
        "hangi",
        "hangisi",
        "hem",
        "hep",
        "hepsi",
        "her",
        "herhangi",
        "hiç",
        "için",
        "ile",
        "ise",
        "işte",
        "kaç",
        "kadar",
        "kendi",
        "kez",
        "ki",
        "kim",
        "kime",
        "kimi",
        "kimin",
        "mı",
        "mi",
        "mu",
        "mü",
        "nasıl",
        "ne",
        "neden",
        "nedir",
        "nerede",
        "nereye",
        "niçin",
        "niye",
        "o",
        "ona",
        "onda",
        "ondan",
        "onlar",
        "onu",
        "onun",
        "olan",
        "olarak",
        "oldu",
        "olduğu",
        "olduğunu",
        "olmak",
        "olur",
        "şey",
        "şu",
        "şuna",
        "şunu",
        "sonra",
        "tarafından",
        "üzere",
        "ve",
        "veya",
        "ya",
        "yani",
        "yine",
    ]
)
STOPWORDS_EN = frozenset(
    [
        "a",
        "about",
        "after",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "being",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "may",
        "might",
        "of",
        "on",
        "or",
        "so",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "to",
        "was",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "whom",
        "whose",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
    ]
)

QUESTION_WORDS = frozenset(
    """
    kim kime kimi kimin kimden kimler ne neyi neye neden neyin nerede nereye nereden neresi
    hangi hangisi hangileri kaç kaçı kaçıncı nasıl niçin niye who whom whose what which where
    when why how
    """.split()
)

# Bump when terms() or what they are taken from changes: every article is analysed again.
# 3: passages' ranking text labels the attribution; articles gain their news facts (news.py).
ANALYZER_VERSION = "stem+prefix5/3"
PREFIX_LETTERS = 5
PREFIX_MARK = "_"  # keeps prefix terms apart from stems; never part of a word token

_stemmer = Stemmer.Stemmer("turkish")


def turkish_lower(text: str) -> str:
    """Lower-case with Turkish dotted/dotless i rules, NFC-composed."""
    return unicodedata.normalize("NFC", text).replace("İ", "i").replace("I", "ı").lower()


def fold(text: str) -> str:
    """Strip diacritics (Turkish letters and any other Latin accents) to plain ASCII letters."""
    text = text.translate(_FOLD)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    """Lower-cased word tokens; an apostrophe suffix ("Hanoi'de") is cut off as Turkish does."""
    return _WORD.findall(turkish_lower(text))


def stem(word: str) -> str:
    """Snowball Turkish stem of a lower-cased word, then folded to ASCII."""
    if word.isdigit():
        return word
    return _alnum(fold(_stemmer.stemWord(word)))


def _alnum(term: str) -> str:
    """Only characters SQLite's unicode61 tokenizer also keeps in a token: folding can
    produce others ("5½" → "51⁄2"), and index and FTS5 must count the same terms."""
    return "".join(c for c in term if c.isalnum())


_STOP_FOLDED = frozenset(fold(w) for w in STOPWORDS_TR | STOPWORDS_EN)


def terms(text: str) -> list[str]:
    """Index/query terms: per word its folded stem and its prefix term, stopwords dropped."""
    known = _WORD_TERMS
    return [term for word in words(text) for term in known[word]]


class _WordTerms(dict[str, tuple[str, ...]]):
    """Each word's terms, computed on first use: a corpus's vocabulary is small beside its
    text, and the highlight stems the top passages' sentences at question time. A plain
    dict lookup per word (no call); emptied when full, so it stays bounded in a long-lived
    bot."""

    LIMIT = 200_000

    def __missing__(self, word: str) -> tuple[str, ...]:
        if len(self) >= self.LIMIT:
            self.clear()
        found = self[word] = _word_terms(word)
        return found


def _word_terms(word: str) -> tuple[str, ...]:
    folded = fold(word)
    if folded in _STOP_FOLDED:
        return ()
    out = []
    if stemmed := stem(word):
        out.append(stemmed)
    if not word.isdigit() and (prefix := _alnum(folded)[:PREFIX_LETTERS]):
        out.append(PREFIX_MARK + prefix)
    return tuple(out)


_WORD_TERMS = _WordTerms()


def focus_terms(question: str) -> frozenset[str]:
    """Terms of the words right after the question word: the relation asked about.

    "16 Aralık konferansına kim başkanlık etti?" asks for whoever *başkanlık etti*; the
    date only locates the event, so numbers are never the focus. English puts the relation
    right after the question word too ("who chaired ..."): one word, and its Turkish
    translation (glossary.py) is what the corpus holds.
    """
    tokens = words(question)
    english = detect_language(question) == "en"
    for i, token in enumerate(tokens):
        if token in QUESTION_WORDS:
            following = [
                w for w in tokens[i + 1 :] if fold(w) not in _STOP_FOLDED and not w.isdigit()
            ]
            if not english:
                return frozenset(terms(" ".join(following[:2])))
            text = " ".join(following[:1])
            return frozenset(terms(text) + terms(glossary.translate(text)))
    return frozenset()


def detect_language(text: str) -> str:
    """'tr' or 'en' for a question, to answer in the asker's language.

    Turkish letters or more Turkish than English function words mean Turkish; anything
    else is treated as English (the other supported query language).
    """
    if any(c in _TURKISH_LETTERS for c in text):
        return "tr"
    tokens = words(text)
    tr = sum(t in STOPWORDS_TR for t in tokens)
    en = sum(t in STOPWORDS_EN for t in tokens)
    return "tr" if tr > en else "en"
