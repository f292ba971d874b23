import datetime as dt
import json
import time

import pytest

from embeddings import timewords
from embeddings.corpus import load_corpus
from embeddings.timewords import ANY_YEAR, TimeFilter, dates_in_text, parse, parse_date
from tests.conftest import FIXTURES, HEADLINE_EN, HEADLINE_TR, SEED_CORPUS

D = dt.date
AS_OF = D(2026, 10, 7)  # a Wednesday

# (question, start, end, strict): the period each question is bound to, as of AS_OF.
PERIODS = [
    ("Bugün Merkez Bankası ne karar verdi?", D(2026, 10, 7), D(2026, 10, 7), True),
    ("bugünkü toplantıda kim konuştu", D(2026, 10, 7), D(2026, 10, 7), True),
    ("What happened today?", D(2026, 10, 7), D(2026, 10, 7), True),
    ("Who spoke at today's meeting?", D(2026, 10, 7), D(2026, 10, 7), True),
    ("Bu sabah hangi açıklama yapıldı?", D(2026, 10, 7), D(2026, 10, 7), True),
    ("bu gün ne oldu", D(2026, 10, 7), D(2026, 10, 7), True),
    ("Dün ne oldu?", D(2026, 10, 6), D(2026, 10, 6), True),
    ("Dünkü depremin büyüklüğü neydi?", D(2026, 10, 6), D(2026, 10, 6), True),
    ("dun aksam ne oldu", D(2026, 10, 6), D(2026, 10, 6), True),
    ("What did the minister say yesterday?", D(2026, 10, 6), D(2026, 10, 6), True),
    ("Önceki gün açılan sergi nerede?", D(2026, 10, 5), D(2026, 10, 5), True),
    ("the day before yesterday", D(2026, 10, 5), D(2026, 10, 5), True),
    ("Geçen hafta hangi kararlar alındı?", D(2026, 9, 28), D(2026, 10, 4), True),
    ("geçtiğimiz haftaki seçim", D(2026, 9, 28), D(2026, 10, 4), True),
    ("gecen hafta ne oldu", D(2026, 9, 28), D(2026, 10, 4), True),
    ("What was decided last week?", D(2026, 9, 28), D(2026, 10, 4), True),
    ("Bu hafta kaç kişi aşı oldu?", D(2026, 10, 5), D(2026, 10, 7), True),
    ("this week's figures", D(2026, 10, 5), D(2026, 10, 7), True),
    ("Bu ay enflasyon ne kadar?", D(2026, 10, 1), D(2026, 10, 7), True),
    ("bu ayın ilk haftasında", D(2026, 10, 1), D(2026, 10, 7), True),
    ("inflation this month", D(2026, 10, 1), D(2026, 10, 7), True),
    ("Geçen ay işsizlik oranı kaçtı?", D(2026, 9, 1), D(2026, 9, 30), True),
    ("geçen ayın sonunda", D(2026, 9, 1), D(2026, 9, 30), True),
    ("What was the unemployment rate last month?", D(2026, 9, 1), D(2026, 9, 30), True),
    ("Bu yıl kaç deprem oldu?", D(2026, 1, 1), D(2026, 10, 7), True),
    ("bu sene ihracat ne kadar", D(2026, 1, 1), D(2026, 10, 7), True),
    ("this year's budget", D(2026, 1, 1), D(2026, 10, 7), True),
    ("Geçen yıl kaç turist geldi?", D(2025, 1, 1), D(2025, 12, 31), True),
    ("geçen sene açılan köprü", D(2025, 1, 1), D(2025, 12, 31), True),
    ("How many tourists came last year?", D(2025, 1, 1), D(2025, 12, 31), True),
    ("Son 3 ayda faiz kaç kez değişti?", D(2026, 7, 8), D(2026, 10, 7), True),
    ("son bir haftada", D(2026, 10, 1), D(2026, 10, 7), True),
    ("in the last 7 days", D(2026, 10, 1), D(2026, 10, 7), True),
    ("over the past week", D(2026, 10, 1), D(2026, 10, 7), True),
    ("3 gün önce ne oldu?", D(2026, 10, 4), D(2026, 10, 4), True),
    ("iki hafta önceki toplantı", D(2026, 9, 21), D(2026, 9, 27), True),
    ("two weeks ago", D(2026, 9, 21), D(2026, 9, 27), True),
    ("a month ago", D(2026, 9, 1), D(2026, 9, 30), True),
    # Calendar periods: preferences, not strict.
    ("Nisan ayında faiz ne kadardı?", D(2026, 4, 1), D(2026, 4, 30), False),
    ("Nisan'da ihracat arttı mı?", D(2026, 4, 1), D(2026, 4, 30), False),
    ("nisanda kaç kişi", D(2026, 4, 1), D(2026, 4, 30), False),
    ("subat ayinda ne oldu", D(2026, 2, 1), D(2026, 2, 28), False),
    ("Mayıs'ta açıklanan rakamlar", D(2026, 5, 1), D(2026, 5, 31), False),
    ("Ekim ayında", D(2026, 10, 1), D(2026, 10, 31), False),
    ("Aralık'ta yapılan konferans", D(2025, 12, 1), D(2025, 12, 31), False),  # not after as_of
    ("Kasım'da ne oldu?", D(2025, 11, 1), D(2025, 11, 30), False),
    ("What was the rate in April?", D(2026, 4, 1), D(2026, 4, 30), False),
    ("what happened in may", D(2026, 5, 1), D(2026, 5, 31), False),
    ("exports in December", D(2025, 12, 1), D(2025, 12, 31), False),
    ("April's inflation figure", D(2026, 4, 1), D(2026, 4, 30), False),
    ("Mart 2024'te enflasyon ne kadardı?", D(2024, 3, 1), D(2024, 3, 31), False),
    ("mart 2024", D(2024, 3, 1), D(2024, 3, 31), False),
    ("What was inflation in March 2024?", D(2024, 3, 1), D(2024, 3, 31), False),
    ("March 2024", D(2024, 3, 1), D(2024, 3, 31), False),
    ("in May 2024", D(2024, 5, 1), D(2024, 5, 31), False),
    ("2024 yılının nisan ayında", D(2024, 4, 1), D(2024, 4, 30), False),
    ("2024'te nisan ayında faiz", D(2024, 4, 1), D(2024, 4, 30), False),
    ("2023'te kaç kişi göç etti?", D(2023, 1, 1), D(2023, 12, 31), False),
    ("2023 yılında", D(2023, 1, 1), D(2023, 12, 31), False),
    ("2023 senesinde", D(2023, 1, 1), D(2023, 12, 31), False),
    ("2023’teki seçim", D(2023, 1, 1), D(2023, 12, 31), False),
    ("Who won the election in 2023?", D(2023, 1, 1), D(2023, 12, 31), False),
    ("the year 2023", D(2023, 1, 1), D(2023, 12, 31), False),
    ("2023 ile 2025 arasında", D(2023, 1, 1), D(2025, 12, 31), False),
    ("between 2020 and 2022", D(2020, 1, 1), D(2022, 12, 31), False),
    ("2020-2022 döneminde", D(2020, 1, 1), D(2022, 12, 31), False),
    ("1990'lı yıllarda", D(1990, 1, 1), D(1999, 12, 31), False),
    ("2023'ten beri", D(2023, 1, 1), D(2026, 10, 7), False),
    ("since 2023", D(2023, 1, 1), D(2026, 10, 7), False),
    ("Nisan'dan beri", D(2026, 4, 1), D(2026, 10, 7), False),
    ("16 Aralık'taki konferansa kim başkanlık etti?", D(2025, 12, 16), D(2025, 12, 16), False),
    ("16 Aralık konferansı", D(2025, 12, 16), D(2025, 12, 16), False),
    ("3 Ekim'de ne oldu?", D(2026, 10, 3), D(2026, 10, 3), False),
    ("16 Aralık 2024'te", D(2024, 12, 16), D(2024, 12, 16), False),
    ("who chaired the conference on 16 December?", D(2025, 12, 16), D(2025, 12, 16), False),
    ("the 16th of December", D(2025, 12, 16), D(2025, 12, 16), False),
    ("December 16, 2024", D(2024, 12, 16), D(2024, 12, 16), False),
    ("on Dec 16", D(2025, 12, 16), D(2025, 12, 16), False),
    ("12.03.2024 tarihli karar", D(2024, 3, 12), D(2024, 3, 12), False),
    ("2024-03-12", D(2024, 3, 12), D(2024, 3, 12), False),
    ("geçen mart", D(2026, 3, 1), D(2026, 3, 31), False),
    ("last October", D(2025, 10, 1), D(2025, 10, 31), False),  # this month is October
]


