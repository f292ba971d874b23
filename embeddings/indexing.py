"""Indexing: bringing the index in line with the corpus folder, at the cost of what changed.

A full update lists the folder and reads only the files whose size or modification time
differ from their record; `update_files` reads just the files it is given (the watcher's
and the uploads' path). The articles read are compared with the indexed ones by content
hash; new passages are encoded before the publishing transaction (chunk by chunk, so an
interrupted update resumes), then one transaction replaces the changed articles and
records a new segment for their passages (`publishing`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from embeddings import news, sentences, store
from embeddings.analysis import analyse, to_embed
from embeddings.corpus import (
    Article,
    CorpusRootError,
    FileState,
    LoadResult,
    Skipped,
    check_corpus_folder,
    load_files,
    scan,
)
from embeddings.encoders.pool import EncoderPool
from embeddings.lexical import Postings
from embeddings.parallel import paused_gc, release_workers, shared_workers
from embeddings.progress import Progress, ProgressCallback
from embeddings.store import NewArticle
from embeddings.stories import StoryIndex
from embeddings.text import ANALYZER_VERSION

if TYPE_CHECKING:
    import aiosqlite

    from embeddings.config import EngineConfig
    from embeddings.encoders import Encoder
    from embeddings.segments import Snapshot

log = logging.getLogger(__name__)

EMBED_CHUNK = 512  # passages encoded, then committed to the embedding cache, at a time
# From this many passages to encode, a model that allows it runs one copy per core.
POOL_PASSAGES = 256
# An update removing more than this share of the indexed articles is refused (MassDeletion)
# unless confirmed: a wrong, emptied or unmounted corpus folder looks like that.
MAX_REMOVED_SHARE = 0.5
# A tiny index may lose this many articles without confirmation (3 of 4), but never all.
SMALL_REMOVAL = 5
# Cached vectors of passages that left the corpus are kept this long (or until `qabot gc
# --all`), so that an article removed by mistake comes back without being embedded again.
ORPHAN_GRACE_DAYS = 30


class IndexUpdateError(RuntimeError):
    """An update failed; the index that was serving before is still serving."""


class MassDeletion(IndexUpdateError):
    """An update would remove more of the corpus than allowed without confirmation
    (e.g. the corpus folder was emptied or unmounted); nothing was changed."""

    def __init__(self, removing: int, total: int) -> None:
        super().__init__(
            f"the update would remove {removing} of {total} articles; nothing was changed"
        )
        self.removing = removing
        self.total = total


@dataclass
class UpdateReport:
    articles: int = 0
    passages: int = 0
    added: int = 0
    changed: int = 0
    removed: int = 0
    kept: int = 0  # articles kept from the old index because their file failed to load
    passages_added: int = 0
    passages_removed: int = 0
    embedded: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    seconds: float = 0.0
    files_read: int = 0  # corpus files read (those unchanged since last time are not)

    @property
    def unchanged(self) -> bool:
        return not (self.added or self.changed or self.removed or self.embedded)


@dataclass
class _Scope:
    """What one update looks at: the files read, the files gone, and the indexed articles
    they held (id → (content hash, source file))."""

    loaded: LoadResult
    existing: dict[str, tuple[str, str]]
    records: dict[str, tuple[int, int, str] | None] = field(default_factory=dict)
    files_read: int = 0


@dataclass
class _Inserted:
    """What an update inserted of its new articles: the articles, still to insert (with
    their stories), their passages' ids and the postings of their terms, in order."""

    articles: list[NewArticle] = field(default_factory=list)
    passage_ids: list[str] = field(default_factory=list)
    postings: list[Postings] = field(default_factory=list)


