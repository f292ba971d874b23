import json

import numpy as np
import pytest

from embeddings import stories
from embeddings.corpus import load_corpus
from embeddings.splitter import split_sentences
from tests.conftest import FIXTURES, SEED_CORPUS

NEWS = FIXTURES / "news"


def seed_text(name: str) -> str:
    return next(a.text for a in load_corpus(SEED_CORPUS).articles if a.id == name)


SEED = seed_text("000_71fe91d9b92a9ec3")
OTHER_SEED = seed_text("003_b1c4bbe646cb7f18")


def sentences(text: str) -> list[str]:
    return [s for p in text.split("\n") for s in split_sentences(p)]


def shingles(text: str) -> set[tuple[str, ...]]:
    w = stories.words(text)
    return {tuple(w[i : i + stories.SHINGLE_WORDS]) for i in range(len(w) - 4)}


def story_ids(texts: list[str]) -> list[str]:
    index = stories.StoryIndex()
    return index.add([str(i) for i in range(len(texts))], stories.signatures(texts))


def test_copies_with_a_new_lead_or_light_edits_join_the_original():
    parts = sentences(SEED)
    words = SEED.split()
    changed = list(words)
    for i in range(7, len(words), len(words) // 12):  # 12 words of ~900 replaced
        changed[i] = "değiştirildi"
    copies = [
        "Haber merkezimize ulaşan bilgilere göre konferans Hanoi'de yapıldı. "
        + " ".join(parts[1:]),  # another first line
        " ".join(changed),
        " ".join(parts[:5] + parts[6:]),  # a sentence cut
        " ".join([*parts[:3], "Toplantı yaklaşık dört saat sürdü.", *parts[3:]]),  # one added
        SEED.upper(),  # retyped in capitals
        SEED + "\nKaynak: Anadolu Ajansı",  # another attribution line
    ]
    assigned = story_ids([SEED, *copies, OTHER_SEED])
    assert assigned[1:-1] == ["0"] * len(copies)
    assert assigned[-1] == str(len(copies) + 1)  # the other seed article is its own story


def test_distinct_reports_of_one_event_are_not_merged():
    """The fixture's second agency report of the pearl-mullet migration shares names and
    phrases with the AA story; the three rate decisions share a template."""
    loaded = {a.id: a for a in load_corpus(NEWS / "corpus").articles}
    ordered = sorted(loaded.values(), key=lambda a: (a.date or "9999", a.id))
    index = stories.StoryIndex()
    assigned = dict(
        zip(
            (a.id for a in ordered),
            index.add([a.id for a in ordered], stories.signatures(a.text for a in ordered)),
            strict=True,
        )
    )
    groups: dict[str, set[str]] = {}
    for article, story in assigned.items():
        groups.setdefault(story, set()).add(article)
    expected = json.loads((NEWS / "questions.json").read_text(encoding="utf-8"))["stories"]
    assert [g for g in groups.values() if len(g) > 1] == [set(s) for s in expected]
    assert assigned["van-inci-kefali-gazete-a"] == "van-inci-kefali-aa"  # named by the first
    assert len({assigned[f"tcmb-faiz-2026-{m}"] for m in ("03", "06", "09")}) == 3
    assert assigned["van-inci-kefali-iha"] == "van-inci-kefali-iha"


def test_similarity_estimates_the_jaccard_of_word_shingles():
    parts = sentences(SEED)
    pairs = [
        (SEED, " ".join(parts[: len(parts) // 2])),
        (SEED, " ".join(parts[3:] + parts[:2])),
        (SEED, OTHER_SEED),
    ]
    for a, b in pairs:
        exact = len(shingles(a) & shingles(b)) / len(shingles(a) | shingles(b))
        estimate = float(stories.similarity(stories.signature(a), stories.signature(b)))
        assert abs(estimate - exact) < 0.12, (exact, estimate)


def test_signatures_are_stable_across_runs_and_versions():
    """Signatures are stored: a change of hashing would silently stop old and new articles
    from ever matching. Changing these values needs every stored signature recomputed."""
    sig = stories.signature("Van Gölü'nde inci kefalinin üreme göçü bu yıl erken başladı.")
    assert sig.dtype == np.uint32 and sig.shape == (stories.NUM_PERM,)
    assert sig[:4].tolist() == [607106491, 115214655, 538233091, 316013532]
    capitals = "VAN GÖLÜ'NDE İNCİ KEFALİNİN ÜREME GÖÇÜ BU YIL ERKEN BAŞLADI"
    assert np.array_equal(sig, stories.signature(capitals))


def test_adding_in_batches_and_reloading_stored_rows_give_the_same_stories():
    parts = sentences(SEED)
    texts = [SEED, OTHER_SEED, " ".join(parts[1:]), " ".join(sentences(OTHER_SEED)[1:])]
    ids = ["a", "b", "a2", "b2"]
    sigs = stories.signatures(texts)
    at_once = stories.StoryIndex().add(ids, sigs)
    assert at_once == ["a", "b", "a", "b"]

    first = stories.StoryIndex()
    first.add(ids[:2], sigs[:2])
    assert first.add(ids[2:], sigs[2:]) == at_once[2:]

    reloaded = stories.StoryIndex(ids[:3], sigs[:3], at_once[:3])
    assert reloaded.add(ids[3:], sigs[3:]) == ["b"]
    assert reloaded.story_of("a2") == "a"


def test_removing_a_storys_first_article_keeps_its_name_for_the_rest():
    parts = sentences(SEED)
    index = stories.StoryIndex()
    index.add(["orig", "copy"], stories.signatures([SEED, " ".join(parts[1:])]))
    index.remove(["orig"])
    assert len(index) == 1
    assert index.add(["copy2"], stories.signatures([" ".join(parts[:-1])])) == ["orig"]


def test_empty_texts_are_stories_of_their_own():
    assert story_ids(["", "", "..."]) == ["0", "1", "2"]


def test_rows_must_match():
    with pytest.raises(ValueError):
        stories.StoryIndex(["a"], stories.signatures([SEED, OTHER_SEED]))
    with pytest.raises(ValueError):
        stories.StoryIndex().add(["a", "b"], stories.signatures([SEED]))


def test_an_edited_original_that_left_its_story_does_not_take_the_name_back():
    """The copies keep the story's name; the original, edited beyond recognition and
    indexed again, starts a story of its own under another name."""
    parts = sentences(SEED)
    index = stories.StoryIndex()
    index.add(["orig", "copy"], stories.signatures([SEED, " ".join(parts[1:])]))
    index.remove(["orig"])
    assert index.add(["orig"], stories.signatures([OTHER_SEED])) == ["orig#2"]
    assert index.story_of("copy") == "orig"


def test_a_few_new_articles_among_many_find_the_same_stories_as_a_full_sort():
    """Updates compare their few new rows key by key; the result is the batch's."""
    filler = [" ".join(f"w{i}x{j}" for j in range(30)) for i in range(150)]
    texts = [SEED, *filler, " ".join(sentences(SEED)[1:]), OTHER_SEED]
    sigs = stories.signatures(texts)
    ids = [str(i) for i in range(len(texts))]
    at_once = stories.StoryIndex().add(ids, sigs)
    many = stories.StoryIndex(ids[:-2], sigs[:-2], at_once[:-2])
    assert len(ids) > 2 * stories.DIRECT_ROWS  # two new rows: compared key by key
    assert many.add(ids[-2:], sigs[-2:]) == at_once[-2:] == ["0", ids[-1]]


def test_of_equally_similar_earlier_articles_a_copy_joins_the_first():
    """Half of one story's signature and half of another's: the earlier story, whether the
    candidates are found by sorting all band keys or, for one new article, key by key."""
    rng = np.random.default_rng(0)
    first, second, *others = rng.integers(0, 2**32 - 1, (62, stories.NUM_PERM), dtype=np.uint32)
    half = stories.NUM_PERM // 2
    mixed = np.concatenate([first[:half], second[half:]])
    ids = ["first", "second", *(str(i) for i in range(len(others)))]
    sigs = np.vstack([first, second, *others])
    assert stories.StoryIndex().add([*ids, "mixed"], np.vstack([sigs, mixed]))[-1] == "first"
    index = stories.StoryIndex()
    index.add(ids, sigs)
    assert index.add(["mixed"], mixed) == ["first"]
