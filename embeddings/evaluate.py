"""Passage-retrieval evaluation on a SQuAD-format file (XQuAD): Recall@k, MRR@10, nDCG@10.

Each paragraph becomes an article; a question is scored on the rank of the paragraph it was
written on, a paragraph ranking where it first appears among the ranked passages (so the
evaluation measures the real pipeline, passage splitting included).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embeddings.corpus import Article, title_from_text
from embeddings.engine import Engine
from embeddings.fusion import Ranking

CUTOFFS = (1, 5, 10)


@dataclass(frozen=True)
class Question:
    text: str
    article_id: str


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


async def _answerability(
    engine: Engine,
    questions: list[Question],
    article_of: dict[int, str],
    qvecs: np.ndarray | None,
) -> dict[str, float]:
    """How often the engine says "answered": with the question's source article indexed
    (should be high) and with that whole article held out of the ranking (should be low;
    this is "not in the corpus" as a user meets it)."""
    answered = {"in_corpus": 0, "held_out": 0}
    for i, question in enumerate(questions):
        qvec = qvecs[i] if qvecs is not None else None
        query, qvec, fused = await engine.retrieve(question.text, 100, query_vector=qvec)
        group = _document(question.article_id)
        held_out = [r for r, _ in fused if _document(article_of[r]) != group]
        tops = {"in_corpus": fused[0][0] if fused else None, "held_out": next(iter(held_out), None)}
        stored = await engine.passages([r for r in tops.values() if r is not None])
        for case, rowid in tops.items():
            if rowid is not None and engine.judge(query, qvec, stored[rowid])[2]:
                answered[case] += 1
    n = len(questions) or 1
    return {f"answered_{case}": round(count / n, 4) for case, count in answered.items()}


def _document(article_id: str) -> str:
    """The SQuAD document a paragraph belongs to ("012-03" → "012")."""
    return article_id.split("-", 1)[0]


async def evaluate(
    engine: Engine, questions: list[Question], *, answerability: bool = False
) -> dict[str, dict | None]:
    """Metrics for the lexical, dense and fused rankings of an engine already indexed, and
    with `answerability` the answered rates (key "answerability"); questions encoded once."""
    article_of = await engine.passage_articles()
    qvecs = await engine.encode_questions([q.text for q in questions])
    rankings = await engine.rankings([q.text for q in questions], qvecs)
    result: dict[str, dict | None] = {}
    for name in ("lexical", "dense", "fused"):
        if name == "dense" and engine.snapshot.vectors is None:
            result[name] = None
            continue
        ranks = [
            article_rank(getattr(r, name), article_of, q.article_id)
            for r, q in zip(rankings, questions, strict=True)
        ]
        result[name] = metrics(ranks)
    if answerability:
        result["answerability"] = await _answerability(engine, questions, article_of, qvecs)
    return result
