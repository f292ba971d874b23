"""Feed rounds on an interval while the bot runs."""

from __future__ import annotations

import asyncio
import logging

from embeddings.ingest.autoindex import AutoIndexer
from embeddings.ingest.rounds import Ingestor, RoundReport

log = logging.getLogger(__name__)


class FeedPoller:
    """Runs a round every `interval` seconds, the first at once. The articles a round
    writes are indexed here unless the corpus watcher will see them (`index=False`)."""

    def __init__(
        self, ingestor: Ingestor, indexer: AutoIndexer, interval: float, *, index: bool
    ) -> None:
        self.ingestor = ingestor
        self.indexer = indexer
        self.interval = interval
        self.index = index
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="feed-poller")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.poll_once()
            except Exception:  # a bug in one round must not end polling
                log.exception("Feed round failed")
            await asyncio.sleep(self.interval)

    async def poll_once(self) -> RoundReport:
        report = await self.ingestor.run_round()
        new = sum(feed.new for feed in report.feeds)
        log.info(
            "Feed round: %d feeds, %d new articles, %d unreadable, %.1f s",
            len(report.feeds),
            new,
            len(report.unreadable),
            report.seconds,
        )
        for feed in report.unreadable:
            log.warning("Feed %s could not be read: %s", feed.feed, feed.error)
        if self.index and report.paths:
            await self.indexer.apply(report.paths, "feeds")
        return report
