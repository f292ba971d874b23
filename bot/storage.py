"""What the bot keeps across restarts: questions asked, answer sessions, feedback.

One SQLite file in WAL mode with synchronous=FULL: a write is on disk before the bot
acknowledges it (sends the answer carrying buttons that refer to it, thanks for feedback).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import aiosqlite

from bot.render import Source

DB_NAME = "bot.sqlite3"
SESSION_DAYS = 30  # "More sources" and feedback buttons work this long after the answer

_SCHEMA = """
CREATE TABLE IF NOT EXISTS questions (
    id INTEGER PRIMARY KEY,
    chat_id INTEGER NOT NULL,
    user_id INTEGER,
    asked_at REAL NOT NULL,
    latency_ms REAL NOT NULL,
    answered INTEGER NOT NULL,
    language TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    question_id INTEGER NOT NULL REFERENCES questions(id),
    chat_id INTEGER NOT NULL,
    question TEXT NOT NULL,
    language TEXT NOT NULL,
    answered INTEGER NOT NULL,
    sources TEXT NOT NULL,
    shown INTEGER NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS feedback (
    session_id TEXT NOT NULL,
    user_id INTEGER NOT NULL,
    chat_id INTEGER NOT NULL,
    question_id INTEGER NOT NULL,
    question TEXT NOT NULL,
    passage_ids TEXT NOT NULL,
    positive INTEGER NOT NULL,
    given_at REAL NOT NULL,
    PRIMARY KEY (session_id, user_id)
);
"""


@dataclass(frozen=True)
class Session:
    """An answer whose buttons can still be pressed."""

    id: str
    question_id: int
    chat_id: int
    question: str
    language: str
    answered: bool
    sources: list[Source]
    shown: int  # sources shown so far (answer + "More sources" pages)


@dataclass(frozen=True)
class Usage:
    questions: int
    answered: int
    median_latency_ms: float | None
    feedback_up: int
    feedback_down: int


class StorageError(RuntimeError):
    """The database cannot be opened; the message is one line saying what to do."""


class Storage:
    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        # Handlers share the connection: a transaction must not take in others' statements.
        self._writing = asyncio.Lock()

    @classmethod
    async def open(cls, data_dir: Path) -> Storage:
        """Open (creating if needed) the database, check it, and forget sessions past their
        lifetime. Fails with StorageError, and nothing left open (an open connection's thread
        would keep the process from exiting)."""
        path = data_dir / DB_NAME
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
            db = await aiosqlite.connect(path, isolation_level=None)
        except (OSError, sqlite3.Error) as err:
            raise StorageError(f"cannot open the bot database {path}: {err}") from err
        try:
            await _check(db, path)
            await db.execute("PRAGMA journal_mode=WAL")
            await db.execute("PRAGMA synchronous=FULL")
            await db.executescript(_SCHEMA)
            await db.execute(
                "DELETE FROM sessions WHERE created_at < ?", (time.time() - SESSION_DAYS * 86400,)
            )
        except BaseException as err:
            await db.close()
            if _is_corruption(err):
                raise StorageError(_damaged(path, str(err))) from err
            if isinstance(err, sqlite3.Error):
                raise StorageError(f"cannot open the bot database {path}: {err}") from err
            raise
        return cls(db)

    async def close(self) -> None:
        await self._db.close()

    async def __aenter__(self) -> Storage:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def record_answer(
        self,
        *,
        chat_id: int,
        user_id: int | None,
        question: str,
        language: str,
        answered: bool,
        latency_ms: float,
        sources: list[Source],
        shown: int,
    ) -> str:
        """Log the question and keep its answer for the buttons; the session id."""
        session_id = secrets.token_urlsafe(9)
        now = time.time()
        payload = json.dumps([s.to_dict() for s in sources], ensure_ascii=False)
        async with self._writing:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                cursor = await self._db.execute(
                    "INSERT INTO questions (chat_id, user_id, asked_at, latency_ms, answered,"
                    " language) VALUES (?, ?, ?, ?, ?, ?)",
                    (chat_id, user_id, now, latency_ms, answered, language),
                )
                await self._db.execute(
                    "INSERT INTO sessions (id, question_id, chat_id, question, language,"
                    " answered, sources, shown, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        session_id,
                        cursor.lastrowid,
                        chat_id,
                        question,
                        language,
                        answered,
                        payload,
                        shown,
                        now,
                    ),
                )
                await self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:  # SQLite may have rolled back already (disk full)
                    await self._db.execute("ROLLBACK")
                raise
        return session_id

    async def session(self, session_id: str) -> Session | None:
        async with self._db.execute(
            "SELECT id, question_id, chat_id, question, language, answered, sources, shown"
            " FROM sessions WHERE id = ?",
            (session_id,),
        ) as cursor:
            row = await cursor.fetchone()
        if row is None:
            return None
        sources = [Source.from_dict(item) for item in json.loads(row[6])]
        return Session(row[0], row[1], row[2], row[3], row[4], bool(row[5]), sources, row[7])

    async def mark_shown(self, session_id: str, shown: int) -> None:
        """Remember how far "More sources" got, so feedback names every passage shown."""
        async with self._writing:
            await self._db.execute(
                "UPDATE sessions SET shown = MAX(shown, ?) WHERE id = ?", (shown, session_id)
            )

    async def record_feedback(self, session: Session, user_id: int, positive: bool) -> None:
        """One vote per user and answer; voting again replaces it."""
        shown = session.sources[: session.shown]
        passage_ids = json.dumps([pid for source in shown for pid in source.passage_ids])
        async with self._writing:
            await self._db.execute(
                "INSERT INTO feedback (session_id, user_id, chat_id, question_id, question,"
                " passage_ids, positive, given_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (session_id, user_id) DO UPDATE SET positive = excluded.positive,"
                " passage_ids = excluded.passage_ids, given_at = excluded.given_at",
                (
                    session.id,
                    user_id,
                    session.chat_id,
                    session.question_id,
                    session.question,
                    passage_ids,
                    positive,
                    time.time(),
                ),
            )

    async def usage(self) -> Usage:
        async with self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(answered), 0) FROM questions"
        ) as cursor:
            questions, answered = await cursor.fetchone()  # type: ignore[misc]
        # The median: the middle value, or the mean of the two middle ones.
        async with self._db.execute(
            "SELECT AVG(latency_ms) FROM (SELECT latency_ms FROM questions ORDER BY latency_ms"
            " LIMIT 2 - ? % 2 OFFSET (? - 1) / 2)",
            (questions, questions),
        ) as cursor:
            (median,) = await cursor.fetchone()  # type: ignore[misc]
        async with self._db.execute(
            "SELECT COALESCE(SUM(positive), 0), COALESCE(SUM(1 - positive), 0) FROM feedback"
        ) as cursor:
            up, down = await cursor.fetchone()  # type: ignore[misc]
        return Usage(questions, answered, median, up, down)


async def _check(db: aiosqlite.Connection, path: Path) -> None:
    async with db.execute("PRAGMA quick_check") as cursor:
        problems = [row[0] for row in await cursor.fetchall()]
    if problems != ["ok"]:
        lines = [line for row in problems for line in row.splitlines() if "***" not in line]
        more = f" (+{len(lines) - 1} more)" if len(lines) > 1 else ""
        raise StorageError(_damaged(path, f"quick_check: {lines[0]}{more}"))


def _is_corruption(err: BaseException) -> bool:
    code = getattr(err, "sqlite_errorcode", None)
    return code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)


def _damaged(path: Path, reason: str) -> str:
    return (
        f"the bot database {path} is damaged ({reason}): move it aside to start with an empty "
        "one (the question log, feedback and answer buttons are lost), or restore it from a "
        "backup."
    )
