"""Combining the lexical and dense rankings into one.

Measured on XQuAD-tr (README): a weighted sum of min-max normalised scores beats weighted
reciprocal-rank fusion, and the weight that suits Turkish questions (lexical evidence is
strong) is wrong for English ones (only the model can match), so the weights differ by
whether the question's words are in the corpus vocabulary.
"""

from __future__ import annotations

from embeddings.config import FusionConfig

Ranking = list[tuple[int, float]]  # (row id, score), best first

CROSS_BELOW = 0.5  # vocabulary coverage under which a question counts as another language


def is_cross(vocabulary_coverage: float) -> bool:
    """Is the question in another language than the corpus (most of its IDF weight is in
    words the corpus never uses)?"""
    return vocabulary_coverage < CROSS_BELOW


def candidates(lexical: Ranking, dense: Ranking, per_side: int) -> list[int]:
    """The passages worth scoring in full: the top of each ranking."""
    return list(
        dict.fromkeys([r for r, _ in lexical[:per_side]] + [r for r, _ in dense[:per_side]])
    )


def dense_scores(
    passage: dict[int, float], sentence: dict[int, float], sentence_weight: float
) -> dict[int, float]:
    """A passage's dense score: its own cosine blended with its best sentence's."""
    return {
        rowid: (1 - sentence_weight) * cos + sentence_weight * sentence.get(rowid, cos)
        for rowid, cos in passage.items()
    }


def weights(config: FusionConfig, cross: bool) -> tuple[float, float]:
    """(lexical, dense) weights for a same-language or a cross-language question."""
    dense = config.dense_weight_cross if cross else config.dense_weight
    return config.lexical_weight, 1.0 if dense is None else dense


def fuse(
    lexical: Ranking, dense: dict[int, float], lexical_weight: float, dense_weight: float
) -> Ranking:
    """Weighted sum of min-max normalised scores over the dense candidates (every
    candidate has a dense score); lexical-only when there are none."""
    if not dense or dense_weight <= 0:
        return list(lexical)
    lex = _normalised({r: s for r, s in lexical if r in dense})
    den = _normalised(dense)
    scores = {r: lexical_weight * lex.get(r, 0.0) + dense_weight * den[r] for r in dense}
    return sorted(scores.items(), key=lambda item: item[1], reverse=True)


def _normalised(scores: dict[int, float]) -> dict[int, float]:
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    span = high - low
    return {r: (s - low) / span if span > 0 else 1.0 for r, s in scores.items()}
