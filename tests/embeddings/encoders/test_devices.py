"""Where a model encodes: a GPU when there is one, the configured device, the CPU otherwise;
and bulk encoding with one copy of the bundled model per core."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from embeddings.encoders import BUNDLED_MODEL, load_encoder
from embeddings.encoders.pool import EncoderPool
from embeddings.encoders.sbert import choose_device

pytestmark = pytest.mark.skipif(torch.cuda.is_available(), reason="checks a machine without GPU")


def test_auto_takes_the_cpu_without_a_gpu():
    assert choose_device("auto") == "cpu"
    assert choose_device("CPU") == "cpu"


@pytest.mark.parametrize("setting", ["cuda", "cuda:1"])
def test_a_missing_gpu_falls_back_to_the_cpu_with_one_warning(setting, caplog):
    caplog.set_level(logging.WARNING)
    assert choose_device(setting) == "cpu"
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1
    assert "EMBEDDING_DEVICE" in caplog.records[0].getMessage()


@pytest.mark.model
def test_a_sentence_transformers_model_is_placed_on_the_chosen_device(minilm_path: str):
    encoder = load_encoder(minilm_path, device="auto")
    assert encoder is not None and encoder.device == "cpu"
    assert "cpu" in encoder.description


def test_the_pool_encodes_as_the_model_does(bundled):
    texts = [f"Binh Duong'da {n}. toplantı yapıldı." for n in range(20)]
    with EncoderPool(BUNDLED_MODEL, 2) as pool:
        pooled = pool.encode_passages(texts)
    assert pooled.shape == (20, bundled.dim)
    assert np.allclose(pooled, bundled.encode_passages(texts), atol=1e-4)
