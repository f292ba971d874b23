"""`qabot calibrate`: measure the configured model's profile on a SQuAD-format benchmark.

Questions are split by document (evaluate.in_split): the fusion weights, the answer rules
and the secondary-source ratio are chosen on the tuning half only, and the figures printed
for the other half are what the README reports. Questions are grouped as the engine groups
them at question time, whatever file they came from: same-language or cross-language for
the fusion weights (fusion.is_cross), and by the rule that judges them for the answer rules
(Retrieval.foreign: a Turkish question is judged as Turkish even when its words are unknown
to the corpus).

The rule learns "not in the corpus" from each question with its document's passages taken
out of the rankings, the index otherwise unchanged (`Retrieval.without`): the question's
words keep their weights, so its evidence looks stronger than in a corpus that never had the
document (`evaluate.holdout`), and the rule errs strict. Fitted on questions asked of an
index rebuilt without their documents instead, the English rule came out more lenient: it
answered 5.5% of the test half's held-out questions against 2.6% (`docs/quality.md`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from embeddings import retrieval
from embeddings.answer import AnswerRule
from embeddings.config import FusionConfig
from embeddings.encoders.profiles import ModelProfile
from embeddings.engine import Engine
from embeddings.evaluate import Question, article_rank, documents_of, in_split, metrics, retrievals
from embeddings.retrieval import Retrieval

DENSE_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 100.0)
# Fusion must beat the better of its two inputs by this much on the tuning half to be used:
# a smaller gain there is noise, and on unseen questions it can turn into a loss.
MIN_FUSION_GAIN = 0.005
FALSE_ANSWERS = 0.05  # share of "not in the corpus" questions a rule may answer (target)
CONFIDENCE = 0.9  # ... in this share of the tuning documents' resamples
RESAMPLES = 1000
SECONDARY_RATIOS = tuple(np.round(np.arange(0.5, 1.0, 0.05), 2))


@dataclass
class Case:
    """One question: its retrieval with the document indexed and with it held out."""

    question: Question
    found: Retrieval
    held_out: Retrieval

    @property
    def cross(self) -> bool:
        return self.found.cross

    @property
    def foreign(self) -> bool:
        return self.found.foreign

    @property
    def tune(self) -> bool:
        return in_split(self.question, "tune")


async def calibrate(engine: Engine, question_sets: list[list[Question]]) -> ModelProfile:
    """The engine's model's profile, measured on the tuning half of the questions."""
    article_of, documents = await documents_of(engine)
    cases = []
    for questions in question_sets:
        for q, found in zip(questions, await retrievals(engine, questions), strict=True):
            cases.append(Case(q, found, found.without(documents[q.document], engine.fusion)))
    has_dense = any(c.found.dense for c in cases)
    fusion = engine.fusion
    if has_dense:
        fusion = dataclasses.replace(
            fusion,
            dense_weight=_best_weight([c for c in cases if not c.cross], fusion, article_of),
            dense_weight_cross=_best_weight([c for c in cases if c.cross], fusion, article_of),
        )
    cases = [_rescored(c, fusion) for c in cases]
    stored = await engine.passages(
        list({r for c in cases for f in (c.found, c.held_out) for r, _ in f.ranking[:5]})
    )
    profile = ModelProfile(
        dense_weight=fusion.dense_weight or 0.0,
        dense_weight_cross=fusion.dense_weight_cross or 0.0,
        same=_fit_rule([c for c in cases if not c.foreign and c.tune], stored, article_of),
        cross=_fit_rule([c for c in cases if c.foreign and c.tune], stored, article_of),
    )
    ratio = _secondary_ratio([c for c in cases if c.tune], profile, stored, article_of)
    return dataclasses.replace(profile, secondary_ratio=ratio)


def _rescored(case: Case, config: FusionConfig) -> Case:
    def again(f: Retrieval) -> Retrieval:
        return retrieval.score(f.query, f.qvec, f.lexical, f.dense, config)

    return Case(case.question, again(case.found), again(case.held_out))


def _best_weight(cases: list[Case], config: FusionConfig, article_of: dict[int, str]) -> float:
    """The dense weight with the best tuning nDCG@10 for these questions. The grid's ends
    reproduce the lexical and the dense ranking; one of them is kept unless fusing gains
    MIN_FUSION_GAIN over it."""
    tuning = [c for c in cases if c.tune]
    if not tuning:
        return 1.0
    scores = {}
    for weight in DENSE_WEIGHTS:
        variant = dataclasses.replace(config, dense_weight=weight, dense_weight_cross=weight)
        ranks = [
            article_rank(_rescored(c, variant).found.ranking, article_of, c.question.article_id)
            for c in tuning
        ]
        scores[weight] = metrics(ranks)["ndcg@10"]
    ends = max((DENSE_WEIGHTS[0], DENSE_WEIGHTS[-1]), key=scores.__getitem__)
    best = max(DENSE_WEIGHTS, key=scores.__getitem__)
    return best if scores[best] >= scores[ends] + MIN_FUSION_GAIN else ends


def _features(found: Retrieval, rowid: int, stored: dict) -> np.ndarray:
    e = retrieval.evidence(found, stored[rowid])
    return np.array([e.coverage, e.dense or 0.0, e.gap or 0.0])


def _fit_rule(cases: list[Case], stored: dict, article_of: dict[int, str]) -> AnswerRule:
    """Logistic regression on (coverage, dense, gap): right top passages with the document
    indexed against top passages with it held out; the bias then set by `_bias` on the
    held-out ones. Without a model: coverage alone. `cases` are those one rule judges."""
    positives = [
        _features(c.found, c.found.ranking[0][0], stored)
        for c in cases
        if c.found.ranking and article_of[c.found.ranking[0][0]] == c.question.article_id
    ]
    held_out = [c for c in cases if c.held_out.ranking]
    negatives = [_features(c.held_out, c.held_out.ranking[0][0], stored) for c in held_out]
    if not positives or not negatives:
        return AnswerRule()
    x = np.array(positives + negatives)
    y = np.r_[np.ones(len(positives)), np.zeros(len(negatives))]
    if not any(c.found.dense for c in cases):
        x[:, 1:] = 0.0
    weights = _logistic(x, y)
    bias = _bias(np.array(negatives) @ weights, [c.question.document for c in held_out])
    return AnswerRule(*(round(float(w), 6) for w in weights), bias=round(bias, 6))


def _bias(scores: np.ndarray, documents: list[str]) -> float:
    """The most lenient bias under which, for CONFIDENCE of the tuning documents resampled
    with replacement, at most FALSE_ANSWERS of the held-out questions (scored `scores`) are
    answered. A document's questions are alike, so a rate read on one set of documents
    moves on another: a rule set to answer 4% of the tuning half's held-out questions
    answered 5.5% of the test half's."""
    names, document = np.unique(documents, return_inverse=True)
    draws = np.random.default_rng(0).multinomial(
        len(names), np.full(len(names), 1 / len(names)), size=RESAMPLES
    )
    sizes = draws @ np.bincount(document, minlength=len(names))
    values = np.unique(scores)
    # Cut between neighbouring scores, so that rounding the bias moves no question across.
    cuts = np.r_[values[0] - 1.0, (values[:-1] + values[1:]) / 2]
    for cut in cuts:  # ascending: the most lenient first
        answered = np.bincount(document, weights=scores >= cut, minlength=len(names))
        if np.quantile(draws @ answered / sizes, CONFIDENCE) <= FALSE_ANSWERS:
            return -float(cut)
    return -float(values[-1] + 1.0)  # above every score: answers none