@pytest.mark.parametrize(("question", "start", "end", "strict"), PERIODS)
def test_periods_resolve_against_the_reference_date(question, start, end, strict):
    found = parse(question, AS_OF)
    assert found is not None, question
    assert (found.start, found.end, found.strict) == (start, end, strict)
    assert not found.latest


@pytest.mark.parametrize(
    "question",
    [
        "Merkez Bankası en son faizi yüzde kaça indirdi?",
        "Son faiz kararı ne oldu?",
        "son karar neydi",
        "Güncel enflasyon oranı nedir?",
        "Şu an genel sekreter kim?",
        "su anda kim başkan",
        "Şimdi kim bakan?",
        "Bugüne kadar kaç kişi aşı oldu?",
        "Son dakika: deprem nerede oldu?",
        "What was the latest rate decision?",
        "the most recent figures",
        "Who currently chairs the committee?",
        "Who is the minister now?",
        "When was the last meeting?",
        "How many have been vaccinated so far?",
        "Surlar bugün bile görülebiliyor mu?",  # "even today": the present, not today's news
        "Is the wall still visible even today?",
    ],
)
def test_latest_questions(question):
    found = parse(question, AS_OF)
    assert found is not None and found.latest, question
    assert not found.bounded


@pytest.mark.parametrize(
    "question",
    [
        "2023 kişi katıldı mı?",  # a count, not a year
        "Toplantıya 2025 delege katıldı",
        "2020 ve 2021 kişi",
        "Bu son derece önemli bir karar mı?",  # "extremely", not "latest"
        "Son olarak ne söyledi?",  # "finally"
        "Savaşa kim son verdi?",  # "put an end to"
        "Son başvuru tarihi ne zaman?",  # a deadline
        "May I ask who chaired the conference?",
        "Theresa May ne dedi?",
        "Who led the march on Washington?",
        "an august institution",
        "Kasım Bey ne dedi?",  # a name
        "Ocak başında kim vardı?",  # bare "ocak" is also a stove
        "Faiz aralığı ne kadar?",  # "interval"
        "Martin Luther kimdir?",
        "Dünya Kupası'nı kim kazandı?",  # "dün" inside "dünya"
        "Who is the son of the king?",
        "What was the name of Börte's first son?",
        "Maçın son üç dakikasında kaç sayı atıldı?",  # the last three minutes of a match
        "How many points were scored in the last three minutes?",
        "Bu ilke evrim teorisinden 100 yıl önce mi geliştirildi?",  # before the theory
        "Le Minh Hung kimdir?",
        HEADLINE_EN.replace("16 December ", ""),
        "",
    ],
)
def test_no_false_time_words(question):
    assert parse(question, AS_OF) is None


