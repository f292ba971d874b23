"""Progress of long index work (encoding), reported to whoever started it.

The engine calls a `ProgressCallback` on the event loop's thread after each encoded chunk;
the CLI prints it to stderr, the bot edits the admin's status message with it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Progress:
    """`done` of `total` items of one stage ("passages", "sentences"), since `started`."""

    stage: str
    total: int
    done: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def rate(self) -> float:
        """Items per second so far (0 before the first chunk)."""
        return self.done / self.elapsed if self.done and self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left at the current rate; None until there is a rate."""
        return (self.total - self.done) / self.rate if self.rate else None

    @property
    def finished(self) -> bool:
        return self.done >= self.total

    def __str__(self) -> str:
        share = self.done / self.total if self.total else 1.0
        line = f"embedding {self.stage}: {self.done:,}/{self.total:,} ({share:.0%})"
        if self.rate:
            line += f", {self.rate:.1f}/s"
        if self.eta is not None and not self.finished:
            line += f", {format_duration(self.eta)} left"
        return line


ProgressCallback = Callable[[Progress], None]


def format_duration(seconds: float) -> str:
    """ "42 s", "3 min 05 s", "2 h 07 min": short enough for a progress line."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02} min"
