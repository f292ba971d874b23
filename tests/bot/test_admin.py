"""Admin commands and document uploads, end to end."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from bot import messaging
from bot.texts import TR
from embeddings.engine import Engine, IndexUpdateError
from embeddings.progress import Progress
from tests.bot.conftest import (
    ADMIN,
    BOT_USERNAME,
    GROUP,
    TR_ANSWER_NAME,
    TR_QUESTION,
    USER,
    RunningBot,
)
from tests.bot.fake_telegram import Call

UPLOAD_MD = """---
title: Kapadokya balon festivali başladı
url: https://example.org/kapadokya-balon
date: 2025-05-03
---
Kapadokya'daki sıcak hava balonu festivali 3 Mayıs'ta Göreme'de başladı.

Festivale 40 ülkeden 120 balon pilotu katılıyor ve etkinlik bir hafta sürecek.
"""


async def final_reply(bot: RunningBot, update: dict, timeout: float = 10) -> Call:
    """The report that follows the status message of index work."""
    _status, report = await bot.replies_to(update, count=2, timeout=timeout)
    return report


def bulk_articles(count: int) -> str:
    """A JSONL file big enough that indexing it takes a noticeable moment."""
    lines = []
    for i in range(count):
        sentences = " ".join(
            f"Belediye meclisinin {i}. toplantısında {j}. gündem maddesi görüşüldü."
            for j in range(30)
        )
        lines.append(json.dumps({"id": f"bulk-{i}", "title": f"Meclis {i}", "text": sentences}))
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("command", ["/reload", "/stats"])
async def test_admin_commands_are_refused_to_others_and_the_attempt_is_logged(
    bot: RunningBot, command: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bot")
    private = bot.tg.private_message(USER, command)
    in_group = bot.tg.group_message(GROUP, USER, f"{command}@{BOT_USERNAME}")

    assert (await bot.reply_to(private)).result["text"] == TR.admin_only
    assert (await bot.reply_to(in_group)).result["text"] == TR.admin_only
    refusals = [r for r in caplog.records if "not an admin" in r.getMessage()]
    assert len(refusals) == 2 and f"user {USER}" in refusals[0].getMessage()


async def test_reload_reports_counts_and_questions_are_answered_meanwhile(
    bot: RunningBot, corpus: Path
) -> None:
    (corpus / "meclis.jsonl").write_text(bulk_articles(200), encoding="utf-8")
    (corpus / "bozuk.txt").write_bytes(b"\xff\xfe bozuk")
    (corpus / "resim.png").write_bytes(b"\x89PNG")
    reload = bot.tg.private_message(ADMIN, "/reload")
    status = await bot.reply_to(reload)  # at once: the update has begun

    questions = [bot.tg.private_message(USER + i, TR_QUESTION) for i in range(3)]
    answers = [await bot.reply_to(update) for update in questions]
    report = await final_reply(bot, reload, timeout=30)

    assert status.result["text"] == TR.reloading
    assert all(TR_ANSWER_NAME in answer.result["text"] for answer in answers)
    assert all(answer.at < report.at for answer in answers)  # the update did not block them
    text = report.result["text"]
    assert "Makaleler: 202 (eklenen 200, değişen 0, silinen 0)" in text
    assert "Atlanan dosyalar (2):" in text
    assert "• bozuk.txt: not UTF-8 text" in text
    assert "• resim.png: unsupported file type .png" in text
    assert "saniyede güncellendi" in text
    question = bot.tg.private_message(USER, "Belediye meclisinin 117. toplantısı")
    assert "Meclis 117" in (await bot.reply_to(question)).result["text"]


async def test_a_reload_without_changes_says_so(bot: RunningBot) -> None:
    update = bot.tg.private_message(ADMIN, "/reload")

    text = (await final_reply(bot, update)).result["text"]

    assert text.startswith("✅ Değişiklik yok") and "2 makale" in text


async def test_a_failed_reload_is_reported_and_the_old_index_keeps_serving(
    bot: RunningBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def failing_update(self: Engine, *args: object, **kwargs: object) -> None:
        raise IndexUpdateError("OperationalError: database or disk is full")

    monkeypatch.setattr(Engine, "update", failing_update)
    update = bot.tg.private_message(ADMIN, "/reload")
    question = bot.tg.private_message(USER, TR_QUESTION)

    failure = (await final_reply(bot, update)).result["text"]
    answer = (await bot.reply_to(question)).result["text"]

    assert failure.startswith("❌ Dizin güncellenemedi; önceki dizin kullanılmaya devam ediyor.")
    assert "database or disk is full" in failure
    assert TR_ANSWER_NAME in answer


async def test_stats_show_the_index_and_usage(bot: RunningBot) -> None:
    question = bot.tg.private_message(USER, TR_QUESTION)
    answer = await bot.reply_to(question)
    vote = answer.params["reply_markup"]["inline_keyboard"][-1][0]["callback_data"]
    bot.tg.callback_query(USER, answer.result, vote)
    await bot.tg.wait_for("answerCallbackQuery")
    update = bot.tg.private_message(ADMIN, "/stats")

    text = (await bot.reply_to(update)).result["text"]

    assert "Makaleler: 2\n" in text
    assert "Model: yok (yalnızca sözcük araması)" in text
    assert "Dizin boyutu: " in text and "Çalışma süresi: 00:00:" in text
    assert "Sorular: 1 (yanıtlanan 1)" in text
    assert "Ortanca yanıt süresi: " in text and " ms" in text
    assert "Geri bildirim: 👍 1 · 👎 0" in text


async def test_an_admin_upload_is_indexed_and_then_answers_questions(
    bot: RunningBot, corpus: Path
) -> None:
    upload = bot.tg.document_message(ADMIN, "Kapadokya festivali.md", UPLOAD_MD.encode())

    text = (await final_reply(bot, upload, timeout=20)).result["text"]

    assert text.startswith("✅ uploads/Kapadokya_festivali.md olarak kaydedildi")
    assert "Dosyadaki makaleler: 1 (yeni 1, güncellenen 0)" in text
    assert "• Kapadokya balon festivali başladı" in text
    assert (corpus / "uploads" / "Kapadokya_festivali.md").read_text() == UPLOAD_MD
    assert sorted(p.name for p in corpus.iterdir()) == [
        "000_71fe91d9b92a9ec3.txt",
        "003_b1c4bbe646cb7f18.txt",
        "uploads",
    ]
    question = bot.tg.private_message(USER, "Balon festivaline kaç pilot katılıyor?")
    answer = await bot.reply_to(question)
    assert "120 balon pilotu" in answer.result["text"]
    assert '<a href="https://example.org/kapadokya-balon">' in answer.params["text"]

    again = bot.tg.document_message(ADMIN, "Kapadokya festivali.md", UPLOAD_MD.encode())
    assert "zaten aynı içerikle var" in (await bot.reply_to(again)).result["text"]
    revised = UPLOAD_MD.replace("120 balon", "150 balon").encode()
    new_version = bot.tg.document_message(ADMIN, "Kapadokya festivali.md", revised)
    assert "(yeni 0, güncellenen 1)" in (await final_reply(bot, new_version)).result["text"]
    assert (corpus / "uploads" / "Kapadokya_festivali.md").read_bytes() == revised


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        (
            "haberler.jsonl",
            b'{"title": "Bir", "text": "Metin bir."}\n{"title": "iki", \n',
            "• uploads/haberler.jsonl:2: malformed JSON",
        ),
        ("bos.txt", b"   \n", "• uploads/bos.txt: empty file"),
        ("ikili.txt", b"\x00\x01\x02 binary", "• uploads/ikili.txt: binary file, not text"),
        ("rapor.pdf", b"%PDF-1.4", "yalnızca .txt, .md ve .jsonl dosyaları kabul ediliyor"),
        (
            "kopya.jsonl",
            b'{"id": "000_71fe91d9b92a9ec3", "title": "Kopya", "text": "Ayni kimlik."}\n',
            "• 000_71fe91d9b92a9ec3 (000_71fe91d9b92a9ec3.txt)",
        ),
    ],
)
async def test_bad_uploads_are_refused_with_the_reason(
    bot: RunningBot, corpus: Path, name: str, content: bytes, expected: str
) -> None:
    upload = bot.tg.document_message(ADMIN, name, content)

    text = (await bot.reply_to(upload)).result["text"]

    assert text.startswith("❌ ")
    assert expected in text
    assert not (corpus / "uploads").exists()


async def test_an_upload_while_the_corpus_folder_is_missing_says_so(
    bot: RunningBot, corpus: Path
) -> None:
    """A renamed or unmounted corpus folder: the upload is refused with the reason, and the
    index (still serving) is left as it was."""
    corpus.rename(corpus.with_name("corpus-away"))
    upload = bot.tg.document_message(ADMIN, "haber.md", UPLOAD_MD.encode())

    text = (await bot.reply_to(upload)).result["text"]

    assert "does not exist" in text and not corpus.exists()
    answer = await bot.reply_to(bot.tg.private_message(USER, TR_QUESTION))
    assert TR_ANSWER_NAME in answer.result["text"]


async def test_only_admins_can_add_documents(
    bot: RunningBot, corpus: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bot")
    upload = bot.tg.document_message(USER, "haber.md", UPLOAD_MD.encode())

    assert (await bot.reply_to(upload)).result["text"] == TR.upload_admin_only
    assert not (corpus / "uploads").exists()
    assert any("document upload from user 1001" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("work", ["reload", "upload"])
async def test_long_index_work_shows_its_progress_in_a_status_message(
    bot: RunningBot, monkeypatch: pytest.MonkeyPatch, work: str
) -> None:
    monkeypatch.setattr(messaging, "PROGRESS_EDIT_INTERVAL", 0.3)
    update = Engine.update

    async def encoding_update(self: Engine, *args: Any, progress: Any = None, **kwargs: Any):
        """As with a model: the engine reports each encoded chunk of new passages."""
        state = Progress("passages", 2000)
        for _ in range(8):
            await asyncio.sleep(0.1)
            state.done += 250
            progress(state)
        return await update(self, *args, progress=progress, **kwargs)

    monkeypatch.setattr(Engine, "update", encoding_update)
    if work == "reload":
        heading = TR.reloading
        started = bot.tg.private_message(ADMIN, "/reload")
    else:
        heading = TR.indexing_upload.format(name="uploads/Kapadokya_festivali.md")
        started = bot.tg.document_message(ADMIN, "Kapadokya festivali.md", UPLOAD_MD.encode())

    status, report = await bot.replies_to(started, count=2, timeout=20)

    assert status.result["text"] == heading
    edits = [call for call in bot.tg.calls_to("editMessageText") if not call.failed]
    assert 1 <= len(edits) < 8  # throttled: not one per chunk
    for edit in edits:
        assert edit.params["message_id"] == status.result["message_id"]
        assert edit.result["text"].startswith(f"{heading}\nembedding passages: ")
        assert status.at < edit.at < report.at
    assert "/2,000 (" in edits[-1].result["text"]
    assert report.result["text"].startswith("✅")


async def test_a_reload_that_would_empty_the_index_waits_for_confirmation(
    bot: RunningBot, corpus: Path
) -> None:
    for path in corpus.iterdir():  # as if the corpus folder were unmounted
        path.unlink()
    reload = bot.tg.private_message(ADMIN, "/reload")

    refusal = (await final_reply(bot, reload)).result["text"]
    answer = await bot.reply_to(bot.tg.private_message(USER, TR_QUESTION))

    assert refusal == TR.reload_mass_deletion.format(removing=2, total=2)
    assert "/reload confirm" in refusal
    assert TR_ANSWER_NAME in answer.result["text"]  # nothing was removed
    confirmed = bot.tg.private_message(ADMIN, "/reload confirm")
    report = (await final_reply(bot, confirmed)).result["text"]
    assert "Makaleler: 0 (eklenen 0, değişen 0, silinen 2)" in report
