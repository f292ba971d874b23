"""English → Turkish query translation: the hand-written tables, the model-induced word list,
and how translated words count towards a passage's coverage."""

from pathlib import Path

import pytest

from embeddings import glossary
from embeddings.config import EngineConfig
from embeddings.engine import Engine, question_terms
from embeddings.lexical import Bm25Index
from embeddings.text import terms


@pytest.fixture
def glossaries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Point the glossary at files of the test's own making."""
    hand, common, induced = (tmp_path / f"{name}.tsv" for name in ("hand", "common", "induced"))
    monkeypatch.setattr(glossary, "GLOSSARY", hand)
    monkeypatch.setattr(glossary, "COMMON", common)
    monkeypatch.setattr(glossary, "INDUCED", induced)
    glossary.entries.cache_clear()
    yield hand, common, induced
    glossary.entries.cache_clear()


def test_hand_glossary_wins_over_the_induced_list(glossaries):
    hand, _, induced = glossaries
    hand.write_text("# curated\nchair\tbaşkanlık; başkan\n", encoding="utf-8")
    induced.write_text("# generated\nchair\tsandalye\nrainfall\tyağış; yağmur\n", encoding="utf-8")
    assert glossary.translate_word("chaired") == ("başkanlık", "başkan")
    assert glossary.translate_word("rainfall") == ("yağış", "yağmur")
    assert glossary.translate("Who chaired it?") == "başkanlık başkan"


def test_common_words_table_is_asked_between_the_news_glossary_and_the_induced_list(glossaries):
    hand, common, induced = glossaries
    hand.write_text("state\tdevlet; eyalet\n", encoding="utf-8")
    common.write_text("state\tdurum\njoin\tkatıldı; üye oldu\n", encoding="utf-8")
    induced.write_text("join\tyiyoruz\nstates\tdevletler\nrainfall\tyağış\n", encoding="utf-8")
    assert glossary.translate_word("states") == ("devlet", "eyalet")
    assert glossary.translate_word("joined") == ("katıldı", "üye oldu")
    assert glossary.translate_word("rainfall") == ("yağış",)


def test_without_the_induced_list_the_hand_glossary_still_serves(glossaries):
    hand, _, _ = glossaries
    hand.write_text("attend\tkatıldı\n", encoding="utf-8")
    assert glossary.translate_word("attended") == ("katıldı",)
    assert glossary.translate_word("rainfall") == ()


def test_shipped_tables_reach_everyday_and_rarer_words():
    """Everyday English beyond the news glossary has hand-written renderings, and rarer
    words still get the induced list's; no word is in both, the earlier table owning it."""
    hand, common, induced = glossary.entries()
    assert len(common) > 6000 and len(induced) > 10_000
    for word, turkish in (("earthquake", "deprem"), ("spain", "ispanya"), ("joined", "katıldı")):
        assert word not in hand
        assert turkish in glossary.translate_word(word)
    assert "fotosentez" in glossary.translate_word("photosynthesis")
    assert glossary.translate_word("photosynthesis") == induced["photosynthesis"]
    assert not set(induced) & (set(hand) | set(common))


def test_alternative_translations_do_not_dilute_a_word():
    """A passage holding one of a word's renderings covers that word as fully as one
    holding them all: synonyms are alternatives, not further words to find."""
    question = "Who chaired the conference?"
    one = "Konferansa Le Minh Hung başkanlık etti."
    both = "Konferansa başkan Le Minh Hung başkanlık etti."
    other = "Hanoi'de bir toplantı düzenlendi."
    rows = [(i, " ".join(terms(text))) for i, text in enumerate((one, both, other))]
    index = Bm25Index.build(rows)
    own, words = question_terms(question)
    query = index.query_terms(own, words)
    coverage = [query.coverage(set(text.split())) for _, text in rows]
    assert coverage[0] == pytest.approx(coverage[1])
    assert coverage[0] > 0.5 > coverage[2]


async def test_english_question_finds_turkish_passage_without_a_model(corpus_dir, tmp_path):
    """Lexical-only retrieval answers an English question through the translations."""
    config = EngineConfig(corpus_dir=corpus_dir, data_dir=tmp_path / "data", model=None)
    async with await Engine.open(config) as engine:
        await engine.update()
        answer = await engine.ask(
            "Which advisory units reported the results of the first quarter on 25 April?"
        )
    assert answer.passages and "25 Nisan" in answer.passages[0].text
