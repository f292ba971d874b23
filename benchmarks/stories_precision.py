"""Precision and recall of republished-story detection (embeddings/stories.py).

Real text, synthetic copies: every document of XQuAD-tr (48 Wikipedia articles, each as a
whole and each of its 240 paragraphs as a short news-sized text) and the two seed articles
gets copies edited the way outlets repost an agency story, and must join its story; distinct
documents must not, among them paragraphs of the same article (one topic, shared names and
phrasing) and "second reports": a sentence from each paragraph of one article, so that each
shares one sentence with it.

    python benchmarks/stories_precision.py [--threshold 0.4] [--seed 1]

Prints, per document set, the recall of each kind of copy, pairwise precision and recall of
the story ids that StoryIndex assigns (LSH candidates, then the signature check), the
similarity of the least similar copy and of the most similar distinct pair, and a sweep of
the threshold over exact signature similarity (no LSH) on the tuning half of XQuAD's topics
and the held-out half.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from embeddings import stories  # noqa: E402
from embeddings.corpus import load_file  # noqa: E402
from embeddings.splitter import split_sentences  # noqa: E402

XQUAD = ROOT / "benchmarks" / "xquad" / "xquad.tr.json"
SEEDS = ROOT / "corpus"  # the two seed articles, as given
ATTRIBUTIONS = ["Kaynak: AA", "(İHA)", "Anadolu Ajansı", "DHA", "Muhabir: Ahmet Yılmaz"]


@dataclass(frozen=True)
class Doc:
    id: str
    story: str  # the document it is a copy of (itself for an original)
    topic: str
    kind: str  # "original", an edit's name, or "second report"
    text: str


def sentences_of(text: str) -> list[str]:
    return [s for p in text.split("\n") for s in split_sentences(p)]


def edits(text: str, rng: random.Random, vocabulary: list[str], foreign: list[str]):
    """The copies an outlet makes of `text`: (edit name, edited text)."""
    sents = sentences_of(text)

    def substitute(words: list[str], share: float) -> list[str]:
        words = list(words)
        for i in rng.sample(range(len(words)), max(1, round(share * len(words)))):
            words[i] = rng.choice(vocabulary)
        return words

    words = text.split()
    middle = rng.randrange(1, len(sents)) if len(sents) > 1 else 0
    for share in (0.01, 0.03, 0.05):
        yield f"{share:.0%} words changed", " ".join(substitute(words, share))
    yield "sentence added", " ".join([*sents[:middle], foreign.pop(), *sents[middle:]])
    yield "attribution line changed", text + "\n" + rng.choice(ATTRIBUTIONS)
    if len(sents) < 3:  # a new lead or a cut sentence would leave another text
        return
    yield "new first line", " ".join([foreign.pop(), *sents[1:]])
    yield "sentence dropped", " ".join(s for i, s in enumerate(sents) if i != middle or i == 0)
    lead = [foreign.pop(), *sents[1:]]
    dropped = [s for i, s in enumerate(lead) if i != middle or i == 0]
    mixed = " ".join(substitute(" ".join(dropped).split(), 0.02))
    yield "all: lead, 2% words, sentence, attribution", mixed + "\n" + rng.choice(ATTRIBUTIONS)


def build(
    originals: list[tuple[str, str, str]], foreign: list[str], rng: random.Random
) -> list[Doc]:
    """Originals (id, topic, text), their copies, and second reports within each topic.
    New leads and added sentences come from `foreign` texts, outside the set: a sentence of
    another text in it would make the copy partly a copy of that one too."""
    vocabulary = sorted({w for _, _, t in originals for w in t.split()})
    foreign = list(foreign)
    rng.shuffle(foreign)  # each used once, by `edits` popping them
    docs = [Doc(i, i, topic, "original", text) for i, topic, text in originals]
    for i, topic, text in originals:
        for n, (kind, copy) in enumerate(edits(text, rng, vocabulary, foreign)):
            docs.append(Doc(f"{i}~{n}", i, topic, kind, copy))
    by_topic = defaultdict(list)
    for _, topic, text in originals:
        by_topic[topic].append(sentences_of(text))
    for topic, members in by_topic.items():
        # One sentence from each text of the topic with 3 sentences or more, never more than
        # a third of that text: every text shares a sentence with the report, none its bulk.
        sources = [
            [s for s in sents if len(s.split()) <= len(" ".join(sents).split()) / 3]
            for sents in members
            if len(sents) >= 3
        ]
        sources = [short for short in sources if short]
        if len(sources) < 3:
            continue
        report = " ".join(rng.choice(short) for short in sources)
        docs.append(Doc(f"{topic}+report", f"{topic}+report", topic, "second report", report))
    return docs


def evaluate(name: str, docs: list[Doc], threshold: float, rng: random.Random) -> dict:
    started = time.perf_counter()
    sigs = stories.signatures(d.text for d in docs)
    signing = time.perf_counter() - started
    words = sum(len(d.text.split()) for d in docs)
    order = list(range(len(docs)))
    rng.shuffle(order)  # copies arrive before, after and between originals
    index = stories.StoryIndex(threshold=threshold)
    started = time.perf_counter()
    assigned = index.add([docs[i].id for i in order], sigs[order])
    assigning = time.perf_counter() - started
    story_of = dict(zip((docs[i].id for i in order), assigned, strict=True))

    true_pairs, predicted_pairs = set(), set()
    for a, b in itertools.combinations(range(len(docs)), 2):
        if docs[a].story == docs[b].story:
            true_pairs.add((a, b))
        if story_of[docs[a].id] == story_of[docs[b].id]:
            predicted_pairs.add((a, b))
    both = len(true_pairs & predicted_pairs)
    precision = both / len(predicted_pairs) if predicted_pairs else 1.0
    recall = both / len(true_pairs) if true_pairs else 1.0

    original = {d.id: i for i, d in enumerate(docs) if d.kind == "original"}
    per_kind: dict[str, list[bool]] = defaultdict(list)
    copy_sims: dict[str, list[float]] = defaultdict(list)
    for i, d in enumerate(docs):
        if d.kind not in ("original", "second report"):
            o = original[d.story]
            per_kind[d.kind].append(story_of[d.id] == story_of[docs[o].id])
            copy_sims[d.kind].append(float(stories.similarity(sigs[i], sigs[o])))
    distinct = [
        (a, b)
        for a, b in itertools.combinations(range(len(docs)), 2)
        if docs[a].story != docs[b].story
    ]
    a_idx = np.array([a for a, _ in distinct])
    b_idx = np.array([b for _, b in distinct])
    distinct_sims = stories.similarity(sigs[a_idx], sigs[b_idx])
    same_topic = np.array([docs[a].topic == docs[b].topic for a, b in distinct])
    false_merges = [
        (docs[a].id, docs[b].id, round(float(s), 3))
        for (a, b), s in zip(distinct, distinct_sims, strict=True)
        if story_of[docs[a].id] == story_of[docs[b].id]
    ]

    print(f"\n== {name}: {len(docs)} texts, {words / len(docs):.0f} words on average")
    print(f"threshold {threshold}: pairwise precision {precision:.4f}, recall {recall:.4f}")
    print(f"  ({len(predicted_pairs)} pairs merged, {len(true_pairs)} true pairs)")
    for kind, found in per_kind.items():
        sims = copy_sims[kind]
        print(
            f"  recall {sum(found) / len(found):6.1%} of {len(found):3d}  {kind:43s} "
            f"similarity min {min(sims):.2f} median {np.median(sims):.2f}"
        )
    kinds = np.array([(docs[a].kind, docs[b].kind) for a, b in distinct])
    report = (kinds == "second report").any(axis=1)
    if (same_topic & ~report).any():
        top = float(distinct_sims[same_topic & ~report].max())
        print(f"  distinct texts of one topic: max similarity {top:.3f}")
    if report.any():
        print(f"  second reports: max similarity {float(distinct_sims[report].max()):.3f}")
    print(f"  distinct texts, any: max similarity {float(distinct_sims.max()):.3f}")
    print(f"  false merges: {false_merges[:5]}{' …' if len(false_merges) > 5 else ''}")
    print(
        f"  signatures {signing / len(docs) * 1e3:.2f} ms/text "
        f"({signing / words * 1e6:.2f} us/word), story assignment {assigning * 1e3:.0f} ms"
    )
    return {"precision": precision, "recall": recall, "false_merges": len(false_merges)}


def sweep(name: str, docs: list[Doc]) -> None:
    """Pairwise precision/recall of "similarity ≥ t" over exact signature similarity."""
    sigs = stories.signatures(d.text for d in docs)
    pairs = list(itertools.combinations(range(len(docs)), 2))
    a_idx = np.array([a for a, _ in pairs])
    b_idx = np.array([b for _, b in pairs])
    sims = stories.similarity(sigs[a_idx], sigs[b_idx])
    truth = np.array([docs[a].story == docs[b].story for a, b in pairs])
    print(f"\n-- threshold sweep, {name} (exact signature similarity, all pairs)")
    for t in (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7):
        merged = sims >= t
        tp = int((merged & truth).sum())
        precision = tp / merged.sum() if merged.any() else 1.0
        print(f"  t={t:.2f}  precision {precision:.4f}  recall {tp / truth.sum():.4f}")


def xquad_documents(topics: list[str], data: dict) -> tuple[list, list]:
    articles, paragraphs = [], []
    for article in data["data"]:
        if article["title"] not in topics:
            continue
        contexts = [p["context"] for p in article["paragraphs"]]
        articles.append((article["title"], article["title"], "\n".join(contexts)))
        for n, context in enumerate(contexts):
            paragraphs.append((f"{article['title']}#{n}", article["title"], context))
    return articles, paragraphs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threshold", type=float, default=stories.THRESHOLD)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    data = json.loads(XQUAD.read_text(encoding="utf-8"))
    titles = sorted(a["title"] for a in data["data"])
    halves = {"tuning half": titles[0::2], "held-out half": titles[1::2]}
    results = {}
    for (half, topics), others in zip(halves.items(), reversed(halves.values()), strict=True):
        articles, paragraphs = xquad_documents(topics, data)
        foreign = [s for _, _, text in xquad_documents(others, data)[0] for s in sentences_of(text)]
        article_docs = build(articles, foreign, rng)
        paragraph_docs = build(paragraphs, foreign, rng)
        sweep(f"XQuAD {half}, paragraphs", paragraph_docs)
        results[f"{half} articles"] = evaluate(
            f"XQuAD {half}: whole articles", article_docs, args.threshold, rng
        )
        results[f"{half} paragraphs"] = evaluate(
            f"XQuAD {half}: paragraphs", paragraph_docs, args.threshold, rng
        )
    seeds = [
        (article.id, "seed", article.text)
        for path in sorted(SEEDS.glob("*.txt"))
        for article in load_file(path).articles
    ]
    foreign = [s for _, _, text in xquad_documents(titles, data)[0] for s in sentences_of(text)]
    results["seed articles"] = evaluate(
        "seed articles", build(seeds, foreign, rng), args.threshold, rng
    )
    print("\nsummary:", json.dumps(results))


if __name__ == "__main__":
    main()
