from embeddings.config import FusionConfig
from embeddings.fusion import candidates, dense_scores, fuse, is_cross, weights

LEXICAL = [(1, 9.0), (2, 5.0), (3, 1.0)]
DENSE = {3: 0.9, 4: 0.8, 1: 0.1}


def test_agreement_wins_and_every_candidate_is_ranked():
    fused = fuse(LEXICAL, {1: 0.8, 2: 0.1, 3: 0.9}, 1.0, 1.0)
    assert [r for r, _ in fused][:2] == [1, 3]
    assert {r for r, _ in fuse(LEXICAL, DENSE, 1.0, 1.0)} == {1, 3, 4}


def test_weights_pick_the_side():
    assert next(r for r, _ in fuse(LEXICAL, DENSE, 1.0, 0.01)) == 1  # lexical decides
    assert next(r for r, _ in fuse(LEXICAL, DENSE, 0.01, 1.0)) == 3  # dense decides
    assert fuse(LEXICAL, DENSE, 1.0, 0.0) == LEXICAL  # no dense weight: lexical as is
    assert fuse(LEXICAL, {}, 1.0, 1.0) == LEXICAL  # no model


def test_cross_language_questions_get_their_own_weight():
    config = FusionConfig(dense_weight=1.5, dense_weight_cross=6.0)
    assert is_cross(0.1) and not is_cross(0.9)
    assert weights(config, cross=False) == (1.0, 1.5)
    assert weights(config, cross=True) == (1.0, 6.0)


def test_candidates_take_the_top_of_each_side_once():
    assert candidates(LEXICAL, sorted(DENSE.items(), key=lambda x: -x[1]), 2) == [1, 2, 3, 4]


def test_dense_score_blends_the_best_sentence():
    scores = dense_scores({1: 0.6, 2: 0.8}, {1: 1.0}, sentence_weight=0.5)
    assert scores == {1: 0.8, 2: 0.8}  # passage 2 has no sentence vectors: its own cosine
