"""Republished stories: articles whose text is a near copy of an earlier article's.

Agencies' stories are reposted by many outlets with a new first line, another title, a word
changed or a paragraph cut. Each article gets a MinHash signature of its text's word shingles
at index time, and joins the story of the most similar earlier article when their estimated
Jaccard similarity reaches `THRESHOLD`; LSH banding finds the candidates without comparing
every pair. Questions then pay nothing: a story id is a stored column.

Why these numbers (benchmarks/stories_precision.py: synthetic copies of XQuAD-tr texts and the
seed articles). 5-word shingles: distinct texts of one topic share almost none (estimated
Jaccard at most 0.016 among the paragraphs of one XQuAD article), so shared names and stock
phrases do not add up. THRESHOLD 0.4, about 57% of shingles in common for texts of equal
length: "second reports" made of one sentence from each text on a topic score up to 0.25
against those texts, and 0.38 against a copy cut down to two sentences; 0.4 stays above them
and above the estimate's noise (±0.04 at 128 values). Copies of ~500-word articles with a new
lead, a sentence cut or added, 5% of words changed, or all of these at once score 0.54 or
more: precision and recall 1.0. On ~100-word texts, where a new lead is a fifth of the text,
recall is 0.86 (0.51 for all edits at once), precision 1.0. Precision comes first: a missed
copy is shown twice, a false merge hides an article.
"""

from __future__ import annotations

import functools
import hashlib
import re
import zlib
from collections.abc import Iterable, Sequence

import numpy as np

SHINGLE_WORDS = 5
NUM_PERM = 128
BANDS, ROWS = 42, 3  # of the NUM_PERM values, BANDS * ROWS make the LSH keys
THRESHOLD = 0.4
MAX_PEERS = 64  # in an LSH bucket, compare with at most this many earlier members
DIRECT_ROWS = 50  # fewer new rows than 1/DIRECT_ROWS of all: compared key by key, not sorted
_EMPTY = np.iinfo(np.uint32).max

_WORD = re.compile(r"[^\W_]+")


def _odd_constants(label: str, count: int) -> np.ndarray:
    """Fixed pseudo-random odd 64-bit multipliers. Derived from BLAKE2b, not from NumPy's
    generators (whose streams may change between releases): stored signatures must stay
    comparable with new ones."""
    return np.array(
        [
            int.from_bytes(hashlib.blake2b(f"{label}:{i}".encode(), digest_size=8).digest()) | 1
            for i in range(count)
        ],
        dtype=np.uint64,
    )


_A = _odd_constants("minhash-a", NUM_PERM)
_B = _odd_constants("minhash-b", NUM_PERM)
_SHINGLE_MIX = _odd_constants("shingle", SHINGLE_WORDS)
_BAND_MIX = _odd_constants("band", ROWS)
_CHUNK = 4096  # shingles hashed at once: bounds memory at NUM_PERM * _CHUNK * 8 bytes
_PAIR_CHUNK = 1 << 14  # candidate pairs compared at once: 16 MiB of signatures, not gigabytes


def words(text: str) -> list[str]:
    """Lower-cased words, punctuation dropped: a copy retyped with other quotes, dashes or
    capitals reads the same (dotted and dotless i are one letter, as upper-case Turkish text
    lower-cased by a program that does not know Turkish would have it)."""
    return _WORD.findall(text.replace("İ", "i").lower().replace("ı", "i"))  # "I" lowers to "i"