class Indexer:
    """The engine's indexing life cycle (mixed into `Engine`)."""

    config: EngineConfig
    encoder: Encoder | None
    read_only: bool
    _writer: aiosqlite.Connection
    _snapshot: Snapshot
    _update_lock: asyncio.Lock
    _stories: StoryIndex | None = None  # the indexed articles' stories, once read

    async def update(
        self,
        corpus_dir: Path | None = None,
        *,
        progress: ProgressCallback | None = None,
        allow_mass_delete: bool = False,
    ) -> UpdateReport:
        """Bring the index in line with the whole corpus folder, reading only the files
        that changed since they were last read.

        `progress` is called after each encoded chunk (on the event loop's thread). A corpus
        folder that is missing or unreadable changes nothing (IndexUpdateError); see `apply`
        for `allow_mass_delete`.
        """
        started = time.perf_counter()
        folder = corpus_dir or self.config.corpus_dir
        try:
            listed, unsupported = await asyncio.to_thread(scan, folder)
        except CorpusRootError as err:
            raise IndexUpdateError(f"{err}; nothing was changed") from err
        return await self._update(
            folder, listed, None, unsupported, started, progress, allow_mass_delete
        )

    async def update_files(
        self,
        paths: Iterable[Path | str],
        *,
        progress: ProgressCallback | None = None,
        allow_mass_delete: bool = False,
    ) -> UpdateReport:
        """Apply these corpus files only (absolute, or relative to the corpus folder): read
        each one that exists, and remove the articles of each one that does not. Nothing
        else in the corpus is read."""
        started = time.perf_counter()
        folder = self.config.corpus_dir
        try:
            await asyncio.to_thread(check_corpus_folder, folder)
        except CorpusRootError as err:
            raise IndexUpdateError(f"{err}; nothing was changed") from err
        scope = {name for p in paths if (name := _relative(folder, Path(p))) is not None}
        listed = await asyncio.to_thread(_states, folder, scope)
        return await self._update(folder, listed, scope, [], started, progress, allow_mass_delete)

    async def _update(
        self,
        folder: Path,
        listed: dict[str, FileState],
        scope: set[str] | None,
        unsupported: list[Skipped],
        started: float,
        progress: ProgressCallback | None,
        allow_mass_delete: bool,
    ) -> UpdateReport:
        self._refuse_read_only()
        async with self._update_lock:
            with shared_workers():  # reading the files and analysing their articles
                records = await store.file_records(self._writer)
                stale = await self._stale_analyzer()
                if stale:
                    records = {}  # another analyzer's terms: read and re-analyse every file
                names = set(listed) if scope is None else scope
                if scope is None:  # also what was indexed before files were recorded
                    names |= set(records) | set(await store.source_files(self._writer))
                changed = sorted(
                    name
                    for name in names
                    if name in listed and _differs(listed[name], records.get(name))
                )
                gone = sorted(name for name in names if name not in listed)
                with paused_gc():
                    loaded, digests = await asyncio.to_thread(load_files, folder, changed)
                loaded.skipped[:0] = [s for s in unsupported if scope is None or s.file in scope]
                new_records: dict[str, tuple[int, int, str] | None] = dict.fromkeys(gone)
                for name, digest in digests.items():
                    new_records[name] = (listed[name].size, listed[name].mtime_ns, digest)
                existing = await store.articles_of_files(self._writer, changed + gone)
                if stale:
                    existing = _unhashed(existing)
                await self._drop_duplicates(loaded, set(changed) | set(gone))
                return await self._guarded(
                    _Scope(loaded, existing, new_records, len(changed)),
                    started,
                    progress,
                    allow_mass_delete,
                )

    async def _drop_duplicates(self, loaded: LoadResult, scope: set[str]) -> None:
        """Articles whose id another file outside this update already holds are skipped,
        as a full load skips the second file with the same id."""
        indexed = await store.article_sources(self._writer, [a.id for a in loaded.articles])
        kept = []
        for article in loaded.articles:
            other = indexed.get(article.id)
            if other is not None and other not in scope:
                why = f"duplicate article id {article.id!r} (also in {other})"
                loaded.skipped.append(Skipped(article.source_file, why))
            else:
                kept.append(article)
        loaded.articles = kept

    async def apply(
        self,
        loaded: LoadResult,
        *,
        started: float | None = None,
        progress: ProgressCallback | None = None,
        allow_mass_delete: bool = False,
    ) -> UpdateReport:
        """Make the index hold exactly `loaded` (articles of failed files are kept).

        Removing more than MAX_REMOVED_SHARE of the indexed articles raises MassDeletion,
        changing nothing, unless `allow_mass_delete`.
        """
        self._refuse_read_only()
        async with self._update_lock:
            existing = await store.article_hashes(self._writer)
            if await self._stale_analyzer():
                existing = _unhashed(existing)
            return await self._guarded(
                _Scope(loaded, existing),
                started or time.perf_counter(),
                progress,
                allow_mass_delete,
            )

    async def _stale_analyzer(self) -> bool:
        """Were the indexed terms made by another analyzer version? They would not match
        today's questions: every article is then analysed again (embeddings stay cached)."""
        return await store.get_meta(self._writer, "analyzer") != ANALYZER_VERSION

    def _refuse_read_only(self) -> None:
        if self.read_only:
            raise IndexUpdateError(
                f"the index in {self.config.data_dir} is open read-only; nothing was changed"
            )

    async def _guarded(
        self,
        scope: _Scope,
        started: float,
        progress: ProgressCallback | None,
        allow_mass_delete: bool,
    ) -> UpdateReport:
        """`_apply`, with any failure turned into IndexUpdateError (the old index serving)."""
        try:
            report = await self._apply(scope, progress, allow_mass_delete)
        except BaseException as err:
            self._stories = None  # it may hold what was rolled back: read it again
            if isinstance(err, IndexUpdateError) or not isinstance(err, Exception):
                raise
            if isinstance(err, sqlite3.Error | OSError):  # full disk, I/O error: it says why
                log.warning("Index update failed (%s); the previous index keeps serving.", err)
            else:
                log.exception("Index update failed; the previous index keeps serving.")
            raise IndexUpdateError(f"{type(err).__name__}: {err}") from err
        report.seconds = time.perf_counter() - started
        self._schedule_merge()
        return report

    async def _apply(
        self, scope: _Scope, progress: ProgressCallback | None, allow_mass_delete: bool
    ) -> UpdateReport:
        loaded, existing = scope.loaded, scope.existing
        failed_files = loaded.skipped_files
        incoming = {a.id: a for a in loaded.articles}
        added = [a for a in loaded.articles if a.id not in existing]
        changed = [
            a for a in loaded.articles if a.id in existing and existing[a.id][0] != a.content_hash
        ]
        gone = [i for i in existing if i not in incoming]
        kept = [i for i in gone if existing[i][1] in failed_files]
        removed = [i for i in gone if existing[i][1] not in failed_files]
        total = self._snapshot.articles
        if not allow_mass_delete and is_mass_deletion(len(removed), total):
            raise MassDeletion(len(removed), total)
        report = UpdateReport(
            added=len(added),
            changed=len(changed),
            removed=len(removed),
            kept=len(kept),
            skipped=loaded.skipped,
            files_read=scope.files_read,
        )
        fresh = added + changed
        if self.encoder:
            # Before the publishing transaction, committed chunk by chunk: the cache is keyed
            # by content, so an interrupted update keeps what it encoded and resumes there.
            passages = await asyncio.to_thread(to_embed, fresh)
            await asyncio.to_thread(release_workers)  # idle while encoding: memory given back
            report.embedded = await self._embed(passages, progress)
        with paused_gc():
            self._snapshot = await self._commit(
                scope, report, fresh, [a.id for a in changed] + removed
            )
        self._remove_stale_files()
        return report

    async def _commit(
        self, scope: _Scope, report: UpdateReport, fresh: list[Article], gone: list[str]
    ) -> Snapshot:
        """In one transaction: delete the `gone` articles (removed, or changed and in
        `fresh` again), insert the `fresh` ones, and publish the snapshot that serves them;
        `report` gets the counts."""
        async with self._transaction():
            removed_rows = await store.delete_articles(self._writer, gone)
            report.passages_removed = len(removed_rows)
            removed_ids = [rowid for rowid, _ in removed_rows]
            stories = await self._story_index()
            stories.remove(gone)
            first = await store.next_rowid(self._writer)
            inserted = await self._insert(fresh, first)
            added_ids = inserted.passage_ids
            added_rows = (first, first + len(added_ids) - 1) if added_ids else None
            # The new BM25 segment is built while the articles are inserted (off the GIL).
            lexical = self._lexical_delta(inserted.postings, added_rows)
            try:
                await asyncio.to_thread(news.assign_stories, stories, inserted.articles)
                await store.insert_articles(self._writer, inserted.articles)
            finally:
                built = await lexical if lexical else None
            report.passages_added = len(added_ids)
            await store.set_file_records(self._writer, scope.records)
            if fresh or gone:
                now = time.time()
                models = (
                    [self.encoder.key, sentences.cache_key(self.encoder.key)]
                    if self.encoder
                    else []
                )
                await store.orphan_embeddings(
                    self._writer, models, now, [pid for _, pid in removed_rows], added_ids
                )
                await store.prune_orphaned_embeddings(self._writer, now - ORPHAN_GRACE_DAYS * 86400)
            await store.set_meta(self._writer, "indexed_at", time.strftime("%Y-%m-%dT%H:%M:%S"))
            await store.set_meta(self._writer, "analyzer", ANALYZER_VERSION)
            report.articles, report.passages = await store.counts(self._writer)
            if not (fresh or gone):
                return self._snapshot
            return await self._with_delta(
                removed_ids, added_rows, built, report.articles, report.passages
            )

    async def _insert(self, articles: list[Article], first: int) -> _Inserted:
        """Analyse the articles (on every core for a large batch) and insert their passages,
        numbered from row id `first`, chunk by chunk as the next chunks are analysed; their
        articles are left to insert once all stories can be assigned."""
        inserted = _Inserted()
        chunks = analyse(articles)
        try:
            while (chunk := await asyncio.to_thread(next, chunks, None)) is not None:
                rowid = first + len(inserted.passage_ids)
                await store.insert_passages(self._writer, chunk.passages, rowid)
                inserted.articles += chunk.articles
                inserted.passage_ids += [p.id for p in chunk.passages]
                inserted.postings.append(chunk.postings)
        finally:
            await asyncio.to_thread(chunks.close)
        return inserted

    async def _story_index(self) -> StoryIndex:
        """The indexed articles' stories, read from the database on the first update only."""
        if self._stories is None:
            self._stories = await news.story_index(self._writer)
        return self._stories

    async def collect_garbage(self, *, everything: bool = False) -> tuple[int, int]:
        """Delete the cached vectors whose passage left the corpus more than
        ORPHAN_GRACE_DAYS ago (`everything`: all those of passages not in the index, such as
        the ones a failed update encoded); (vectors, bytes) freed."""
        if self.read_only:
            raise IndexUpdateError(f"the index in {self.config.data_dir} is open read-only")
        now = time.time()
        async with self._update_lock:
            try:
                async with self._transaction():
                    await store.mark_orphaned_embeddings(self._writer, now)
                    cutoff = None if everything else now - ORPHAN_GRACE_DAYS * 86400
                    return await store.prune_orphaned_embeddings(self._writer, cutoff)
            except sqlite3.Error as err:
                raise IndexUpdateError(f"{type(err).__name__}: {err}") from err

    async def _embed(
        self,
        passages: list[tuple[str, str, tuple[str, ...]]],
        progress: ProgressCallback | None = None,
    ) -> int:
        """Encode what the cache lacks for these (passage id, ranking text, sentences): the
        passage's vector and its sentences' vectors. Each chunk is committed, so an
        interrupted update resumes where it stopped. Returns the passages encoded."""
        assert self.encoder is not None
        encoder = self.encoder
        keys = (encoder.key, sentences.cache_key(encoder.key))
        ids = [p[0] for p in passages]
        cached = [await store.cached_embedding_ids(self._writer, key, ids) for key in keys]
        lacking = {p[0]: p for p in passages if p[0] not in cached[0] or p[0] not in cached[1]}
        todo = list(lacking.values())
        state = Progress("passages", len(todo))
        with contextlib.ExitStack() as stack:
            model: Encoder | EncoderPool = encoder
            workers = self.config.encode_workers
            if encoder.parallel and workers > 1 and len(todo) >= POOL_PASSAGES:
                model = stack.enter_context(EncoderPool(encoder.name, workers))
            for start in range(0, len(todo), EMBED_CHUNK):
                part = todo[start : start + EMBED_CHUNK]
                bare = [p for p in part if p[0] not in cached[0]]
                vectors = await asyncio.to_thread(model.encode_passages, [p[1] for p in bare])
                await store.store_embeddings(self._writer, keys[0], [p[0] for p in bare], vectors)
                split = [(p[0], p[2]) for p in part if p[0] not in cached[1]]
                blobs = await asyncio.to_thread(sentences.encode, model, split)
                await store.store_blobs(self._writer, keys[1], [i for i, _ in split], blobs)
                # Each chunk is its own commit: copied back now, the WAL stays one chunk long
                # through an encoding of hours instead of growing as large as the cache.
                await self._checkpoint()
                state.done += len(part)
                if progress:
                    progress(state)
        return len(todo)


