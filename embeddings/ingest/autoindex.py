"""Applying changed corpus files to the index without an admin, and remembering how the last
such update went (for /stats): when, what it changed or why it failed."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from embeddings.engine import Engine, IndexUpdateError, MassDeletion, UpdateReport

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AutoUpdate:
    """One automatic update: its report, or why it changed nothing."""

    at: float  # epoch seconds
    origin: str  # "watch" (the corpus folder) or "feeds"
    report: UpdateReport | None
    refused: MassDeletion | None = None
    error: str | None = None


class AutoIndexer:
    """Runs automatic updates and keeps the last one. Never raises for a failed update: the
    old index keeps serving, the failure is logged and shown by /stats."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.last: AutoUpdate | None = None

    async def apply(self, paths: Iterable[Path], origin: str) -> None:
        """Update the index for these files."""
        files = sorted(set(paths))
        await self._run(origin, lambda: self.engine.update_files(files))

    async def reconcile(self, origin: str) -> None:
        """Update the index for the whole corpus folder (a folder moved out; the catch-up
        at start)."""
        await self._run(origin, self.engine.update)

    async def _run(self, origin: str, update: Callable[[], Awaitable[UpdateReport]]) -> None:
        at = time.time()
        try:
            report = await update()
        except MassDeletion as err:
            log.warning(
                "Automatic update refused: %s. Send /reload confirm if it is intended.", err
            )
            result = AutoUpdate(at, origin, None, refused=err)
        except IndexUpdateError as err:
            log.warning("Automatic update failed (the previous index keeps serving): %s", err)
            result = AutoUpdate(at, origin, None, error=str(err))
        except Exception as err:  # a bug must not end watching: the next change tries again
            log.exception("Automatic update failed (the previous index keeps serving)")
            result = AutoUpdate(at, origin, None, error=f"{type(err).__name__}: {err}")
        else:
            if not report.unchanged or report.skipped:
                log.info(
                    "Automatic update (%s): +%d ~%d -%d articles, %d skipped, %.2f s",
                    origin,
                    report.added,
                    report.changed,
                    report.removed,
                    len(report.skipped),
                    report.seconds,
                )
            result = AutoUpdate(at, origin, report)
        self.last = result
