"""The word-list induction of benchmarks/build_glossary.py on the real model's word vectors:
known translations come out, a word spelt alike in both languages gets no entry, a word the
hand-written tables know is left to them."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"

ENGLISH = ["church", "population", "football", "oxygen", "disease", "students", "radio"]
TURKISH = ["kilise", "nüfus", "futbol", "oksijen", "hastalık", "öğrenciler", "radio", "kral"]
TURKISH += ["şehir", "üniversite", "ordu", "savaş", "deniz", "para", "okul", "hükümet"]


@pytest.fixture
def builder(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    return importlib.import_module("build_glossary")


@pytest.mark.model
def test_induced_translations_from_the_bundled_model(builder, bundled, monkeypatch):
    monkeypatch.setattr(builder, "NEIGHBOURS", 3)  # CSLS's neighbourhood, at this tiny size
    english = builder.encode(bundled._model, ENGLISH, "English words", None)
    turkish = builder.encode(bundled._model, TURKISH, "Turkish words", None)
    entries = builder.induce(ENGLISH, english, TURKISH, turkish)
    assert "radio" not in entries  # spelt alike: it already matches as it is
    right = {"church": "kilise", "population": "nüfus", "football": "futbol"}
    for word, translation in right.items():
        assert translation in entries[word]


@pytest.mark.model
def test_word_vector_cache_encodes_only_new_words(builder, bundled, tmp_path):
    encoded: list[str] = []

    class Counting:
        def passage(self, words):
            encoded.extend(words)
            return bundled._model.passage(words)

    cache = tmp_path / "en.npz"
    first = builder.encode(Counting(), ENGLISH[:3], "English words", cache)
    again = builder.encode(Counting(), ENGLISH[:4], "English words", cache)
    assert encoded == ENGLISH[:3] + ENGLISH[3:4]
    assert again[:3] == pytest.approx(first, abs=1e-3)  # float16 in the cache


def test_words_the_hand_written_tables_know_are_left_out(builder):
    """The shipped common-word table knows "join", as written and through its lemma
    ("joined"): an induced rendering of either would never be asked."""
    induced = {"join": ["yiyoruz"], "joined": ["katılmış"], "photosynthesis": ["fotosentez"]}
    lines = builder.entry_lines(["join", "joined", "photosynthesis"], induced)
    assert lines == ["photosynthesis\tfotosentez"]
