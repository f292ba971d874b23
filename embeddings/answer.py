"""Turning ranked passages into an answer: highlight sentence, answered or not, JSON contract."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from embeddings.lexical import QueryTerms
from embeddings.text import terms


@dataclass(frozen=True)
class Evidence:
    """What says that a passage answers the question."""

    coverage: float  # share of the question's IDF-weighted terms in the passage
    dense: float | None = None  # the model's score (passage and best sentence cosine)
    gap: float | None = None  # `dense` above the mean of the other candidates' scores


@dataclass(frozen=True)
class AnswerRule:
    """A passage answers when `bias + Σ weight·evidence ≥ 0`.

    `qabot calibrate` fits the weights (logistic regression) and sets the bias for a target
    rate of false answers, per model and per question language. A passage that stands out
    from the others (`gap`) is evidence as much as a high cosine: cross-language cosines run
    low and close together, so no single threshold separates them.
    """

    coverage: float = 1.0
    dense: float = 0.0
    gap: float = 0.0
    bias: float = -0.4

    def score(self, evidence: Evidence) -> float:
        return (
            self.bias
            + self.coverage * evidence.coverage
            + self.dense * (evidence.dense or 0.0)
            + self.gap * (evidence.gap or 0.0)
        )

    def accepts(self, evidence: Evidence) -> bool:
        return self.score(evidence) >= 0


@dataclass(frozen=True)
class Copy:
    """Another outlet's article of the same story."""

    article_id: str
    title: str
    source_url: str | None
    date: str | None

    def to_dict(self) -> dict:
        return {"title": self.title, "source_url": self.source_url, "date": self.date}


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
    evidence: Evidence
    weak: bool  # does not, by itself, answer the question
    attribution: str | None = None  # "Kaynak: AA", "Muhabir: Ayşe Demir"
    also: tuple[Copy, ...] = ()  # the same story from other outlets, earliest first

    def to_dict(self) -> dict:
        """One passage of the JSON contract; `attribution` and `also` only when known."""
        out = {
            "text": self.text,
            "highlight": self.highlight,
            "score": round(self.score, 6),
            "article_id": self.article_id,
            "title": self.title,
            "source_url": self.source_url,
            "date": self.date,
        }
        if self.attribution:
            out["attribution"] = self.attribution
        if self.also:
            out["also"] = [copy.to_dict() for copy in self.also]
        return out


@dataclass(frozen=True)
class Declined:
    """A question bound to a period no indexed article is from ("bugün", "geçen hafta")."""

    start: dt.date | None
    end: dt.date | None
    latest: dt.date | None  # the corpus's newest publication day (as of the question)

    def to_dict(self) -> dict:
        def day(value: dt.date | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "reason": "no article from the period asked about",
            "start": day(self.start),
            "end": day(self.end),
            "latest_date": day(self.latest),
        }


@dataclass(frozen=True)
class Answer:
    question: str
    answered: bool
    passages: list[Hit]
    latency_ms: float
    language: str  # "tr" or "en": the question's language, for replies
    declined: Declined | None = None

    def to_dict(self) -> dict:
        """The `qabot ask --json` contract; `declined` only when the question was."""
        out = {
            "question": self.question,
            "answered": self.answered,
            "passages": [hit.to_dict() for hit in self.passages],
            "latency_ms": round(self.latency_ms, 2),
        }
        if self.declined is not None:
            out["declined"] = self.declined.to_dict()
        return out


def answering(
    evidence: list[Evidence], scores: list[float], rule: AnswerRule, secondary_ratio: float
) -> list[bool]:
    """Which passages (best first) answer: the rule accepts them, and a further source
    only when its fused score is within `secondary_ratio` of the best passage's, so that
    a loosely related passage is not offered as another answer."""
    best = scores[0] if scores else 0.0
    return [
        rule.accepts(e) and (i == 0 or best <= 0 or s >= secondary_ratio * best)
        for i, (e, s) in enumerate(zip(evidence, scores, strict=True))
    ]


def best_sentence(
    sentences: tuple[str, ...],
    query: QueryTerms,
    similarities: np.ndarray | None,
    focus: frozenset[str] = frozenset(),
) -> str:
    """The sentence to highlight: most of the question's rare words, the relation asked
    about (`focus`) counting double, plus the model's similarity when there are sentence
    vectors (the only evidence for a question in another language)."""
    best, best_score = sentences[0], -1.0
    for i, sentence in enumerate(sentences):
        score = query.coverage(set(terms(sentence)), focus)
        if similarities is not None and i < len(similarities):
            score += float(similarities[i])
        if score > best_score:
            best, best_score = sentence, score
    return best