def signature(text: str) -> np.ndarray:
    """MinHash of the text's word 5-shingles: NUM_PERM uint32 values, stable across processes
    and machines (to be stored). The fraction of equal values between two signatures
    estimates the Jaccard similarity of their shingle sets."""
    tokens = words(text)
    if not tokens:
        return np.full(NUM_PERM, _EMPTY, dtype=np.uint32)
    ids = np.fromiter(map(zlib.crc32, map(str.encode, tokens)), np.uint64, len(tokens))
    # A polynomial hash of each k words, in wrapping uint64 arithmetic. A shingle repeated
    # is hashed twice: its minimum is the same, and that costs less than dropping repeats.
    shingles = np.correlate(ids, _SHINGLE_MIX[: min(SHINGLE_WORDS, len(ids))])
    chunks = (shingles[i : i + _CHUNK] for i in range(0, len(shingles), _CHUNK))
    result = functools.reduce(np.minimum, map(_min_hashes, chunks))
    return (result >> np.uint64(32)).astype(np.uint32)


def _min_hashes(shingles: np.ndarray) -> np.ndarray:
    """Per permutation, the least multiply-add hash of the shingles (the sum added in place:
    a second temporary of this size costs more than the hashing)."""
    hashed = np.multiply.outer(_A, shingles)
    hashed += _B[:, None]
    return hashed.min(axis=1)


def signatures(texts: Iterable[str]) -> np.ndarray:
    """One signature per text, as rows of a (n, NUM_PERM) uint32 matrix."""
    rows = [signature(t) for t in texts]
    return np.vstack(rows) if rows else np.empty((0, NUM_PERM), dtype=np.uint32)


def similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray | float:
    """Estimated Jaccard similarity of two signatures, or row by row of two matrices."""
    equal = np.asarray(a) == np.asarray(b)
    return equal.mean(axis=-1)


