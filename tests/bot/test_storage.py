"""What the bot keeps must survive a restart: questions, sessions, feedback."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import aiosqlite
import pytest

from bot.render import Source
from bot.storage import DB_NAME, SESSION_DAYS, Storage, StorageError

SOURCES = [
    Source(("p1", "p2"), "a1", "Text <1>", "Text", "Title & co", "https://x.org", None, False),
    Source(("p3",), "a2", "Other", "Other", "Second", None, "2024-01-01", True),
]


async def record(storage: Storage, latency_ms: float = 10.0, answered: bool = True) -> str:
    return await storage.record_answer(
        chat_id=5,
        user_id=7,
        question="Kim başkanlık etti?",
        language="tr",
        answered=answered,
        latency_ms=latency_ms,
        sources=SOURCES,
        shown=1,
    )


async def test_sessions_and_feedback_survive_a_restart(tmp_path: Path) -> None:
    async with await Storage.open(tmp_path) as storage:
        session_id = await record(storage)
        await storage.mark_shown(session_id, 2)
        session = await storage.session(session_id)
        assert session is not None
        await storage.record_feedback(session, user_id=7, positive=True)

    async with await Storage.open(tmp_path) as storage:
        session = await storage.session(session_id)
        usage = await storage.usage()

    assert session is not None
    assert (session.question, session.language, session.answered, session.shown) == (
        "Kim başkanlık etti?",
        "tr",
        True,
        2,
    )
    assert session.sources == SOURCES
    assert (usage.questions, usage.answered, usage.feedback_up, usage.feedback_down) == (1, 1, 1, 0)
    assert len(session_id.encode()) + len("more::99") <= 64  # fits in callback data


async def test_the_database_uses_wal_and_records_feedback_with_question_and_passages(
    tmp_path: Path,
) -> None:
    async with await Storage.open(tmp_path) as storage:
        session_id = await record(storage)
        session = await storage.session(session_id)
        assert session is not None
        await storage.record_feedback(session, user_id=7, positive=True)
        await storage.record_feedback(session, user_id=7, positive=False)  # changed their mind
        await storage.record_feedback(session, user_id=8, positive=False)

        async with aiosqlite.connect(tmp_path / DB_NAME) as db:
            (mode,) = await (await db.execute("PRAGMA journal_mode")).fetchone()
            rows = await (
                await db.execute(
                    "SELECT user_id, question, passage_ids, positive FROM feedback ORDER BY user_id"
                )
            ).fetchall()

    assert mode == "wal"
    assert rows == [
        (7, "Kim başkanlık etti?", '["p1", "p2"]', 0),
        (8, "Kim başkanlık etti?", '["p1", "p2"]', 0),
    ]


async def test_usage_counts_questions_and_the_median_answer_time(tmp_path: Path) -> None:
    async with await Storage.open(tmp_path) as storage:
        assert (await storage.usage()).median_latency_ms is None
        for latency, answered in ((30, True), (10, False), (20, True)):
            await record(storage, latency, answered)
        odd = await storage.usage()
        await record(storage, 40)
        even = await storage.usage()

    assert (odd.questions, odd.answered, odd.median_latency_ms) == (3, 2, 20)
    assert even.median_latency_ms == 25


async def test_unknown_and_expired_sessions_are_gone(tmp_path: Path) -> None:
    async with await Storage.open(tmp_path) as storage:
        session_id = await record(storage)
        assert await storage.session("nope") is None
    async with aiosqlite.connect(tmp_path / DB_NAME) as db:
        old = time.time() - (SESSION_DAYS + 1) * 86400
        await db.execute("UPDATE sessions SET created_at = ?", (old,))
        await db.commit()

    async with await Storage.open(tmp_path) as storage:
        assert await storage.session(session_id) is None
        assert (await storage.usage()).questions == 1  # the question log is kept


@pytest.mark.parametrize("damage", ["garbage", "truncated", "bad page"])
async def test_a_damaged_database_is_refused_in_one_line_and_nothing_is_left_open(
    tmp_path: Path, damage: str
) -> None:
    async with await Storage.open(tmp_path) as storage:
        for _ in range(100):
            await record(storage)
    path = tmp_path / DB_NAME
    data = bytearray(path.read_bytes())
    if damage == "garbage":
        data = bytearray(bytes(range(256)) * 64)
    elif damage == "truncated":
        del data[len(data) // 2 :]
    else:  # the last page's content overwritten, the file header intact
        page_size = int.from_bytes(data[16:18], "big")
        data[-page_size + 8 :] = b"\xa5" * (page_size - 8)
    path.write_bytes(bytes(data))

    with pytest.raises(StorageError) as refused:
        await Storage.open(tmp_path)

    message = str(refused.value)
    assert message.startswith(f"the bot database {path} is damaged (") and "\n" not in message
    assert "move it aside" in message and "restore it from a backup" in message
    assert not [t for t in threading.enumerate() if isinstance(t, aiosqlite.Connection)]
