"""The corpus folder watcher: files added, changed or removed anywhere under the folder are
applied to the index by themselves.

watchfiles (inotify on Linux) reports changes; nothing is polled, and a folder at rest costs
no CPU beyond watchfiles' own wake-up (see docs/ingest.md). Changes are gathered until the
folder has been quiet for `settle` seconds, and a file goes to the index only when its size
and modification time have not moved over that window: a copy of 500 files is one update, and
a file still being written is not indexed half-way. (One written with a pause longer than the
window is indexed as it was, then again, whole, when it changes: its article is replaced,
never doubled.)

Ignored: dot-files and dot-folders, temporary files (.tmp, .part, .swp, ~…). A folder moved
in is read whole; a folder moved out (or deleted), which watchfiles reports as one path,
costs a full reconcile of the corpus folder.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

from watchfiles import Change, awatch

from embeddings.ingest.autoindex import AutoIndexer

log = logging.getLogger(__name__)

TEMP_SUFFIXES = (".tmp", ".temp", ".part", ".partial", ".crdownload", ".swp", ".swx", "~")
# watchfiles wakes up this often (ms) to look for changes: 0.3 ms of CPU a second at rest
# (docs/ingest.md); a change waits up to two of them before the settle window starts.
STEP_MS = 200
Signature = tuple[int, int] | None  # (size, mtime_ns); None: the path does not exist


def ignored(path: Path, root: Path) -> bool:
    """Dot-files, files in dot-folders and temporary files are never indexed."""
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        return True
    name = path.name.lower()
    return (
        any(part.startswith(".") for part in parts)
        or name.endswith(TEMP_SUFFIXES)
        or (name.startswith("#") and name.endswith("#"))
    )


class CorpusWatcher:
    def __init__(self, corpus_dir: Path, indexer: AutoIndexer, *, settle: float = 1.0) -> None:
        self.root = Path(corpus_dir).resolve()
        self.indexer = indexer
        self.settle = settle
        self._folders: set[Path] = set()  # known folders: their removal needs a reconcile
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Watch from now on: returns once the watches are in place."""
        self._folders = await asyncio.to_thread(_folders_under, self.root)
        queue: asyncio.Queue[set[tuple[Change, str]]] = asyncio.Queue()
        self._tasks = [
            asyncio.create_task(self._read(queue), name="corpus-watch"),
            asyncio.create_task(self._settle(queue), name="corpus-settle"),
        ]
        # awatch sets its inotify watches before its first await, i.e. in the reader's first
        # step, which runs before this coroutine resumes.
        await asyncio.sleep(0)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def _read(self, queue: asyncio.Queue[set[tuple[Change, str]]]) -> None:
        try:
            async for changes in awatch(
                self.root,
                watch_filter=lambda _change, path: not ignored(Path(path), self.root),
                step=STEP_MS,
                recursive=True,
            ):
                queue.put_nowait(changes)
        except Exception as err:  # e.g. the OS limit on watches (fs.inotify.max_user_watches)
            log.error("Watching %s stopped: %s. /reload still updates the index.", self.root, err)

    async def _settle(self, queue: asyncio.Queue[set[tuple[Change, str]]]) -> None:
        """Gather changes; apply the files that stood still over a quiet `settle` window."""
        pending: dict[Path, Signature] = {}
        reconcile = False
        while True:
            try:
                if pending or reconcile:
                    changes = await asyncio.wait_for(queue.get(), self.settle)
                else:
                    changes = await queue.get()
            except TimeoutError:
                pass
            else:
                reconcile |= await asyncio.to_thread(self._absorb, changes, pending)
                continue
            if reconcile:
                pending.clear()
                reconcile = False
                self._folders = await asyncio.to_thread(_folders_under, self.root)
                await self.indexer.reconcile("watch")
                continue
            now = await asyncio.to_thread(lambda: {path: _signature(path) for path in pending})
            ready = [path for path, sig in now.items() if sig == pending[path]]
            pending.update(now)
            for path in ready:
                del pending[path]
            if ready:
                await self.indexer.apply(ready, "watch")

    def _absorb(self, changes: set[tuple[Change, str]], pending: dict[Path, Signature]) -> bool:
        """Add changed files to `pending` with their current signature; True when a folder
        left (its files are gone without their own events: only a reconcile finds them)."""
        reconcile = False
        for change, name in changes:
            path = Path(name)
            if path.is_dir():
                if change == Change.added:  # moved in: its files may have no events of their own
                    self._folders |= _folders_under(path)
                    for file in _files_under(path, self.root):
                        pending[file] = _signature(file)
                continue
            if change == Change.deleted and path in self._folders:
                reconcile = True
                continue
            if change != Change.deleted and path.exists() and not path.is_file():
                continue  # a socket, a fifo…
            pending[path] = _signature(path)
        return reconcile


def _signature(path: Path) -> Signature:
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_size, stat.st_mtime_ns)


def _folders_under(root: Path) -> set[Path]:
    folders = {root}
    for folder, subfolders, _ in os.walk(root):
        subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        folders.update(Path(folder, name) for name in subfolders)
    return folders


def _files_under(folder: Path, root: Path) -> list[Path]:
    return [
        Path(base, name)
        for base, subfolders, names in os.walk(folder)
        for name in names
        if not ignored(Path(base, name), root)
    ]
