"""Passage-retrieval evaluation on a SQuAD-format file (XQuAD): Recall@k, MRR@10, nDCG@10,
and how often "answered" is said with the source article indexed and with it held out.

Two held-out measures. `evaluate(answerability=True)` removes the document's passages from
the question's rankings, the index otherwise unchanged (cheap: what `qabot calibrate`
reports). `holdout` re-indexes without the documents, as a corpus that never had them: the
question's own words are then unknown to the index, which changes their weights and can
make a Turkish question look like one in another language (`fusion.is_cross`).

Each paragraph becomes an article; a question is scored on the rank of the paragraph it was
written on, a paragraph ranking where it first appears among the ranked passages (so the
evaluation measures the real pipeline, passage splitting included). Weights and thresholds
are chosen on one half of the documents (`split="tune"`) and reported on the other
(`split="test"`), split by document so no article informs its own figures.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from embeddings.corpus import Article, LoadResult, title_from_text
from embeddings.engine import Engine
from embeddings.fusion import Ranking
from embeddings.retrieval import Retrieval

CUTOFFS = (1, 5, 10)
SPLITS = ("all", "tune", "test")
FOLD_DOCUMENTS = 8  # documents held out at a time by `holdout` (every 6th of 48 for "all")


@dataclass(frozen=True)
class Question:
    text: str
    article_id: str  # "012-03": document 12, paragraph 3

    @property
    def document(self) -> str:
        return self.article_id.split("-", 1)[0]


def load_squad(
    path: Path, questions_path: Path | None = None
) -> tuple[list[Article], list[Question]]:
    """Paragraphs as articles and their questions; `questions_path` supplies the question
    texts from a parallel file (same question ids), e.g. English questions on Turkish text."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))["data"]
    replacements: dict[str, str] = {}
    if questions_path:
        for doc in json.loads(Path(questions_path).read_text(encoding="utf-8"))["data"]:
            for para in doc["paragraphs"]:
                replacements.update({qa["id"]: qa["question"] for qa in para["qas"]})
    articles, questions = [], []
    for d, doc in enumerate(data):
        for p, para in enumerate(doc["paragraphs"]):
            text = " ".join(para["context"].replace("\ufeff", "").split())
            article_id = f"{d:03d}-{p:02d}"
            articles.append(Article(id=article_id, title=title_from_text(text), text=text))
            for qa in para["qas"]:
                if questions_path and qa["id"] not in replacements:
                    raise ValueError(f"question {qa['id']} missing from {questions_path}")
                questions.append(Question(replacements.get(qa["id"], qa["question"]), article_id))
    return articles, questions


def in_split(question: Question, split: str) -> bool:
    """Even-numbered documents tune, odd-numbered ones test."""
    if split == "all":
        return True
    return (int(question.document) % 2 == 0) == (split == "tune")


def metrics(ranks: list[int | None]) -> dict[str, float]:
    """`ranks` are 1-based ranks of the relevant paragraph, None when not retrieved."""
    n = len(ranks) or 1
    out = {f"recall@{k}": sum(1 for r in ranks if r and r <= k) / n for k in CUTOFFS}
    out["mrr@10"] = sum(1 / r for r in ranks if r and r <= 10) / n
    out["ndcg@10"] = sum(1 / math.log2(r + 1) for r in ranks if r and r <= 10) / n
    return {key: round(value, 4) for key, value in out.items()}


def article_rank(ranking: Ranking, article_of: dict[int, str], target: str) -> int | None:
    seen: list[str] = []
    for rowid, _ in ranking:
        article = article_of.get(rowid)
        if article is None or article in seen:
            continue
        seen.append(article)
        if article == target:
            return len(seen)
    return None


async def retrievals(engine: Engine, questions: list[Question]) -> list[Retrieval]:
    """Every question's retrieval, the questions encoded in one batch."""
    qvecs = await engine.encode_questions([q.text for q in questions])
    return [
        await engine.retrieve(q.text, query_vector=None if qvecs is None else qvecs[i])
        for i, q in enumerate(questions)
    ]


def held_out(found: Retrieval, question: Question, engine: Engine, documents: dict) -> Retrieval:
    """The question's retrieval with its whole source document removed from the index."""
    return found.without(documents[question.document], engine.fusion)


