"""Ingest fixtures: the local news site, a corpus folder, and a round bounded in time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from embeddings.ingest.config import IngestConfig
from embeddings.ingest.rounds import Ingestor, RoundReport
from embeddings.ingest.state import IngestState
from tests.embeddings.ingest.newssite import NewsSite

ROUND_TIMEOUT = 30.0  # seconds: no test round may take longer


@pytest.fixture
async def site() -> AsyncIterator[NewsSite]:
    async with NewsSite() as server:
        yield server


@pytest.fixture
def config(tmp_path: Path) -> IngestConfig:
    """Short timeouts and a 1 MiB page limit, so that failures are quick to reach."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    return IngestConfig(
        corpus_dir=corpus,
        data_dir=tmp_path / "data",
        connect_timeout=2.0,
        read_timeout=0.5,
        request_deadline=5.0,
        max_page_bytes=1024 * 1024,
    )


async def run_round(config: IngestConfig, feeds: Sequence[str]) -> RoundReport:
    async with await IngestState.open(config.state_path) as state:
        return await asyncio.wait_for(Ingestor(config, state).run_round(feeds), ROUND_TIMEOUT)
