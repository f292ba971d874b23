"""Loading, building and publishing snapshots of the served index (`segments.Snapshot`).

Segment files are written before the transaction that records them and are never changed
afterwards; a snapshot is published by recording its segments in the database and, once
that commits, swapping one reference. A crash at any point leaves the last committed
records, whose files were written (and synced) before they were committed: the index opens
and answers. Files nothing refers to are garbage.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from embeddings import ann, indexfiles, lexical, sentences, store
from embeddings.indexfiles import FileRecord
from embeddings.lexical import Bm25Index, Postings
from embeddings.segments import Part, Segment, Snapshot, merge
from embeddings.sentences import SentenceVectors

if TYPE_CHECKING:
    import aiosqlite

    from embeddings.config import EngineConfig
    from embeddings.encoders import Encoder
    from embeddings.progress import ProgressCallback

log = logging.getLogger(__name__)

LOADERS: dict[str, Callable[[Path], Any]] = {
    "lexical": Bm25Index.load,
    "sentences": SentenceVectors.load,
}


class Publisher:
    """The engine's snapshot life cycle: load at start, publish after updates, merge."""

    config: EngineConfig
    encoder: Encoder | None
    read_only: bool
    _writer: aiosqlite.Connection
    _snapshot: Snapshot
    _update_lock: asyncio.Lock
    _progress: ProgressCallback | None

    def _init_publishing(self) -> None:
        self._snapshot = Snapshot()
        self._merging: asyncio.Task[bool] | None = None
        self._merge_lock = asyncio.Lock()
        self._checkpoints: set[asyncio.Task[None]] = set()  # held: the loop keeps weak refs

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    def _kinds(self) -> tuple[str, ...]:
        """The parts served with this configuration."""
        memory = ("lexical",) if self.config.lexical_backend == "memory" else ()
        return memory + (("vectors", "sentences") if self.encoder else ())

    def _model_key(self, kind: str) -> str | None:
        if kind == "lexical" or self.encoder is None:
            return None
        return self.encoder.key if kind == "vectors" else sentences.cache_key(self.encoder.key)

    # ---- loading ----------------------------------------------------------------------

    async def _load_snapshot(self) -> None:
        """Load the recorded segments' files, verified; rebuild from the database what is
        missing, damaged or of another model (vectors from the embedding cache: nothing
        embedded before is embedded again), and index passages no segment covers. A
        read-only index rebuilds in memory only."""
        articles, passages = await store.counts(self._writer)
        live = await store.live_rowids(self._writer)
        records = await indexfiles.segment_records(self._writer)
        kinds = self._kinds()
        ends = [r["last"] for r in records]
        if len(live) and ends and np.any(live[~_covered(live, records)] <= max(ends)):
            log.warning("Recorded index segments do not match the database; rebuilding them.")
            records = []
        if not kinds:
            self._snapshot = Snapshot(articles=articles, passages=passages, memory_lexical=False)
            return
        loaded = []
        for record in records:
            files = {kind: indexfiles.file_record(f) for kind, f in record["files"].items()}
            parts = {kind: await self._verified(files.get(kind), kind) for kind in kinds}
            loaded.append((record, files, parts))
        start = max(ends) + 1 if ends else 0
        uncovered = bool(len(live)) and live[-1] >= start
        missing = [kind for _, _, parts in loaded for kind, part in parts.items() if part is None]
        if uncovered or missing:
            log.info("Saved index missing or out of date; rebuilding it from the database.")
            if self.encoder and not self.read_only and (uncovered or set(missing) - {"lexical"}):
                await self._embed_missing()
        built: list[Segment] = []
        for record, files, parts in loaded:
            for kind, part in parts.items():
                if part is None:
                    parts[kind] = await self._build_part(kind, record["first"], record["last"])
                    files.pop(kind, None)
            built.append(Segment(record["first"], record["last"], files=files, **parts))
        if uncovered:
            built.append(await self._build_segment(int(live[live >= start][0]), int(live[-1])))
        dead = tuple(_dead(s.rowids(), live) for s in built)
        memory = "lexical" in kinds
        snapshot = Snapshot(tuple(built), dead, articles, passages, memory)
        if (uncovered or missing) and not self.read_only:
            saved = tuple([await self._saved(s) for s in snapshot.segments])
            snapshot = Snapshot(saved, dead, articles, passages, memory)
            async with self._transaction():
                await indexfiles.set_segment_records(self._writer, _records(snapshot))
        self._snapshot = snapshot
        self._remove_stale_files()

    async def _embed_missing(self) -> None:
        """Encode what the embedding cache lacks (an index built with another model, or
        before sentence vectors existed), reporting progress."""
        assert self.encoder is not None
        missing = await store.passages_without_embedding(self._writer, self.encoder.key)
        key = sentences.cache_key(self.encoder.key)
        missing += await store.passages_without_embedding(self._writer, key)
        if missing:
            await self._embed(list({p[0]: p for p in missing}.values()), self._progress)

    async def _verified(self, file: FileRecord | None, kind: str) -> Part | None:
        """A recorded file when it is intact and of this model; None (to rebuild) when not,
        with one warning when it is damaged rather than of another model."""
        try:
            return await asyncio.to_thread(
                indexfiles.load,
                self.config.data_dir,
                file,
                self._loader(kind),
                self._model_key(kind),
            )
        except indexfiles.DamagedFile as err:
            log.warning("Index file %s; rebuilding it from the database.", err)
            return None

    async def _build_segment(
        self, first: int, last: int, lexical: Bm25Index | None = None
    ) -> Segment:
        """A segment of the passages with row ids in [first, last] (`lexical`: its BM25
        part, when the caller built it), with every served part."""
        parts: dict[str, Part] = {}
        for kind in self._kinds():
            built = lexical if kind == "lexical" else None
            parts[kind] = built if built is not None else await self._build_part(kind, first, last)
        return Segment(first, last, **parts)

    async def _build_part(self, kind: str, first: int, last: int) -> Part:
        if kind == "lexical":
            rows = await lexical.stored_terms(self._writer, first, last)
            return await asyncio.to_thread(Bm25Index.build, rows)
        assert self.encoder is not None
        if kind == "vectors":
            ids, found = await store.all_embeddings(self._writer, self.encoder.key, first, last)
            return await asyncio.to_thread(self._index_vectors, ids, found)
        key, dim = self._model_key(kind) or "", self.encoder.dim
        parts = [
            (await asyncio.to_thread(SentenceVectors.from_blobs, blobs, dim), None)
            async for blobs in store.blob_chunks(self._writer, key, first, last)
        ]
        if not parts:
            return SentenceVectors.from_blobs([], dim)
        return await asyncio.to_thread(SentenceVectors.merge, parts)

    def _loader(self, kind: str) -> Callable[[Path], Any]:
        return ann.create(self.config.vector_backend).load if kind == "vectors" else LOADERS[kind]

    def _index_vectors(self, ids: np.ndarray, found: np.ndarray) -> ann.ANN:
        assert self.encoder is not None
        if not len(ids):
            found = np.zeros((0, self.encoder.dim), dtype=np.float32)
        backend = ann.create(self.config.vector_backend)
        return backend.build(found, ids, hnsw_threshold=self.config.hnsw_threshold)

    async def _saved(self, segment: Segment) -> Segment:
        """The segment with a verified file for each served part (written now if new)."""
        files = dict(segment.files)
        for kind in self._kinds():
            part = getattr(segment, kind)
            if kind in files or part is None:
                continue
            name, digest = await asyncio.to_thread(
                indexfiles.write, self.config.data_dir, kind, part.save
            )
            files[kind] = FileRecord(name, digest, self._model_key(kind))
        return Segment(
            segment.first, segment.last, segment.lexical, segment.vectors, segment.sentences, files
        )

    # ---- publishing -------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[None]:
        """BEGIN IMMEDIATE … COMMIT. On failure, roll back unless SQLite already has (it does
        on a full disk, and a second ROLLBACK would raise and hide that cause), and delete
        the index files written meanwhile: nothing refers to them. After COMMIT, the WAL is
        copied back into the database in the background (`_checkpoint`)."""
        await self._writer.execute("BEGIN IMMEDIATE")
        try:
            yield
            await self._writer.execute("COMMIT")
            task = asyncio.create_task(self._checkpoint())
            self._checkpoints.add(task)
            task.add_done_callback(self._checkpoints.discard)
        except BaseException:
            if self._writer.in_transaction:
                try:
                    await self._writer.execute("ROLLBACK")
                except sqlite3.Error as err:
                    log.warning("ROLLBACK failed too: %s", err)
            self._remove_stale_files()
            raise

    async def wait_for_checkpoints(self) -> None:
        await asyncio.gather(*self._checkpoints)

    async def _checkpoint(self) -> None:
        """A passive checkpoint in a thread, while the update's caller goes on: questions
        are answered and the next update writes meanwhile."""
        try:
            await asyncio.to_thread(store.checkpoint, self.config.data_dir / store.DB_NAME)
        except sqlite3.Error as err:
            log.warning("Checkpointing the database failed (%s); will try again.", err)

    def _lexical_delta(
        self, postings: list[Postings], rows: tuple[int, int] | None
    ) -> asyncio.Future[Bm25Index] | None:
        """The BM25 part of an update's new segment (rows: its first and last row id), being
        built in a thread from the postings counted at analysis; None if it is not served."""
        if rows is None or "lexical" not in self._kinds():
            return None
        rowids = np.arange(rows[0], rows[1] + 1, dtype=np.int64)
        return asyncio.ensure_future(asyncio.to_thread(Bm25Index.from_postings, postings, rowids))

    async def _with_delta(
        self,
        removed: list[int],
        added: tuple[int, int] | None,
        lexical: Bm25Index | None,
        articles: int,
        passages: int,
    ) -> Snapshot:
        """The snapshot after an update, in the caller's transaction: the removed passages
        dead, the new ones (`added`: their first and last row id; `lexical`: their BM25 part
        when already built) in one new segment, recorded."""
        old = self._snapshot
        if not self._kinds():
            return Snapshot(articles=articles, passages=passages, memory_lexical=False)
        dead = old.with_removed(np.asarray(removed, dtype=np.int64)) if removed else old.dead
        segments = old.segments
        if added:
            delta = await self._build_segment(*added, lexical)
            segments += (await self._saved(delta),)
            dead += (np.zeros(0, np.int64),)
        snapshot = Snapshot(segments, dead, articles, passages, old.memory_lexical)
        await indexfiles.set_segment_records(self._writer, _records(snapshot))
        return snapshot

    def _remove_stale_files(self) -> None:
        """Files of merged-away segments, of a failed update or of a crash are garbage;
        not while a merge is writing the files it has yet to publish, nor when nothing is
        served from segments (FTS5 and no model): the recorded ones stay for a later run."""
        if not self.read_only and not self._merge_lock.locked() and self._kinds():
            indexfiles.remove_unreferenced(self.config.data_dir, self._snapshot.files())

    # ---- merging ----------------------------------------------------------------------

    def _schedule_merge(self) -> None:
        """Merge in the background when the segments call for it; questions keep being
        answered from the current snapshot meanwhile, and updates keep being applied."""
        if self.read_only or (self._merging and not self._merging.done()):
            return
        if self._snapshot.merge_due() is not None:
            self._merging = asyncio.create_task(self.merge())

    async def wait_for_merge(self) -> None:
        if self._merging is not None:
            with contextlib.suppress(Exception):  # logged by merge itself
                await self._merging

    async def merge(self) -> bool:
        """Fold the segments that are due into one and publish it; False when none was
        due. Updates applied meanwhile stay applied: passages they removed from the
        merged segments are marked dead in the merged one."""
        async with self._merge_lock:
            snap = self._snapshot
            due = snap.merge_due()
            if due is None or self.read_only:
                return False
            chosen, dead = list(snap.segments[due]), list(snap.dead[due])
            try:
                merged = await self._merged(chosen, dead)
                await self._publish_merge(due, merged)
                merged_ok = True
            except (sqlite3.Error, OSError) as err:
                log.warning("Merging index segments failed (%s); will try again.", err)
                merged_ok = False
        self._remove_stale_files()
        if merged_ok:
            log.info("Merged %d index segments (%d passages) into one.", len(chosen), merged.size)
        return merged_ok

    async def _publish_merge(self, due: slice, merged: Segment) -> None:
        """Swap the merged segment in, with the passages that died meanwhile dead in it."""
        async with self._update_lock:
            current = self._snapshot
            gone = [d for d in current.dead[due] if len(d)]
            still = np.unique(np.concatenate(gone)) if gone else np.zeros(0, np.int64)
            still = still[np.isin(still, merged.rowids(), assume_unique=True)]
            segments = (*current.segments[: due.start], merged, *current.segments[due.stop :])
            deads = (*current.dead[: due.start], still, *current.dead[due.stop :])
            snapshot = dataclasses.replace(current, segments=segments, dead=deads)
            async with self._transaction():
                await indexfiles.set_segment_records(self._writer, _records(snapshot))
            self._snapshot = snapshot

    async def _merged(self, chosen: list[Segment], dead: list[np.ndarray]) -> Segment:
        """The merged segment, written to disk (not yet recorded)."""
        merged = await asyncio.to_thread(merge, chosen, dead)
        if self.encoder is not None and all(s.vectors is not None for s in chosen):
            first, last = merged.first, merged.last
            async with self._reader() as conn:
                ids, found = await store.all_embeddings(conn, self.encoder.key, first, last)
            gone = np.concatenate(dead) if dead else np.zeros(0, np.int64)
            keep = ~np.isin(ids, gone)
            index = await asyncio.to_thread(self._index_vectors, ids[keep], found[keep])
            merged = Segment(first, last, merged.lexical, index, merged.sentences)
        return await self._saved(merged)


def _records(snapshot: Snapshot) -> list[dict]:
    return [s.record() for s in snapshot.segments]


def _covered(live: np.ndarray, records: list[dict]) -> np.ndarray:
    """Which live row ids fall in a recorded segment's range."""
    inside = np.zeros(len(live), bool)
    for record in records:
        lo, hi = np.searchsorted(live, [record["first"], record["last"] + 1])
        inside[lo:hi] = True
    return inside


def _dead(rowids: np.ndarray, live: np.ndarray) -> np.ndarray:
    return rowids[~np.isin(rowids, live, assume_unique=True)]
