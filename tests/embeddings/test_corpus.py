import codecs
import hashlib
import json
from dataclasses import replace
from pathlib import Path

import pytest

from embeddings import corpus
from embeddings.corpus import (
    MAX_FILE_BYTES,
    Article,
    CorpusRootError,
    attribution_of,
    load_corpus,
    load_file,
    load_files,
)
from embeddings.splitter import split_article
from tests.conftest import FIXTURES

ARTICLE = Article(id="a", title="Başlık", text="Metin.")


def test_seed_articles_load_with_source_and_without_page_furniture(corpus_dir: Path):
    result = load_corpus(corpus_dir)
    assert result.skipped == []
    by_id = {a.id: a for a in result.articles}
    assert set(by_id) == {"000_71fe91d9b92a9ec3", "003_b1c4bbe646cb7f18"}
    first = by_id["000_71fe91d9b92a9ec3"]
    assert first.source_url.startswith("https://baobinhduong.vn/")
    assert by_id["003_b1c4bbe646cb7f18"].source_url is None  # bare "Kaynak" line
    for article in result.articles:
        assert "[reklam_2]" not in article.text
        assert "Yorum (0)" not in article.text
        assert not any(p.strip() in ("Kaynak", "Kaynak:") for p in article.paragraphs)
    assert "Le Minh Hung" in first.text
    # No title in the seed format: the first sentence stands in, cut at a word.
    assert first.title.startswith("Konferans raporuna göre, 2024 yılında")
    assert len(first.title) <= 121


def test_markdown_front_matter_and_jsonl(tmp_path: Path):
    (tmp_path / "a.md").write_text(
        "---\ntitle: Başlık\nurl: https://example.org/a\ndate: 2024-12-16\nlang: tr\n---\n"
        "# Başlık\n\nBirinci paragraf burada.\n\nİkinci paragraf.\n",
        encoding="utf-8",
    )
    lines = [
        {"id": "j1", "title": "Bir", "url": "https://example.org/1", "text": "Metin bir."},
        {"title": "İki", "text": "Metin iki.", "date": "2024-04-25"},
    ]
    (tmp_path / "b.jsonl").write_text(
        "\n".join(json.dumps(x, ensure_ascii=False) for x in lines), encoding="utf-8"
    )
    result = load_corpus(tmp_path)
    assert result.skipped == []
    by_title = {a.title: a for a in result.articles}
    md = by_title["Başlık"]
    assert md.id == "a" and md.date == "2024-12-16" and md.source_url == "https://example.org/a"
    assert md.paragraphs == ["Birinci paragraf burada.", "İkinci paragraf."]
    assert by_title["Bir"].id == "j1"
    assert by_title["İki"].date == "2024-04-25" and by_title["İki"].id.startswith("b-")


def test_article_ids_are_stable_across_loads(tmp_path: Path):
    (tmp_path / "b.jsonl").write_text('{"title": "X", "text": "Y."}\n', encoding="utf-8")
    assert load_corpus(tmp_path).articles[0].id == load_corpus(tmp_path).articles[0].id