def test_matched_words_are_the_questions_own():
    found = parse("Geçen hafta İstanbul'da en son ne oldu?", AS_OF)
    assert found is not None and found.latest and found.strict
    assert found.matched == ("Geçen hafta", "en son")
    assert parse(HEADLINE_TR, AS_OF).matched == ("16 Aralık",)


def test_latest_and_period_together():
    found = parse("Dün en son hangi karar açıklandı?", AS_OF)
    assert found == TimeFilter(D(2026, 10, 6), D(2026, 10, 6), True, True, ("Dün", "en son"))


def test_a_month_without_a_year_is_the_most_recent_one_not_after_as_of():
    assert parse("nisan ayında", D(2026, 3, 31)).start == D(2025, 4, 1)
    assert parse("nisan ayında", D(2026, 4, 1)).start == D(2026, 4, 1)
    assert parse("16 Aralık'ta", D(2024, 12, 15)).start == D(2023, 12, 16)
    assert parse("16 Aralık'ta", D(2024, 12, 16)).start == D(2024, 12, 16)


def test_week_boundaries_on_a_monday_and_across_a_year():
    monday = D(2026, 1, 5)
    last_week = parse("last week", monday)
    assert (last_week.start, last_week.end) == (D(2025, 12, 29), D(2026, 1, 4))
    this_week = parse("bu hafta", monday)
    assert (this_week.start, this_week.end) == (monday, monday)
    last_month = parse("geçen ay", D(2026, 1, 15))
    assert (last_month.start, last_month.end) == (D(2025, 12, 1), D(2025, 12, 31))


def test_publication_dates_and_text_mentions_match_a_filter():
    april = parse("Nisan 2026'da faiz ne kadardı?", AS_OF)
    assert april.contains(D(2026, 4, 30)) and not april.contains(D(2026, 5, 1))
    assert not april.contains(None)
    assert april.matches(D(2026, 5, 3), dates_in_text("Nisan ayında faiz yüzde 40 oldu."))
    assert april.matches(None, dates_in_text("15 Nisan 2026 tarihli karar"))
    assert not april.matches(D(2026, 9, 1), dates_in_text("Eylül ayında faiz indirildi."))
    latest = parse("en son karar", AS_OF)
    assert latest.contains(D(1999, 1, 1)) and latest.overlaps(D(2020, 1, 1), D(2020, 1, 1))


