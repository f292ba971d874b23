import dataclasses
import itertools
from pathlib import Path

from embeddings.corpus import Article, attribution_of, load_corpus
from embeddings.splitter import ATTRIBUTION_LABEL, MAX_WORDS, split_article, split_sentences


def test_ordinals_abbreviations_and_codes_do_not_end_sentences():
    text = (
        "Konferansa 13. Ulusal Parti Kongresi katıldı. Dr. Ahmet Yılmaz ve Prof. Ayşe Kaya "
        "geldi. Merkez Yürütme Kurulu'nun 18-NQ/TW sayılı Kararı okundu. Toplantı 2024. "
        "Yeni dönem başladı!"
    )
    assert split_sentences(text) == [
        "Konferansa 13. Ulusal Parti Kongresi katıldı.",
        "Dr. Ahmet Yılmaz ve Prof. Ayşe Kaya geldi.",
        "Merkez Yürütme Kurulu'nun 18-NQ/TW sayılı Kararı okundu.",
        "Toplantı 2024.",
        "Yeni dönem başladı!",
    ]


def test_quotes_brackets_and_initials_around_sentence_ends():
    text = (
        'Dr. Kaya "Geldik." dedi. Ne oldu?! (Bilinmiyor.) Saat 14.30\'da A.B.D. heyeti geldi… '
        "Sonra 3. tur başladı.\u00a0Bitti. son"
    )
    assert split_sentences(text) == [
        'Dr. Kaya "Geldik." dedi.',
        "Ne oldu?!",
        "(Bilinmiyor.)",
        "Saat 14.30'da A.B.D. heyeti geldi…",
        "Sonra 3. tur başladı.",
        "Bitti. son",
    ]


def test_passages_fit_the_model_and_overlap_by_one_sentence(corpus_dir: Path):
    for article in load_corpus(corpus_dir).articles:
        passages = split_article(article)
        assert passages
        for before, after in itertools.pairwise(passages):
            assert len(before.text.split()) <= MAX_WORDS
            shared = set(before.sentences) & set(after.sentences)
            assert len(shared) <= 1
        covered = {s for p in passages for s in p.sentences}
        assert all(s in covered for para in article.paragraphs for s in split_sentences(para))


def test_headline_answer_shares_a_passage_with_its_date(corpus_dir: Path):
    article = next(a for a in load_corpus(corpus_dir).articles if "Le Minh Hung" in a.text)
    assert any("16 Aralık" in p.text and "Le Minh Hung" in p.text for p in split_article(article))


def test_passage_ids_are_content_hashes(corpus_dir: Path):
    article = load_corpus(corpus_dir).articles[0]
    first = split_article(article)
    assert [p.id for p in first] == [p.id for p in split_article(article)]
    paragraphs = article.paragraphs
    edited = dataclasses.replace(
        article, text="\n".join([*paragraphs[:-1], paragraphs[-1] + " Ek cümle."])
    )
    changed = split_article(edited)
    assert first[0].id == changed[0].id  # untouched start keeps its id
    assert first[-1].id != changed[-1].id


def test_derived_titles_are_not_repeated_into_ranking_text():
    titled = Article(id="a", title="Gerçek Başlık", text="Birinci cümle burada.")
    untitled = Article(id="b", title="Birinci cümle burada", text="Birinci cümle burada.")
    assert split_article(titled)[0].ranking_text.startswith("Gerçek Başlık\n")
    assert split_article(untitled)[0].ranking_text == "Birinci cümle burada."


def test_the_attribution_is_labelled_in_the_ranking_text_of_the_passage_naming_it():
    """Closing lines are in the last passage, an agency dateline in the first; the label
    adds the words a question about the source uses, and changes no displayed text or id."""
    body = "\n".join(f"Bu {n}. paragrafın tek cümlesi göç üzerine yazıldı." for n in range(30))
    closing = Article(id="c", title="T", text=f"{body}\nKaynak: AA")
    dateline = Article(id="d", title="T", text=f"VAN (AA) - Göç başladı.\n{body}")
    for article, where in ((closing, -1), (dateline, 0)):
        article = dataclasses.replace(article, attribution=attribution_of(article.text))
        passages = split_article(article)
        assert len(passages) > 2 and article.attribution in ("Kaynak: AA", "AA")
        labelled = passages[where]
        assert labelled.ranking_text.endswith(f"{ATTRIBUTION_LABEL} {article.attribution}")
        assert ATTRIBUTION_LABEL not in labelled.text
        plain = split_article(dataclasses.replace(article, attribution=None))
        assert [p.id for p in plain] == [p.id for p in passages]
        assert sum(ATTRIBUTION_LABEL in p.ranking_text for p in passages) == 1