def test_bad_files_are_skipped_with_reasons_and_the_rest_loads(tmp_path: Path, corpus_dir: Path):
    (corpus_dir / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    (corpus_dir / "latin1.txt").write_bytes("Türkçe metin".encode("latin-1"))
    (corpus_dir / "empty.txt").write_text("", encoding="utf-8")
    (corpus_dir / "furniture.txt").write_text("[reklam_2]\nYorum (0)\n", encoding="utf-8")
    (corpus_dir / "bad.md").write_text("---\ntitle: [unclosed\n---\nMetin.\n", encoding="utf-8")
    (corpus_dir / "open.md").write_text("---\ntitle: x\nMetin.\n", encoding="utf-8")
    (corpus_dir / "lines.jsonl").write_text(
        '{"title": "İyi", "text": "Sağlam satır."}\n{bozuk json\n{"title": "Metinsiz"}\n',
        encoding="utf-8",
    )
    (corpus_dir / "notes.pdf").write_bytes(b"%PDF-1.4")
    (corpus_dir / "gone.txt").symlink_to(tmp_path / "does-not-exist.txt")

    result = load_corpus(corpus_dir)
    reasons = {s.file: s.reason for s in result.skipped}
    assert "binary" in reasons["binary.txt"]
    assert "not UTF-8" in reasons["latin1.txt"]
    assert reasons["empty.txt"] == "empty file"
    assert reasons["furniture.txt"] == "no article text"
    assert "malformed front matter" in reasons["bad.md"]
    assert "malformed front matter" in reasons["open.md"]
    assert "malformed JSON" in reasons["lines.jsonl:2"]
    assert "missing 'text'" in reasons["lines.jsonl:3"]
    assert "unsupported file type" in reasons["notes.pdf"]
    assert "unreadable" in reasons["gone.txt"]
    titles = {a.title for a in result.articles}
    assert "İyi" in titles  # the good line of a partly broken JSONL file
    assert len(result.articles) == 3  # two seed articles + the good JSONL line


def test_duplicate_ids_are_reported_not_merged(tmp_path: Path):
    (tmp_path / "a.jsonl").write_text('{"id": "x", "text": "Bir."}\n', encoding="utf-8")
    (tmp_path / "b.jsonl").write_text('{"id": "x", "text": "İki."}\n', encoding="utf-8")
    result = load_corpus(tmp_path)
    assert [a.text for a in result.articles] == ["Bir."]
    assert "duplicate article id 'x'" in result.skipped[0].reason


def test_a_large_batch_of_files_loads_on_every_core_as_in_one_process(
    corpus_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    """Read in groups by worker processes, files give the same articles in the same order,
    the same digests, and the same reports of bad files and of duplicates across groups."""
    for n in range(6):
        (corpus_dir / f"part-{n}.jsonl").write_text(
            f'{{"id": "a{n}", "text": "Metin {n}."}}\n{{"id": "a0", "text": "Kopya."}}\n',
            encoding="utf-8",
        )
    (corpus_dir / "broken.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00")
    files = sorted(p.name for p in corpus_dir.iterdir())
    alone = load_files(corpus_dir, files)
    monkeypatch.setattr(corpus, "PARALLEL_MIN_BYTES", 1)
    monkeypatch.setattr(corpus, "PARALLEL_BYTES", 100)
    assert len(corpus._groups(corpus_dir, files)) >= 4
    assert load_files(corpus_dir, files) == alone
    loaded, digests = alone
    assert len(loaded.articles) == 2 + 6 and len(digests) == len(files) - 1
    assert sum("duplicate article id 'a0'" in s.reason for s in loaded.skipped) == 6
    assert any(s.file == "broken.txt" for s in loaded.skipped)


def test_load_file_validates_a_single_upload(tmp_path: Path):
    path = tmp_path / "upload.txt"
    path.write_bytes(b"\xff\xfe\x00garbage")
    result = load_file(path, "upload.txt")
    assert result.articles == [] and result.skipped[0].file == "upload.txt"


def test_a_corpus_folder_that_is_missing_or_not_a_folder_is_an_error(tmp_path: Path):
    """Read as "no articles", it would remove every article from the index."""
    with pytest.raises(CorpusRootError, match="does not exist"):
        load_corpus(tmp_path / "unmounted")
    (tmp_path / "file.txt").write_text("Metin.", encoding="utf-8")
    with pytest.raises(CorpusRootError, match="is not a folder"):
        load_corpus(tmp_path / "file.txt")


def test_utf16_with_a_byte_order_mark_is_decoded_and_without_one_is_named(tmp_path: Path):
    text = "Şişli'de konferans düzenlendi.\r\nİkinci paragraf: ğüçöı.\r\n"
    (tmp_path / "le.txt").write_bytes(codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    (tmp_path / "be.md").write_bytes(
        codecs.BOM_UTF16_BE + f"# Başlık\n\n{text}".encode("utf-16-be")
    )
    (tmp_path / "bare.txt").write_bytes(text.encode("utf-16-le"))
    (tmp_path / "latin1.txt").write_bytes(b"\xff\xfe bozuk")  # "ÿþ bozuk": a BOM's bytes only
    result = load_corpus(tmp_path)
    by_file = {a.source_file: a for a in result.articles}
    assert by_file["le.txt"].paragraphs == [
        "Şişli'de konferans düzenlendi.",
        "İkinci paragraf: ğüçöı.",
    ]
    assert by_file["be.md"].title == "Başlık"
    assert {s.file: s.reason for s in result.skipped} == {
        "bare.txt": "UTF-16 text without a byte-order mark; save it as UTF-8",
        "latin1.txt": "not UTF-8 text (byte 0xff at offset 0)",
    }


def test_a_file_over_the_size_limit_never_reads_as_the_limit(tmp_path: Path):
    path = tmp_path / "big.txt"
    with open(path, "wb") as fh:
        fh.truncate(MAX_FILE_BYTES + 1)  # sparse: no 50 MiB written
    assert load_file(path).skipped[0].reason == "too large (50.1 MiB; limit 50 MiB)"


def test_a_closing_source_line_is_the_attribution_and_stays_searchable(corpus_dir: Path):
    """The seed article ends with "VNA'ya göre": kept as its attribution, and as the last
    paragraph, which joins the article's last passage."""
    by_id = {a.id: a for a in load_corpus(corpus_dir).articles}
    seed = by_id["000_71fe91d9b92a9ec3"]
    assert seed.attribution == "VNA'ya göre"
    assert seed.paragraphs[-1] == "VNA'ya göre"
    assert seed.source_url.startswith("https://baobinhduong.vn/")
    last = split_article(seed)[-1]
    assert last.sentences[-1] == "VNA'ya göre" and len(last.sentences) > 1
    assert by_id["003_b1c4bbe646cb7f18"].attribution is None


def test_an_article_without_attribution_keeps_its_content_hash(corpus_dir: Path):
    """The hash drives re-indexing: adding the field must not re-index every article."""
    article = next(a for a in load_corpus(corpus_dir).articles if a.attribution is None)
    legacy = json.dumps(
        [article.title, article.text, article.source_url, article.date, article.lang],
        ensure_ascii=False,
    )
    assert article.content_hash == hashlib.sha256(legacy.encode()).hexdigest()[:32]
    assert replace(article, attribution="AA").content_hash != article.content_hash


@pytest.mark.parametrize(
    "closing",
    [
        ["VNA'ya göre"],
        ["Anadolu Ajansı'nın haberine göre"],
        ["Anadolu Ajansı"],
        ["(AA)"],
        ["AA"],
        ["Kaynak: AA"],
        ["Kaynak: Anadolu Ajansı"],
        ["Muhabir: Ahmet Yılmaz"],
        ["Haber: Zeynep Kara / AA"],
        ["Reuters"],
        ["(İHA)"],
        ["DHA"],
        ["Muhabir: Ahmet Yılmaz", "Kaynak: AA"],
    ],
)
def test_closing_attribution_lines(tmp_path: Path, closing: list[str]):
    body = "Merkez Bankası politika faizini yüzde 40'a indirdi.\nKurul kararını açıkladı."
    lines = [body, *closing, "[reklam_2]", "Kaynak: https://haber.example/a", "Yorum (0)"]
    (tmp_path / "a.txt").write_text("\n".join(lines), encoding="utf-8")
    article = load_file(tmp_path / "a.txt").articles[0]
    assert article.attribution == "; ".join(c.strip("()") for c in closing)
    assert article.paragraphs[-len(closing) :] == closing
    assert article.source_url == "https://haber.example/a"


@pytest.mark.parametrize(
    "closing",
    [
        "Konferans sahnesi.",  # a photo caption
        "Kurul bir sonraki kararını haziran ayında açıklayacak.",
        "Kaynak: https://haber.example/b",  # a source URL, not a name
        "İşte kurulun açıklamasındaki ayrıntılar ve piyasaların ilk tepkisi",
    ],
)
def test_ordinary_closing_lines_are_no_attribution(tmp_path: Path, closing: str):
    (tmp_path / "a.txt").write_text(f"Faiz yüzde 40'a indi.\n{closing}", encoding="utf-8")
    assert load_file(tmp_path / "a.txt").articles[0].attribution is None


def test_kaynak_with_a_name_is_no_source_url(tmp_path: Path):
    """ "Kaynak: AA" used to become the source URL "AA"."""
    (tmp_path / "a.txt").write_text("Faiz yüzde 40'a indi.\nKaynak: AA\n", encoding="utf-8")
    (tmp_path / "b.txt").write_text("Faiz indi.\nKaynak: aa.com.tr/ekonomi/1\n", encoding="utf-8")
    a = load_file(tmp_path / "a.txt").articles[0]
    assert (a.source_url, a.attribution) == (None, "Kaynak: AA")
    b = load_file(tmp_path / "b.txt").articles[0]
    assert (b.source_url, b.attribution) == ("aa.com.tr/ekonomi/1", None)
    assert b.paragraphs == ["Faiz indi."]


def test_a_one_line_article_is_not_taken_for_its_attribution(tmp_path: Path):
    (tmp_path / "a.txt").write_text("Reuters\n", encoding="utf-8")
    article = load_file(tmp_path / "a.txt").articles[0]
    assert article.attribution is None and article.text == "Reuters"


def test_front_matter_and_jsonl_attribution(tmp_path: Path):
    (tmp_path / "a.md").write_text(
        "---\ntitle: A\nattribution: Anadolu Ajansı\n---\nMetin bir.\n\nDHA\n", encoding="utf-8"
    )
    (tmp_path / "b.md").write_text("---\ntitle: B\nsource: Reuters\n---\nMetin iki.\n")
    (tmp_path / "c.md").write_text(
        "---\ntitle: C\nsource: https://haber.example/c\n---\nMetin üç.\n", encoding="utf-8"
    )
    (tmp_path / "d.jsonl").write_text(
        json.dumps({"id": "d", "text": "Metin dört.", "attribution": "İHA"}) + "\n",
        encoding="utf-8",
    )
    (tmp_path / "e.md").write_text(
        "---\ntitle: E\n---\nANKARA (AA) - Kurul toplandı.\n\nKarar açıklandı.\n",
        encoding="utf-8",
    )
    by_id = {a.id: a for a in load_corpus(tmp_path).articles}
    assert by_id["a"].attribution == "Anadolu Ajansı"  # front matter over the closing line
    assert by_id["b"].attribution == "Reuters" and by_id["b"].source_url is None
    assert by_id["c"].attribution is None and by_id["c"].source_url == "https://haber.example/c"
    assert by_id["d"].attribution == "İHA"
    assert by_id["e"].attribution == "AA"  # an agency dateline, when no line closes the text


def test_an_attribution_never_makes_a_passage_of_its_own():
    """After a passage already long enough to end at a paragraph break, the closing line
    used to open a new passage: the previous passage's last sentence again, plus two words,
    or the two words alone."""
    sentence = " ".join(["kelime"] * 70) + "."
    for text in (f"{sentence}\nKaynak: AA", f"Giriş cümlesi.\n{sentence}\nVNA'ya göre"):
        article = replace(ARTICLE, text=text, attribution=attribution_of(text))
        passages = split_article(article)
        assert article.attribution is not None
        assert passages[-1].sentences[-2:] == (sentence, text.split("\n")[-1])
        assert sum(sentence in p.sentences for p in passages) == 1


def test_news_fixture_attributions():
    expected = json.loads((FIXTURES / "news" / "questions.json").read_text(encoding="utf-8"))
    result = load_corpus(FIXTURES / "news" / "corpus")
    assert result.skipped == []
    assert {a.id: a.attribution for a in result.articles} == expected["attributions"]
    assert {a.id for a in result.articles if a.date is None} == {"bodrum-caz-festivali"}
