"""The index files derived from the database: the FAISS vectors and the BM25 arrays.

They are caches, rebuilt from the database and its embedding cache whenever they cannot be
trusted. The database records each file's name, SHA-256 and the generation of the passages
it was built from; a file is served only when all three match, so a truncated, altered or
out-of-date file is rebuilt instead of giving wrong answers.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypeVar

import aiosqlite

from embeddings import store

SUFFIXES = {"vectors": ".faiss", "lexical": ".npz"}
T = TypeVar("T")


@dataclass(frozen=True)
class FileRecord:
    """What the database knows of a derived file, to verify it before serving it."""

    name: str
    sha256: str
    generation: int  # of the passages it was built from
    model: str | None = None  # vectors: the embedding model's cache key


class DamagedFile(Exception):
    """The recorded file is missing, altered or unreadable; the message says which."""


def writable(database: Path) -> bool:
    """Whether the index can be written: its folder (created if need be) and its database.
    False on a read-only mount, for root too."""
    folder = next(p for p in database.parents if p.exists())
    return os.access(folder, os.W_OK) and (not database.exists() or os.access(database, os.W_OK))


async def generation(conn: aiosqlite.Connection) -> int:
    """Counts the changes to the passages; a file built from another generation is stale."""
    return int(await store.get_meta(conn, "generation") or 0)


async def next_generation(conn: aiosqlite.Connection) -> int:
    """Record a change to the passages (in the caller's transaction)."""
    value = await generation(conn) + 1
    await store.set_meta(conn, "generation", str(value))
    return value


async def record(conn: aiosqlite.Connection, kind: str) -> FileRecord | None:
    value = await store.get_meta(conn, f"file:{kind}")
    return FileRecord(**json.loads(value)) if value else None


async def set_record(conn: aiosqlite.Connection, kind: str, file: FileRecord) -> None:
    await store.set_meta(conn, f"file:{kind}", json.dumps(asdict(file)))


def write(folder: Path, kind: str, save: Callable[[Path], None]) -> tuple[str, str]:
    """Write a new file of `kind` with `save`: a temp file, synced, renamed into place, so
    that a crash never leaves a torn file under a recorded name. Returns (name, SHA-256);
    on failure nothing is left behind."""
    name = f"{kind}-{time.time_ns()}{SUFFIXES[kind]}"
    path = folder / name
    tmp = path.with_name(name + ".tmp")
    try:
        save(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
            digest = hashlib.file_digest(fh, "sha256").hexdigest()
        os.replace(tmp, path)
        _sync_folder(folder)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return name, digest


def load(
    folder: Path,
    file: FileRecord | None,
    current: int,
    loader: Callable[[Path], T],
    model: str | None = None,
) -> T | None:
    """The recorded file, verified and loaded. None when there is none for this generation
    and model (never built, or out of date: rebuilt as a matter of course); `DamagedFile`
    when the file the database records is missing, altered or unreadable."""
    if file is None or file.generation != current or file.model != model:
        return None
    path = folder / file.name
    try:
        with open(path, "rb") as fh:
            digest = hashlib.file_digest(fh, "sha256").hexdigest()
    except FileNotFoundError:
        raise DamagedFile(f"{file.name} is missing") from None
    except OSError as err:
        raise DamagedFile(f"{file.name} cannot be read ({err.strerror or err})") from err
    if digest != file.sha256:
        raise DamagedFile(f"{file.name} does not match its checksum (truncated or altered)")
    try:
        return loader(path)
    except Exception as err:  # written by us and intact, yet unreadable: rebuild it too
        raise DamagedFile(f"{file.name} cannot be loaded ({type(err).__name__}: {err})") from err


def remove_unreferenced(folder: Path, keep: set[str | None]) -> None:
    """Files of earlier generations, of a failed update or of a crash are garbage."""
    for kind, suffix in SUFFIXES.items():
        for path in folder.glob(f"{kind}-*{suffix}*"):
            if path.name not in keep:
                path.unlink(missing_ok=True)


def _sync_folder(folder: Path) -> None:
    """Make the rename durable before the database refers to the new name."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