async def answered(
    engine: Engine, found: Retrieval, question: Question, documents: dict[str, set[int]]
) -> tuple[bool, bool]:
    """Is the question answered with its document indexed, and with it held out?"""
    out = []
    for case in (found, held_out(found, question, engine, documents)):
        top = case.ranking[0][0] if case.ranking else None
        stored = await engine.passages([top] if top is not None else [])
        out.append(top is not None and engine.answers(case, stored[top]))
    return out[0], out[1]


async def documents_of(engine: Engine) -> tuple[dict[int, str], dict[str, set[int]]]:
    """Passage row id → article id, and SQuAD document → its passages' row ids."""
    article_of = await engine.passage_articles()
    documents: dict[str, set[int]] = {}
    for rowid, article in article_of.items():
        documents.setdefault(article.split("-", 1)[0], set()).add(rowid)
    return article_of, documents


async def evaluate(
    engine: Engine, questions: list[Question], *, answerability: bool = False
) -> dict[str, dict | None]:
    """Metrics for the lexical, dense and fused rankings of an engine already indexed, and
    with `answerability` the answered rates (key "answerability")."""
    article_of, documents = await documents_of(engine)
    found = await retrievals(engine, questions)
    has_dense = any(f.dense for f in found)
    result: dict[str, dict | None] = {}
    for name, pick in (
        ("lexical", lambda f: f.lexical),
        ("dense", lambda f: f.dense_ranking()),
        ("fused", lambda f: f.ranking),
    ):
        if name == "dense" and not has_dense:
            result[name] = None
            continue
        ranks = [
            article_rank(pick(f), article_of, q.article_id)
            for f, q in zip(found, questions, strict=True)
        ]
        result[name] = metrics(ranks)
    if answerability:
        rates = [
            await answered(engine, f, q, documents) for f, q in zip(found, questions, strict=True)
        ]
        n = len(rates) or 1
        result["answerability"] = {
            "answered_in_corpus": round(sum(a for a, _ in rates) / n, 4),
            "answered_held_out": round(sum(b for _, b in rates) / n, 4),
        }
    return result


def holdout_folds(documents: Iterable[str], size: int = FOLD_DOCUMENTS) -> list[list[str]]:
    """The documents in folds of about `size`, each taking every n-th one (spread over the
    file, not one block of neighbouring topics)."""
    names = sorted(set(documents))
    count = max(1, math.ceil(len(names) / size))
    return [names[i::count] for i in range(count) if names[i::count]]


async def holdout(
    engine: Engine,
    articles: list[Article],
    question_sets: dict[str, list[Question]],
    *,
    split: str = "test",
    size: int = FOLD_DOCUMENTS,
) -> dict[str, dict[str, float | int]]:
    """Per question set: how often its questions (of `split`) are answered as served
    (`Engine.ask`) with every document indexed, and with their document removed from the
    index and the index rebuilt without it, fold by fold. `engine` must hold `articles`;
    it holds them again afterwards (nothing is embedded again: the cache keeps the vectors)."""
    chosen = {name: [q for q in qs if in_split(q, split)] for name, qs in question_sets.items()}
    indexed = {name: [await engine.ask(q.text) for q in qs] for name, qs in chosen.items()}
    held: dict[str, dict[int, bool]] = {name: {} for name in chosen}
    folds = holdout_folds((q.document for qs in chosen.values() for q in qs), size)
    try:
        for fold in folds:
            gone = set(fold)
            kept = [a for a in articles if a.id.split("-", 1)[0] not in gone]
            await engine.apply(LoadResult(kept), allow_mass_delete=True)
            for name, qs in chosen.items():
                for i, q in enumerate(qs):
                    if q.document in gone:
                        held[name][i] = (await engine.ask(q.text)).answered
    finally:
        await engine.apply(LoadResult(articles))
    out: dict[str, dict[str, float | int]] = {}
    for name, qs in chosen.items():
        n = len(qs) or 1
        answers = indexed[name]
        out[name] = {
            "questions": len(qs),
            "documents": len({q.document for q in qs}),
            "folds": len(folds),
            "answered_in_corpus": round(sum(a.answered for a in answers) / n, 4),
            "answered_right_in_corpus": round(
                sum(
                    a.answered and a.passages[0].article_id == q.article_id
                    for a, q in zip(answers, qs, strict=True)
                )
                / n,
                4,
            ),
            "answered_held_out": round(sum(held[name].values()) / n, 4),
        }
    return out