def test_a_mention_counts_only_when_as_precise_as_the_question():
    june = parse("Haziran ayında ne oldu?", AS_OF)
    published = D(2026, 5, 12)
    assert not june.matches(published, dates_in_text("Göç bu yıl erken başladı.", published))
    assert june.matches(published, dates_in_text("Yasak 15 Haziran'a kadar sürüyor.", published))
    # A day without a year says nothing about a year.
    assert not parse("2025'te ne oldu?", AS_OF).matches(None, dates_in_text("3 Ağustos'ta"))
    # A strict period asks for news published then: a plan for that day is no such news.
    today = parse("Bugün ne oldu?", D(2026, 12, 1))
    assert not today.matches(D(2026, 9, 17), dates_in_text("Karar 1 Aralık 2026'da açıklanacak."))
    assert today.matches(D(2026, 12, 1), [])


def test_undated_seed_article_matches_its_16_december_in_text():
    """The issue's example: the seed article has no date, only "16 Aralık" in its text."""
    text = (SEED_CORPUS / "000_71fe91d9b92a9ec3.txt").read_text(encoding="utf-8")
    mentions = dates_in_text(text)
    assert (D(ANY_YEAR, 12, 16), D(ANY_YEAR, 12, 16)) in mentions
    assert (D(2024, 1, 1), D(2024, 12, 31)) in mentions  # "2024 yılında"
    for as_of in (D(2025, 1, 10), D(2026, 6, 1)):
        question = parse("16 Aralık'taki konferansa kim başkanlık etti?", as_of)
        assert question.matches(None, mentions)
    # 17 December 2026: neither the yearless 16 December nor the years 2024 and 2025.
    assert not parse("17 Aralık'ta ne oldu?", D(2027, 1, 10)).matches(None, mentions)
    assert not parse("Bugün ne oldu?", AS_OF).matches(None, mentions)


def test_text_dates_take_the_year_nearest_the_publication_date():
    published = D(2025, 12, 20)
    text = (
        "Toplantı 15 Ocak'ta yapılacak. Bakan dün açıklama yaptı. 3 Aralık'taki karar "
        "12.03.2024 tarihli yönetmeliğe dayanıyor; 2023 yılında 2023 kişi başvurmuştu."
    )
    assert dates_in_text(text, published) == [
        (D(2026, 1, 15), D(2026, 1, 15)),
        (D(2025, 12, 19), D(2025, 12, 19)),
        (D(2025, 12, 3), D(2025, 12, 3)),
        (D(2024, 3, 12), D(2024, 3, 12)),
        (D(2023, 1, 1), D(2023, 12, 31)),
    ]
    # Without a publication date, "dün" means nothing and "15 Ocak" has no year.
    assert dates_in_text(text)[:2] == [
        (D(ANY_YEAR, 1, 15), D(ANY_YEAR, 1, 15)),
        (D(ANY_YEAR, 12, 3), D(ANY_YEAR, 12, 3)),
    ]
    assert dates_in_text("Kasım Bey en son 2023 kişiyle konuştu.") == []