class StoryIndex:
    """Story ids of the indexed articles. A story is named after its first article: add
    articles oldest first, so that the original gets the name and reposts join it.

    Rebuilt from stored (id, signature, story) rows; `add` assigns new articles, `remove`
    forgets articles (their stories keep their names for the articles still in them). An
    article whose text changed is removed and added again."""

    def __init__(
        self,
        ids: Sequence[str] = (),
        sigs: np.ndarray | None = None,
        stories: Sequence[str] | None = None,
        threshold: float = THRESHOLD,
    ) -> None:
        self.threshold = threshold
        self.ids: list[str] = list(ids)
        self.stories: list[str] = list(stories) if stories is not None else list(self.ids)
        self.sigs = (
            np.asarray(sigs, dtype=np.uint32).reshape(-1, NUM_PERM)
            if sigs is not None
            else np.empty((0, NUM_PERM), dtype=np.uint32)
        )
        if not (len(self.ids) == len(self.stories) == len(self.sigs)):
            raise ValueError("ids, signatures and stories must have one row per article")
        self._keys = _band_keys(self.sigs)

    def __len__(self) -> int:
        return len(self.ids)

    def story_of(self, article_id: str) -> str:
        return self.stories[self.ids.index(article_id)]

    def add(self, ids: Sequence[str], sigs: np.ndarray) -> list[str]:
        """Add articles in order; each joins the story of the most similar article before it
        (already indexed, or earlier in `ids`) when the similarity reaches the threshold, and
        starts its own story, named by its id, otherwise. Returns the new articles' stories."""
        sigs = np.asarray(sigs, dtype=np.uint32).reshape(-1, NUM_PERM)
        if len(ids) != len(sigs):
            raise ValueError("one signature per id")
        first = len(self.ids)
        self.ids.extend(ids)
        self.sigs = np.vstack([self.sigs, sigs])
        self._keys = np.vstack([self._keys, _band_keys(sigs)])
        best = self._best_earlier(first)
        taken = set(self.stories)
        for row in range(first, len(self.ids)):
            match = best.get(row)
            name = self.stories[match] if match is not None else self._new_name(row, taken)
            self.stories.append(name)
            taken.add(name)
        return self.stories[first:]

    def _new_name(self, row: int, taken: set[str]) -> str:
        """The article's id, unless a story already has that name (its first article was
        edited and left it, the others keep the name): then "id#2", "id#3"…"""
        name, n = self.ids[row], 1
        while name in taken:
            n += 1
            name = f"{self.ids[row]}#{n}"
        return name

    def remove(self, ids: Iterable[str]) -> None:
        gone = set(ids)
        if not gone:
            return
        keep = np.array([i not in gone for i in self.ids], dtype=bool)
        self.ids = [i for i, k in zip(self.ids, keep, strict=True) if k]
        self.stories = [s for s, k in zip(self.stories, keep, strict=True) if k]
        self.sigs = self.sigs[keep]
        self._keys = self._keys[keep]

    def _best_earlier(self, first: int) -> dict[int, int]:
        """For each row from `first` on, the earlier row most similar to it, if similar enough.

        Candidates are earlier rows sharing a band key (rows of one bucket are compared with
        at most MAX_PEERS members before them: boilerplate can fill a bucket, and a true copy
        shares several bands anyway); they are then checked on the whole signature. A few
        rows added to many (an update) are compared key by key instead of sorting them all."""
        if (len(self.ids) - first) * DIRECT_ROWS < len(self.ids):
            return self._best_earlier_direct(first)
        size = len(self.ids)
        pairs = []  # (earlier, later) as one int64 each: a unique over rows is many times slower
        for band in range(BANDS):
            keys = self._keys[:, band]
            order = np.argsort(keys, kind="stable")  # within a bucket, rows stay in order
            sorted_keys = keys[order]
            for gap in range(1, MAX_PEERS + 1):
                same = sorted_keys[gap:] == sorted_keys[:-gap]
                later = order[gap:]
                hit = same & (later >= first)
                if not hit.any():
                    break
                pairs.append(order[:-gap][hit] * size + later[hit])
        if not pairs:
            return {}
        unique = np.sort(np.concatenate(pairs))  # np.unique hashes int64: several times slower
        unique = unique[np.r_[True, unique[1:] != unique[:-1]]]
        return self._verified(unique // size, unique % size)

    def _best_earlier_direct(self, first: int) -> dict[int, int]:
        earlier = [
            np.flatnonzero((self._keys[:row] == self._keys[row]).any(axis=1))
            for row in range(first, len(self.ids))
        ]
        later = [np.full(len(rows), row) for row, rows in enumerate(earlier, start=first)]
        return self._verified(np.concatenate(earlier), np.concatenate(later)) if earlier else {}

    def _verified(self, earlier: np.ndarray, later: np.ndarray) -> dict[int, int]:
        """For each later row of the (earlier, later) candidate pairs, its most similar
        earlier row among those similar enough: of equally similar ones, the first pair's."""
        score = np.empty(len(earlier))  # as `similarity` gives it, a chunk of pairs at a time
        for i in range(0, len(earlier), _PAIR_CHUNK):
            a, b = earlier[i : i + _PAIR_CHUNK], later[i : i + _PAIR_CHUNK]
            same = np.take(self.sigs, a, axis=0) == np.take(self.sigs, b, axis=0)
            score[i : i + _PAIR_CHUNK] = np.count_nonzero(same, axis=1) / NUM_PERM
        real = np.flatnonzero(score >= self.threshold)
        real = real[(self.sigs[later[real]] != _EMPTY).any(axis=1)]
        earlier, later, score = earlier[real], later[real], score[real]
        best = np.lexsort((-score, later))  # stable: equal scores keep the pairs' order
        head = np.ones(len(best), dtype=bool)  # the first of each later row
        head[1:] = later[best[1:]] != later[best[:-1]]
        return dict(zip(later[best[head]].tolist(), earlier[best[head]].tolist(), strict=True))


def _band_keys(sigs: np.ndarray) -> np.ndarray:
    """One uint64 per band and article: equal keys mean ROWS equal MinHash values (a
    collision of the mix is possible, and harmless: candidates are verified)."""
    bands = sigs[:, : BANDS * ROWS].reshape(len(sigs), BANDS, ROWS).astype(np.uint64)
    return (bands * _BAND_MIX).sum(axis=2, dtype=np.uint64)
