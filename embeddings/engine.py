"""The retrieval engine: incremental indexing of a corpus folder and hybrid question answering.

`Engine` holds the shared state (configuration, model, database connections, the served
snapshot) and is split by life cycle: `indexing` brings the index in line with the corpus,
`publishing` loads, publishes and merges the segments questions are answered from, and
`asking` answers. Readers never wait for an update: questions are answered from the last
committed SQLite state (WAL) and the current `Snapshot`; an update builds what it adds on
the side and publishes it with one commit and one reference swap.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import aiosqlite

from embeddings import indexfiles, store
from embeddings.asking import Asker, question_terms
from embeddings.config import EngineConfig
from embeddings.encoders import Encoder, load_encoder
from embeddings.encoders.profiles import ModelProfile, profile_for
from embeddings.indexing import (
    ORPHAN_GRACE_DAYS,
    Indexer,
    IndexUpdateError,
    MassDeletion,
    UpdateReport,
    is_mass_deletion,
)
from embeddings.progress import ProgressCallback
from embeddings.publishing import Publisher
from embeddings.segments import Snapshot
from embeddings.store import DB_NAME

__all__ = [
    "DB_NAME",
    "ORPHAN_GRACE_DAYS",
    "Engine",
    "IndexOpenError",
    "IndexStats",
    "IndexUpdateError",
    "MassDeletion",
    "Snapshot",
    "UpdateReport",
    "is_mass_deletion",
    "question_terms",
]

PROFILES_NAME = "profiles.json"  # `qabot calibrate` results for this data folder
_NO_ENCODER = object()


class IndexOpenError(RuntimeError):
    """The index cannot be opened (damaged database, unwritable folder…); the message is one
    line saying what is wrong and what to do. Everything opened so far has been closed."""


@dataclass(frozen=True)
class IndexStats:
    articles: int
    passages: int
    model: str | None
    vector_index: str | None  # "flat" / "hnsw"
    index_bytes: int
    segments: int = 0


class Engine(Indexer, Publisher, Asker):
    def __init__(
        self,
        config: EngineConfig,
        encoder: Encoder | None,
        writer: aiosqlite.Connection,
        readers: list[aiosqlite.Connection],
        *,
        read_only: bool = False,
    ) -> None:
        self.config = config
        self.encoder = encoder
        self.read_only = read_only  # then `writer` is a read-only connection too
        self._writer = writer
        self._reader_list = readers
        self._readers: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        for conn in readers:
            self._readers.put_nowait(conn)
        self._update_lock = asyncio.Lock()
        self._init_publishing()
        profile, self.profile_source = profile_for(
            encoder.key if encoder else None, config.data_dir / PROFILES_NAME
        )
        self.use_profile(profile)
        self._progress: ProgressCallback | None = None  # for encoding at start-up

    def use_profile(self, profile: ModelProfile) -> None:
        """Rank and judge with this model profile; settings that are set still win."""
        self.profile = profile
        self.fusion = dataclasses.replace(
            self.config.fusion,
            dense_weight=_first(self.config.fusion.dense_weight, profile.dense_weight),
            dense_weight_cross=_first(
                self.config.fusion.dense_weight_cross, profile.dense_weight_cross
            ),
        )

    # ---- life cycle -------------------------------------------------------------------

    @classmethod
    async def open(
        cls,
        config: EngineConfig,
        encoder: Encoder | object | None = _NO_ENCODER,
        *,
        read_only: bool = False,
        progress: ProgressCallback | None = None,
    ) -> Engine:
        """Open (creating if needed) the index in `config.data_dir` and load the model.

        `progress` reports any encoding start-up has to do (an index built with another
        model, or before sentence vectors existed).

        Pass `encoder` to share an already loaded model (evaluation, benchmarks).
        `read_only` answers from a built index without writing anything, for a folder that
        cannot be written: a damaged index file is rebuilt in memory only, and updates are
        refused. Raises `IndexOpenError`, with everything it opened closed again.
        """
        database = config.data_dir / DB_NAME
        _check_folder(database, read_only)
        if encoder is _NO_ENCODER:
            encoder = await asyncio.to_thread(
                load_encoder,
                config.model,
                timeout=config.model_load_timeout,
                batch_size=config.batch_size,
                device=config.device,
            )
        async with contextlib.AsyncExitStack() as opened:
            try:
                writer = await store.connect(database, readonly=read_only)
                opened.push_async_callback(writer.close)
                readers = []
                for _ in range(max(1, config.reader_connections)):
                    readers.append(await store.connect(database, readonly=True))
                    opened.push_async_callback(readers[-1].close)
                if problem := await store.integrity_problem(writer):
                    raise IndexOpenError(_damaged_database(database, problem))
                engine = cls(config, encoder, writer, readers, read_only=read_only)  # type: ignore[arg-type]
                if read_only and not await engine.is_built():
                    raise IndexOpenError(_not_built_read_only(config.data_dir))
                engine._progress = progress
                await engine._load_snapshot()
            except sqlite3.DatabaseError as err:
                if err.sqlite_errorcode in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
                    raise IndexOpenError(_damaged_database(database, str(err))) from err
                raise IndexOpenError(f"cannot open the index in {database}: {err}") from err
            except OSError as err:
                raise IndexOpenError(
                    f"cannot open the index in {config.data_dir}: {err.strerror or err}"
                ) from err
            opened.pop_all()
        return engine

    async def close(self) -> None:
        """Finish a running merge and checkpoint, then close every connection, even when
        closing one fails: one left open would keep the process alive (aiosqlite's worker
        threads are not daemons)."""
        await self.wait_for_merge()
        await self.wait_for_checkpoints()
        async with contextlib.AsyncExitStack() as closing:
            for conn in (self._writer, *self._reader_list):  # the writer last: it checkpoints
                closing.push_async_callback(conn.close)

    async def __aenter__(self) -> Engine:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def model_name(self) -> str | None:
        return self.encoder.name if self.encoder else None

    async def is_built(self) -> bool:
        return await store.get_meta(self._writer, "indexed_at") is not None

    async def stats(self) -> IndexStats:
        snap = self._snapshot
        own = [DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm", *snap.files()]
        paths = [self.config.data_dir / name for name in own]
        size = sum(p.stat().st_size for p in paths if p.exists())
        return IndexStats(
            articles=snap.articles,
            passages=snap.passages,
            model=self.encoder.description if self.encoder else None,
            vector_index=snap.vectors.kind if snap.vectors else None,
            index_bytes=size,
            segments=len(snap.segments),
        )


def _first(*values: float | None) -> float | None:
    return next((v for v in values if v is not None), None)


def _check_folder(database: Path, read_only: bool) -> None:
    """Fail early, in one line, where SQLite would fail obscurely (or hang, see `close`)."""
    folder = database.parent
    if read_only:
        if not database.is_file():
            raise IndexOpenError(_not_built_read_only(folder))
        return
    if not indexfiles.writable(database):
        raise IndexOpenError(
            f"the index folder {folder} cannot be written (read-only or no permission):"
            " make it writable, or use another folder"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise IndexOpenError(f"cannot create the index folder {folder}: {err.strerror}") from err


def _not_built_read_only(folder: Path) -> str:
    return (
        f"there is no index in {folder}, and it cannot be built there (read-only):"
        " build it in a folder that can be written"
    )


def _damaged_database(database: Path, problem: str) -> str:
    return (
        f"the index database {database} is damaged ({problem}): move it away, with its -wal"
        " and -shm files, and index again to rebuild it from the corpus folder"
    )
