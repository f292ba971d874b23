"""Index-time work over several processes comes back in order, one result per chunk."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from embeddings.parallel import map_chunks, release_workers, shared_workers
from tests.embeddings.test_segments import ARTICLES

ROOT = Path(__file__).resolve().parents[2]


def test_chunks_come_back_in_order_from_several_processes():
    items = [a.id for a in ARTICLES] * 3
    chunks = list(map_chunks(_reversed_ids, items, 2))
    assert len(chunks) == (len(items) + 1) // 2
    assert [i for chunk in chunks for i in chunk] == [i[::-1] for i in items]


def _reversed_ids(ids: list[str]) -> list[str]:
    return [i[::-1] for i in ids]


def test_an_update_spawns_its_workers_once_and_stops_them_after():
    items = list(range(8))
    with shared_workers():
        first = {pid for chunk in map_chunks(_pids, items, 2) for pid in chunk}
        again = {pid for chunk in map_chunks(_pids, items, 2) for pid in chunk}
        assert again <= first and os.getpid() not in first
        release_workers()  # e.g. before a long encoding: a later map starts new workers
        restarted = {pid for chunk in map_chunks(_pids, items, 2) for pid in chunk}
        assert not restarted & first
    for pid in first | restarted:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def _pids(items: list[int]) -> list[int]:
    return [os.getpid() for _ in items]


def test_workers_exit_when_the_engine_is_killed(tmp_path: Path):
    """kill -9 of `qabot index` mid-analysis must not leave its workers waiting forever."""
    code = (
        "from embeddings.parallel import map_chunks\n"
        "from tests.embeddings.test_parallel import _record_and_sleep\n"
        f"list(map_chunks(_record_and_sleep, [{str(tmp_path)!r}] * 4, 1))\n"
    )
    engine = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while len(pids := _recorded(tmp_path)) < 2:
            assert time.monotonic() < deadline, "the workers never started"
            time.sleep(0.1)
    finally:
        engine.kill()
        engine.wait()
    deadline = time.monotonic() + 10
    while alive := [pid for pid in pids if _running(pid)]:
        if time.monotonic() > deadline:
            for pid in alive:
                os.kill(pid, signal.SIGKILL)
            pytest.fail(f"workers {alive} outlived their parent")
        time.sleep(0.1)


def _record_and_sleep(folders: list[str]) -> None:
    (Path(folders[0]) / str(os.getpid())).touch()
    time.sleep(60)


def _recorded(folder: Path) -> list[int]:
    return [int(p.name) for p in folder.iterdir() if p.name.isdigit()]


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan is reaped by init, which may take a moment)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status
