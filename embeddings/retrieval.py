"""One question against one snapshot of the index: hybrid scoring, evidence, hits.

Pure CPU work on what the engine fetched (the lexical ranking, the query vector and the
dense ranking); the engine runs it off the event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from embeddings import fusion
from embeddings.ann import DenseSegments
from embeddings.answer import Evidence, Hit, answering, best_sentence
from embeddings.config import FusionConfig
from embeddings.encoders.profiles import ModelProfile
from embeddings.fusion import Ranking
from embeddings.lexical import QueryTerms
from embeddings.sentences import SentenceVectors
from embeddings.store import StoredPassage
from embeddings.text import focus_terms, terms

GAP_OVER = 50  # the gap is taken over this many other candidates at most


@dataclass(frozen=True)
class Retrieval:
    """A question's rankings and the scores the answer is judged on."""

    query: QueryTerms
    qvec: np.ndarray | None
    lexical: Ranking  # BM25, best first
    ranking: Ranking  # fused, best first
    dense: dict[int, float] = field(default_factory=dict)  # candidates' dense scores

    @property
    def cross(self) -> bool:
        """Are the question's words mostly outside the corpus vocabulary? (Fusion weights.)"""
        return fusion.is_cross(self.query.vocabulary_coverage)

    @property
    def foreign(self) -> bool:
        """Is the question in another language than the corpus: English (its words were
        translated for the lexical query) and mostly outside the corpus vocabulary? The
        answer rule for such questions trusts the model more. A Turkish question about
        something the corpus never mentions is mostly outside its vocabulary too: judged by
        that rule, 10.4% of such questions were answered (XQuAD test half, the documents
        removed from the index: `qabot eval --holdout`); by the Turkish rule, 4.0%."""
        return self.cross and bool(self.query.words)

    def dense_ranking(self) -> Ranking:
        """The candidates by dense score alone (for evaluation)."""
        return sorted(self.dense.items(), key=lambda item: item[1], reverse=True)

    def gap(self, rowid: int) -> float | None:
        """How far a passage's dense score stands above the other close candidates'."""
        if rowid not in self.dense:
            return None
        others = sorted((s for r, s in self.dense.items() if r != rowid), reverse=True)
        others = others[:GAP_OVER]
        return self.dense[rowid] - (float(np.mean(others)) if others else 0.0)

    def without(self, rowids: set[int], config: FusionConfig) -> Retrieval:
        """The same question as if these passages were not indexed (evaluation of "not in
        the corpus")."""
        lexical = [(r, s) for r, s in self.lexical if r not in rowids]
        dense = {r: s for r, s in self.dense.items() if r not in rowids}
        return score(self.query, self.qvec, lexical, dense, config)


def hybrid(
    query: QueryTerms,
    lexical: Ranking,
    qvec: np.ndarray | None,
    dense: Ranking,
    vectors: DenseSegments | None,
    sentences: SentenceVectors | None,
    config: FusionConfig,
) -> Retrieval:
    """Fuse the lexical ranking with the dense one, each candidate scored by its passage
    vector and its best sentence."""
    if qvec is None or vectors is None:
        return Retrieval(query, None, lexical, list(lexical))
    pool = fusion.candidates(lexical, dense, config.candidates)
    cosines = dict(dense)
    for rowid in pool:
        if rowid not in cosines and (cos := vectors.similarity(qvec, rowid)) is not None:
            cosines[rowid] = cos
    cosines = {r: cosines[r] for r in pool if r in cosines}
    best = sentences.best(qvec, list(cosines)) if sentences is not None else {}
    scores = fusion.dense_scores(cosines, best, config.sentence_weight)
    return score(query, qvec, lexical, scores, config)


def score(
    query: QueryTerms,
    qvec: np.ndarray | None,
    lexical: Ranking,
    dense: dict[int, float],
    config: FusionConfig,
) -> Retrieval:
    lexical_weight, dense_weight = fusion.weights(
        config, fusion.is_cross(query.vocabulary_coverage)
    )
    ranking = fusion.fuse(lexical, dense, lexical_weight, dense_weight)
    return Retrieval(query, qvec, lexical, ranking, dense)


def evidence(retrieval: Retrieval, passage: StoredPassage) -> Evidence:
    return Evidence(
        coverage=retrieval.query.coverage(set(terms(passage.ranking_text))),
        dense=retrieval.dense.get(passage.rowid),
        gap=retrieval.gap(passage.rowid),
    )


def hits(
    question: str,
    retrieval: Retrieval,
    passages: list[tuple[StoredPassage, float]],
    sentences: SentenceVectors | None,
    profile: ModelProfile,
    prefer: Callable[[int], tuple] | None = None,
) -> list[Hit]:
    """The passages as the user sees them: highlight, and whether each answers.

    `prefer` (a sort key of a passage's row id, smaller first) reorders the passages the
    rule accepts ("latest" questions: the newest first), and then those it rejects, which
    stay after them: a passage that answers is never put below one that does not."""
    focus = focus_terms(question)
    found = [evidence(retrieval, p) for p, _ in passages]
    rule = profile.rule(retrieval.foreign)
    if prefer is not None:
        accepted = [rule.accepts(e) for e in found]
        order = sorted(
            range(len(passages)),
            key=lambda i: (not accepted[i], prefer(passages[i][0].rowid)),
        )
        passages = [passages[i] for i in order]
        found = [found[i] for i in order]
    strong = answering(found, [s for _, s in passages], rule, profile.secondary_ratio)
    out = []
    for (p, score_), e, answers in zip(passages, found, strong, strict=True):
        sims = None
        if retrieval.qvec is not None and sentences is not None:
            sims = sentences.similarities(retrieval.qvec, p.rowid)
        out.append(
            Hit(
                passage_id=p.id,
                article_id=p.article_id,
                text=p.text,
                highlight=best_sentence(p.sentences, retrieval.query, sims, focus),
                score=score_,
                title=p.title,
                source_url=p.source_url,
                date=p.date,
                evidence=e,
                weak=not answers,
                attribution=p.attribution,
            )
        )
    return out