def _logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-2) -> np.ndarray:
    """Weights of a logistic regression (Newton's method on standardised features), in the
    features' own units; constant features get weight 0."""
    mean, spread = x.mean(axis=0), x.std(axis=0)
    used = spread > 1e-9
    z = np.c_[(x[:, used] - mean[used]) / spread[used], np.ones(len(x))]
    w = np.zeros(z.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-z @ w))
        gradient = z.T @ (p - y) + l2 * w
        hessian = (z * (p * (1 - p))[:, None]).T @ z + l2 * np.eye(len(w))
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    out = np.zeros(x.shape[1])
    out[used] = w[:-1] / spread[used]
    return out


def _secondary_ratio(
    cases: list[Case], profile: ModelProfile, stored: dict, article_of: dict[int, str]
) -> float:
    """The fused-score ratio to the best passage above which a further source the rule
    accepts is offered as answering too: the ratio that best keeps other passages of the
    answer's paragraph while dropping passages of other documents."""
    samples = []  # (score ratio to the best, from the right paragraph)
    for c in cases:
        ranking = c.found.ranking
        if len(ranking) < 2 or ranking[0][1] <= 0:
            continue
        for rowid, score in ranking[1:5]:
            if rowid in stored:
                e = retrieval.evidence(c.found, stored[rowid])
                if profile.rule(c.foreign).accepts(e):
                    right = article_of[rowid] == c.question.article_id
                    samples.append((score / ranking[0][1], right))
    right = np.array([r for r, ok in samples if ok])
    wrong = np.array([r for r, ok in samples if not ok])
    if not len(right) or not len(wrong):
        return 0.8
    youden = [((right >= t).mean() - (wrong >= t).mean(), t) for t in SECONDARY_RATIOS]
    return float(max(youden)[1])
