"""Combining the lexical and dense rankings into one."""

from __future__ import annotations

from embeddings.config import FusionConfig

Ranking = list[tuple[int, float]]  # (row id, score), best first


def dense_weight(config: FusionConfig, vocabulary_coverage: float) -> float:
    """The dense ranking's weight for a question whose IDF weight is this much in the corpus.

    A weak model for the corpus language (weight 0 when the question's words are all there)
    then cannot drag a good lexical ranking down, yet still carries a question asked in
    another language.
    """
    same = config.dense_weight or 0.0
    cross = same if config.dense_weight_cross is None else config.dense_weight_cross
    missing = min(max(1.0 - vocabulary_coverage, 0.0), 1.0)
    return same + (cross - same) * missing**config.cross_sharpness


def fuse(
    lexical: Ranking, dense: Ranking, config: FusionConfig, vocabulary_coverage: float
) -> Ranking:
    """Weighted reciprocal-rank fusion, or a weighted sum of min-max normalised scores."""
    weight = dense_weight(config, vocabulary_coverage)
    if not dense or weight <= 0:
        return list(lexical)
    if not lexical:
        return list(dense)
    if config.method == "score":
        scores = _weighted(_normalised(lexical), config.lexical_weight)
        for rowid, value in _normalised(dense).items():
            scores[rowid] = scores.get(rowid, 0.0) + weight * value
    else:
        scores = {}
        for w, ranking in ((config.lexical_weight, lexical), (weight, dense)):
            for rank, (rowid, _) in enumerate(ranking, start=1):
                scores[rowid] = scores.get(rowid, 0.0) + w / (config.rrf_k + rank)
    return sorted(scores.items(), key=lambda item: item[1], reverse=True)


def _normalised(ranking: Ranking) -> dict[int, float]:
    values = [s for _, s in ranking]
    low, high = min(values), max(values)
    span = high - low
    return {rowid: (s - low) / span if span > 0 else 1.0 for rowid, s in ranking}


def _weighted(scores: dict[int, float], weight: float) -> dict[int, float]:
    return {rowid: weight * s for rowid, s in scores.items()}