def is_mass_deletion(removing: int, total: int) -> bool:
    """Whether removing `removing` of `total` indexed articles needs confirmation: more than
    MAX_REMOVED_SHARE of them, except in a tiny index, which may lose up to SMALL_REMOVAL
    articles as long as one remains (removing 1 of 2, or 3 of 4, is an edit; all is not)."""
    if removing <= MAX_REMOVED_SHARE * total:
        return False
    return removing == total or removing > SMALL_REMOVAL


def _unhashed(existing: dict[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """The indexed articles with their content hashes forgotten: all count as changed."""
    return {key: ("", source) for key, (_, source) in existing.items()}


def _differs(state: FileState, record: tuple[int, int, str] | None) -> bool:
    return record is None or (state.size, state.mtime_ns) != record[:2]


def _relative(folder: Path, path: Path) -> str | None:
    """A corpus file's name as recorded: relative to the corpus folder, with "/"; None for
    a path outside it, or one a full load ignores (dot-files, README)."""
    if path.is_absolute():
        try:
            path = path.relative_to(folder.resolve())
        except ValueError:
            try:
                path = path.relative_to(folder.absolute())
            except ValueError:
                log.warning("Ignoring %s: it is not in the corpus folder %s", path, folder)
                return None
    if any(part.startswith(".") for part in path.parts) or path.name.lower() == "readme.md":
        return None
    return path.as_posix()


def _states(folder: Path, names: set[str]) -> dict[str, FileState]:
    """Size and modification time of those of `names` that are corpus files now."""
    found = {}
    for name in names:
        path = folder / name
        try:
            if path.is_file():
                stat = path.stat()
                found[name] = FileState(stat.st_size, stat.st_mtime_ns)
        except OSError:
            continue
    return found
