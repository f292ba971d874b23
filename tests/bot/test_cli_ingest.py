"""`qabot ingest`, run as a user runs it (a real process) against the local news site."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.embeddings.ingest.newssite import NewsSite

TIMEOUT = 120.0


@dataclass
class Done:
    returncode: int
    stdout: str
    stderr: str


async def qabot(*args: str, cwd: Path, env: dict[str, str] | None = None) -> Done:
    """The command in a child process; the news site keeps serving on this event loop."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=cwd,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "EMBEDDING_MODEL": "none", **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), TIMEOUT)
    except TimeoutError:
        process.kill()
        raise
    assert process.returncode is not None
    return Done(process.returncode, out.decode(), err.decode())


@pytest.fixture
async def site() -> AsyncIterator[NewsSite]:
    async with NewsSite() as server:
        yield server


async def test_ingest_reports_each_feed_and_the_articles_answer_questions(
    site: NewsSite, tmp_path: Path, corpus_dir: Path
) -> None:
    site.feeds["son"] = ["/haber/izmir-metro-hatti", "/haber/boyle-bir-haber-yok"]
    good, missing = site.url("/rss/son"), site.url("/rss/olmayan")

    done = await qabot("ingest", "--feed", good, "--feed", missing, cwd=tmp_path)

    assert done.returncode == 1
    assert done.stderr.splitlines() == [f"qabot: feed {missing} could not be read: HTTP 404"]
    assert f"{good}: new 1, already known 0, skipped 1" in done.stdout
    assert f"  skipped {site.url('/haber/boyle-bir-haber-yok')}: HTTP 404" in done.stdout
    assert f"{missing} (unreadable): new 0" in done.stdout
    assert "articles: 3" in done.stdout  # the index was updated: 2 seed articles + 1
    asked = await qabot(
        "ask",
        "--json",
        "-k",
        "1",
        "İzmir'deki yeni metro hattında kaç istasyon olacak?",
        cwd=tmp_path,
    )
    [passage] = json.loads(asked.stdout)["passages"]
    assert "11 istasyon" in passage["text"]
    assert passage["source_url"] == site.url("/haber/izmir-metro-hatti")
    assert passage["date"] == "2025-03-10"


async def test_ingest_reads_feed_urls_and_knows_what_it_has(
    site: NewsSite, tmp_path: Path, corpus_dir: Path
) -> None:
    site.feeds["son"] = ["/haber/izmir-metro-hatti"]
    site.feeds["diger"] = ["/haber/izmir-metro-hatti?utm_source=diger"]
    env = {"FEED_URLS": f"{site.url('/rss/son')}, {site.url('/atom/diger')}"}

    first = await qabot("ingest", cwd=tmp_path, env=env)
    again = await qabot("ingest", cwd=tmp_path, env=env)

    assert first.returncode == 0 and first.stderr == "", first.stderr
    assert "round: 1 new articles" in first.stdout
    assert again.returncode == 0
    assert f"{site.url('/rss/son')} (not modified): new 0" in again.stdout
    assert "round: 0 new articles" in again.stdout


async def test_ingest_without_feeds_says_what_to_set(tmp_path: Path, corpus_dir: Path) -> None:
    done = await qabot("ingest", cwd=tmp_path)

    assert done.returncode == 2
    assert done.stderr == "qabot: no feeds to read: set FEED_URLS or pass --feed URL\n"


async def test_a_damaged_state_file_stops_ingest_with_what_to_do(
    tmp_path: Path, corpus_dir: Path
) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "ingest.sqlite3").write_bytes(
        b"bu bir veritaban\xc4\xb1 de\xc4\x9fil" * 100
    )

    done = await qabot("ingest", "--feed", "http://127.0.0.1:9/rss", cwd=tmp_path)

    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert line.startswith("qabot: the ingest state ") and "delete it to start over" in line
