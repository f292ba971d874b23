import codecs
import json
from pathlib import Path

import pytest

from embeddings.corpus import MAX_FILE_BYTES, CorpusRootError, load_corpus, load_file


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
