"""The index files derived from the database: each segment's BM25 arrays, FAISS index
and sentence vectors.

They are caches, rebuilt from the database and its embedding cache whenever they cannot be
trusted. The database records each file's name, SHA-256 and (for vectors) the model; a file
is served only when they match, so a truncated or altered file, or one of another model, is
rebuilt instead of giving wrong answers.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import aiosqlite

from embeddings import store

SUFFIXES = {"vectors": ".faiss", "lexical": ".npz", "sentences": ".npz"}
T = TypeVar("T")


@dataclass(frozen=True)
class FileRecord:
    """What the database knows of a derived file, to verify it before serving it."""

    name: str
    sha256: str
    model: str | None = None  # vectors and sentences: the embedding model's cache key


class DamagedFile(Exception):
    """The recorded file is missing, altered or unreadable; the message says which."""


def writable(database: Path) -> bool:
    """Whether the index can be written: its folder (created if need be) and its database.
    False on a read-only mount, for root too."""
    folder = next(p for p in database.parents if p.exists())
    return os.access(folder, os.W_OK) and (not database.exists() or os.access(database, os.W_OK))


async def segment_records(conn: aiosqlite.Connection) -> list[dict]:
    """The served segments, in row-id order, as `set_segment_records` left them."""
    value = await store.get_meta(conn, "segments")
    return json.loads(value) if value else []


async def set_segment_records(conn: aiosqlite.Connection, records: list[dict]) -> None:
    """Record the segments to serve, in the caller's transaction: until it commits, the
    previous ones stay in force. Records of the unsegmented layout are dropped."""
    await store.set_meta(conn, "segments", json.dumps(records))
    await conn.execute("DELETE FROM meta WHERE key IN ('file:vectors', 'file:lexical')")


def file_record(data: dict) -> FileRecord:
    return FileRecord(**data)


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
    loader: Callable[[Path], T],
    model: str | None = None,
) -> T | None:
    """The recorded file, verified and loaded. None when there is none for this model
    (never built, or built with another model: rebuilt as a matter of course); `DamagedFile`
    when the file the database records is missing, altered or unreadable."""
    if file is None or file.model != model:
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


def remove_unreferenced(folder: Path, keep: set[str]) -> None:
    """Files of merged-away segments, of a failed update or of a crash are garbage."""
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