def test_a_yearless_mention_overlaps_only_its_own_month_and_day():
    dec16 = (D(ANY_YEAR, 12, 16), D(ANY_YEAR, 12, 16))
    assert TimeFilter(D(2025, 12, 1), D(2025, 12, 31)).overlaps(*dec16)
    assert TimeFilter(D(2025, 12, 10), D(2026, 1, 10)).overlaps(*dec16)
    assert not TimeFilter(D(2026, 1, 1), D(2026, 11, 30)).overlaps(*dec16)
    leap = (D(ANY_YEAR, 2, 29), D(ANY_YEAR, 2, 29))
    assert TimeFilter(D(2024, 2, 1), D(2024, 2, 29)).overlaps(*leap)
    assert not TimeFilter(D(2025, 2, 1), D(2025, 2, 28)).overlaps(*leap)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-03-12", D(2024, 3, 12)),
        ("2024-03-12T10:00:00Z", D(2024, 3, 12)),
        ("2024-03-12T23:30:00-05:00", D(2024, 3, 12)),  # the date as written
        ("2024-03-12 10:00", D(2024, 3, 12)),
        ("2024/03/12", D(2024, 3, 12)),
        ("12.03.2024", D(2024, 3, 12)),
        ("12/03/2024", D(2024, 3, 12)),
        ("Tue, 12 Mar 2024 10:00:00 +0000", D(2024, 3, 12)),
        ("12 Mar 2024 10:00:00 GMT", D(2024, 3, 12)),
        ("12 Mart 2024", D(2024, 3, 12)),
        ("March 12, 2024", D(2024, 3, 12)),
        (D(2024, 3, 12), D(2024, 3, 12)),
        (dt.datetime(2024, 3, 12, 10), D(2024, 3, 12)),
        ("2024-02-30", None),
        ("Mart 2024", None),  # a month, not a day
        ("2024", None),
        ("dün", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_date(value, expected):
    assert parse_date(value) == expected


# Near misses of the trigger's lookaheads: a trigger word whose match is cut short must not
# hide the next one ("bir günümüzde"), numbers and words that only sometimes open a date.
TRIGGER_CASES = [
    "bir günümüzde; iki güncel; on bugün; üç şimdiki; a recent one; bu son; en şu an",
    "16. Mart, 16th of May, 5 of June, 16'sında Aralık, 16 Aralık'ta, 3 gün önce, 12345 gün",
    "1.5 milyon; 3.000 kişi; %15; 2,5; 2023te; 2023'te; 1990'lı yıllar; 2020-2021 arası",
    "mart.2024; Mart. 2024; mar 2024; marka; aralık; aralıklarla; ekim ayı; ekimde, şubatta",
    "dünya; dün; dünkü; dünden önceki gün; dünü; bu sabah; bu hafta; bu kez; en yeni; en az",
    "şu anda; şu sıralarda; şu ev; son derece; son 3 ayda; the last word; the day before",
    "İKİ GÜN ÖNCE; GEÇEN HAFTA; ŞUBAT 2024; 1٣ Mart; 2100'de; 21001; 19 ve 20 kişi",
]


def test_scanning_from_trigger_words_finds_what_a_full_scan_finds():
    """`_scan` skips positions where no alternative can start; a word missing from
    `_STARTS`, or a lookahead there stricter than its alternative, would lose matches
    silently."""
    seed = (SEED_CORPUS / "000_71fe91d9b92a9ec3.txt").read_text(encoding="utf-8")
    news = [a.text for a in load_corpus(FIXTURES / "news" / "corpus").articles]
    texts = [q for q, *_ in PERIODS] + [seed, "the last decision; right now; up to date"]
    for text in texts + news + TRIGGER_CASES:
        folded = timewords._fold(text)
        accepted = [
            m.span()
            for m in timewords._PATTERN.finditer(folded)
            if timewords._HANDLERS[m.lastgroup](m, folded, AS_OF) is not None
        ]
        assert [h.span for h in timewords._scan(text, AS_OF, question_mode=True)] == accepted


def test_folding_keeps_every_character_one_character():
    """Spans found in the folded text are spans of the original."""
    every = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000)
    assert len(timewords._fold(every)) == len(every)
    folded = timewords._fold("İSTANBUL'DA Işık ŞUBAT’ta ÇĞÖÜ âîû `´ʼ‘")
    assert folded == "istanbul'da isik subat'ta cgou aiu ''''"


def test_parsing_a_question_takes_well_under_a_tenth_of_a_millisecond():
    questions = [q for q, *_ in PERIODS] * 5
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for question in questions:
            parse(question, AS_OF)
        best = min(best, (time.perf_counter() - started) / len(questions))
    assert best < 1e-4


def test_news_fixture_questions_meet_their_articles_by_date():
    """Each time-bound question of the news fixture is met by its expected article, through
    the publication date or a date in the text; a strict one bound to a period no article is
    from is met by none (to be declined). Articles after `as_of` do not exist yet."""
    news = FIXTURES / "news"
    articles = load_corpus(news / "corpus").articles
    checked = 0
    for q in json.loads((news / "questions.json").read_text(encoding="utf-8"))["questions"]:
        as_of = D.fromisoformat(q["as_of"])
        found = parse(q["question"], as_of)
        if found is None or not found.bounded:
            continue
        met = set()
        for article in articles:
            published = parse_date(article.date)
            if published and published > as_of:
                continue
            if found.matches(published, dates_in_text(article.text, published)):
                met.add(article.id)
        if q["expected"] is None:
            assert found.strict and not met, q["question"]
        else:
            assert q["expected"] in met, q["question"]
        if found.strict:
            assert met <= {q["expected"], *q["acceptable"]}, q["question"]
        checked += 1
    assert checked == 10
