"""Everything `qabot run` adds to the index by itself: the corpus watcher and the feed
poller, started and stopped together, and what /stats and /feeds read from them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from embeddings.engine import Engine
from embeddings.ingest.autoindex import AutoIndexer
from embeddings.ingest.config import IngestConfig
from embeddings.ingest.poller import FeedPoller
from embeddings.ingest.rounds import Ingestor
from embeddings.ingest.state import FeedRound, IngestState
from embeddings.ingest.watcher import CorpusWatcher

log = logging.getLogger(__name__)


@dataclass
class IngestService:
    config: IngestConfig
    indexer: AutoIndexer
    watching: bool
    state: IngestState | None = None  # open when feeds are configured

    async def feed_rounds(self) -> list[FeedRound]:
        """Each configured feed's last round (never polled: `at` is None)."""
        if self.state is None:
            return []
        return await self.state.last_rounds(list(self.config.feed_urls))


@contextlib.asynccontextmanager
async def running_ingest(
    config: IngestConfig, engine: Engine, *, watch: bool, catch_up: bool = True
) -> AsyncIterator[IngestService]:
    """Watch the corpus folder (when `watch`) and poll the configured feeds until exit.

    `catch_up`: once watching, reconcile the whole folder in the background, for what
    changed while nothing was watching (questions are answered from the index meanwhile).
    """
    indexer = AutoIndexer(engine)
    service = IngestService(config, indexer, watch)
    watcher = CorpusWatcher(config.corpus_dir, indexer) if watch else None
    poller = None
    async with contextlib.AsyncExitStack() as stack:
        if config.feed_urls:
            service.state = await stack.enter_async_context(
                await IngestState.open(config.state_path)
            )
            poller = FeedPoller(
                Ingestor(config, service.state), indexer, config.feed_interval, index=not watch
            )
        if watcher is not None:
            await watcher.start()
            stack.push_async_callback(watcher.stop)
            log.info("Watching %s for changes", config.corpus_dir)
            if catch_up:
                stack.push_async_callback(_cancel, asyncio.create_task(indexer.reconcile("watch")))
        if poller is not None:
            poller.start()
            stack.push_async_callback(poller.stop)
            log.info("Polling %d feeds every %g s", len(config.feed_urls), config.feed_interval)
        yield service


async def _cancel(task: asyncio.Task) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
