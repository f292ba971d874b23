from embeddings.config import FusionConfig
from embeddings.fusion import dense_weight, fuse

LEXICAL = [(1, 9.0), (2, 5.0), (3, 1.0)]
DENSE = [(3, 0.9), (4, 0.8), (1, 0.1)]


def test_equal_weight_rrf_rewards_agreement():
    fused = fuse(LEXICAL, DENSE, FusionConfig(dense_weight=1.0), vocabulary_coverage=1.0)
    assert [r for r, _ in fused][:2] in ([1, 3], [3, 1])
    assert {r for r, _ in fused} == {1, 2, 3, 4}


def test_weak_model_profile_cannot_override_lexical_on_same_language_questions():
    weak = FusionConfig(dense_weight=0.0, dense_weight_cross=1.0)
    assert fuse(LEXICAL, DENSE, weak, vocabulary_coverage=1.0) == LEXICAL
    crossed = fuse(LEXICAL, DENSE, weak, vocabulary_coverage=0.0)
    assert 4 in [r for r, _ in crossed]  # a question in another language uses the model


def test_dense_weight_moves_from_same_language_to_cross_language():
    config = FusionConfig(dense_weight=0.0, dense_weight_cross=1.0, cross_sharpness=8.0)
    assert dense_weight(config, 1.0) == 0.0
    assert dense_weight(config, 0.0) == 1.0
    assert 0.0 < dense_weight(config, 0.5) < 0.01


def test_score_fusion_and_single_sided_rankings():
    config = FusionConfig(method="score", dense_weight=1.0)
    assert fuse(LEXICAL, DENSE, config, 1.0)[0][0] in (1, 3)
    assert fuse([], DENSE, config, 1.0) == DENSE
    assert fuse(LEXICAL, [], config, 1.0) == LEXICAL
