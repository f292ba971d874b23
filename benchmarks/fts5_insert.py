"""FTS5's insert cost by hash size: a built index's passage terms inserted again into fresh
FTS5 tables as a first build inserts them (one transaction, in chunks), once per size, in
alternating rounds. Why `store.FTS5_HASH_BYTES` is what it is.

    python benchmarks/fts5_insert.py DATA_DIR [--sizes-mib 1,4,16,64,256] [--rounds 2]

DATA_DIR holds a built index (e.g. from `benchmarks/lexical_build.py`); 1 MiB is FTS5's own
default. Prints wall and CPU seconds per insert.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from embeddings.store import DB_NAME, SCHEMA, WRITER_CACHE_KIB  # noqa: E402

CHUNK = 2700  # about the passages of one analysed chunk of 1,000 articles


def insert(rows: list[tuple[int, str]], folder: Path, hash_bytes: int) -> tuple[float, float]:
    path = folder / f"fts-{hash_bytes}.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute(f"PRAGMA cache_size = -{WRITER_CACHE_KIB}")
        conn.executescript(SCHEMA)  # the index's own tables, its FTS5 tokenizer included
        conn.execute(
            "INSERT INTO passages_fts (passages_fts, rank) VALUES ('hashsize', ?)", (hash_bytes,)
        )
        wall, cpu = time.perf_counter(), time.process_time()
        conn.execute("BEGIN")
        for start in range(0, len(rows), CHUNK):
            conn.executemany(
                "INSERT INTO passages_fts (rowid, terms) VALUES (?, ?)", rows[start : start + CHUNK]
            )
        conn.execute("COMMIT")
        return time.perf_counter() - wall, time.process_time() - cpu
    finally:
        conn.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--sizes-mib", default="1,4,16,64,256")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with sqlite3.connect(args.data / DB_NAME) as source:
        rows = source.execute("SELECT rowid, terms FROM passages_fts ORDER BY rowid").fetchall()
    print(f"{len(rows):,} passages, {sum(len(t) for _, t in rows) / 2**20:.0f} MiB of terms")
    with tempfile.TemporaryDirectory() as folder:
        for round_ in range(1, args.rounds + 1):
            for mib in (int(m) for m in args.sizes_mib.split(",")):
                wall, cpu = insert(rows, Path(folder), mib * 2**20)
                print(f"round {round_}, hash {mib:>3} MiB: {wall:.2f} s wall, {cpu:.2f} s CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
