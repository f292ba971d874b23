"""Passage-retrieval evaluation on a SQuAD-format file (XQuAD): Recall@k, MRR@10, nDCG@10,
and how often "answered" is said with the source article indexed and with it held out.

Each paragraph becomes an article; a question is scored on the rank of the paragraph it was
written on, a paragraph ranking where it first appears among the ranked passages (so the
evaluation measures the real pipeline, passage splitting included). Weights and thresholds
are chosen on one half of the documents (`split="tune"`) and reported on the other
(`split="test"`), split by document so no article informs its own figures.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from embeddings.corpus import Article, title_from_text
from embeddings.engine import Engine
from embeddings.fusion import Ranking
from embeddings.retrieval import Retrieval

CUTOFFS = (1, 5, 10)
SPLITS = ("all", "tune", "test")


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
