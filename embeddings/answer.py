"""Turning ranked passages into an answer: highlight sentence, strength, JSON contract."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from embeddings.lexical import QueryTerms
from embeddings.text import terms


@dataclass(frozen=True)
class Hit:
    """One passage of an answer, with what the user sees and why it was judged."""

    passage_id: str
    article_id: str
    text: str
    highlight: str
    score: float
    title: str
    source_url: str | None
    date: str | None
    coverage: float  # share of the question's IDF-weighted terms in the passage
    similarity: float | None  # cosine with the question, when a model is loaded
    weak: bool  # does not, by itself, answer the question

    def to_dict(self) -> dict:
        return {
            "text": self.text,
            "highlight": self.highlight,
            "score": round(self.score, 6),
            "article_id": self.article_id,
            "title": self.title,
            "source_url": self.source_url,
            "date": self.date,
        }


@dataclass(frozen=True)
class Answer:
    question: str
    answered: bool
    passages: list[Hit]
    latency_ms: float
    language: str  # "tr" or "en": the question's language, for replies

    def to_dict(self) -> dict:
        """The `qabot ask --json` contract, exactly."""
        return {
            "question": self.question,
            "answered": self.answered,
            "passages": [hit.to_dict() for hit in self.passages],
            "latency_ms": round(self.latency_ms, 2),
        }


def is_strong(
    coverage: float, similarity: float | None, min_coverage: float, min_similarity: float
) -> bool:
    """A passage answers when it holds most of the question's rare words, or the model
    finds it close enough (the only evidence across languages)."""
    return coverage >= min_coverage or (similarity is not None and similarity >= min_similarity)


def best_sentence(
    sentences: tuple[str, ...],
    query: QueryTerms,
    similarities: np.ndarray | None,
    focus: frozenset[str] = frozenset(),
) -> str:
    """The sentence to highlight: most of the question's rare words, the relation asked
    about (`focus`) counting double, plus model similarity when there is a model."""
    best, best_score = sentences[0], -1.0
    for i, sentence in enumerate(sentences):
        score = query.coverage(set(terms(sentence)), focus)
        if similarities is not None:
            score += float(similarities[i])
        if score > best_score:
            best, best_score = sentence, score
    return best
