from embeddings.text import (
    detect_language,
    focus_terms,
    fold,
    terms,
    turkish_lower,
    words,
)


def test_turkish_casing_keeps_dotted_and_dotless_i_apart():
    assert turkish_lower("İSTANBUL") == "istanbul"
    assert turkish_lower("IĞDIR") == "ığdır"
    assert turkish_lower("İl Parti Komitesi") == "il parti komitesi"


def test_fold_strips_turkish_letters_and_circumflexes():
    assert fold("başkanlık şöyle çığ üç zekâ") == "baskanlik soyle cig uc zeka"
    assert fold("Lê Minh") == "Le Minh"


def test_apostrophe_suffix_is_cut_from_proper_nouns():
    assert words("Hanoi'de Parti'nin 2024'teki") == ["hanoi", "parti", "2024"]


def test_inflections_of_one_word_share_a_term():
    # Snowball alone stems these apart (konfera / konferans); the prefix term joins them.
    assert set(terms("Konferansa")) & set(terms("konferansına"))
    assert set(terms("Başkanı")) & set(terms("başkanlık"))


def test_question_typed_without_turkish_letters_meets_the_same_terms():
    proper = set(terms("Konferansa kim başkanlık etti?"))
    ascii_typed = set(terms("konferansa kim baskanlik etti"))
    assert len(proper & ascii_typed) >= len(proper) - 1


def test_stopwords_and_question_words_are_not_terms():
    assert terms("ve bu ne kim için") == []
    assert terms("What is the") == []


def test_numbers_survive_whole():
    assert "2024" in terms("2024 yılında") and "18" in terms("18-NQ/TW sayılı")


def test_focus_is_the_relation_after_the_question_word():
    assert focus_terms("16 Aralık konferansına kim başkanlık etti?") == frozenset(
        terms("başkanlık etti")
    )
    # English: the word after the question word, with its Turkish translation.
    assert focus_terms("Who chaired the 16 December conference?") == frozenset(
        terms("chaired başkanlık başkan")
    )
    assert focus_terms("Konferans raporu") == frozenset()
    # A Turkish word that is also an English one ("son") is not translated.
    assert focus_terms("Kim son haftada kazandı?") == frozenset(terms("son haftada"))


def test_language_of_a_question():
    assert detect_language("Konferansa kim başkanlık etti?") == "tr"
    assert detect_language("konferansa kim baskanlik etti") == "tr"
    assert detect_language("Who chaired the conference?") == "en"


def test_the_word_cache_of_a_long_lived_bot_stays_bounded(monkeypatch):
    """Every new word of a growing archive is cached; past the limit the cache starts over
    instead of growing, and terms stay the same."""
    from embeddings import text

    expected = terms("Konferansa kim başkanlık etti")
    monkeypatch.setattr(text._WordTerms, "LIMIT", 50)
    for n in range(500):
        terms(f"kelime{n} başkanlık")
        assert len(text._WORD_TERMS) <= 50
    assert terms("Konferansa kim başkanlık etti") == expected
