"""Progress of long index work on stderr: one updating line on a terminal, a line every
tenth of the way otherwise (logs, CI)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from embeddings.progress import Progress, ProgressCallback

EVERY_SECONDS = 1.0


def progress_printer(stream: TextIO | None = None) -> ProgressCallback:
    out = stream or sys.stderr
    live = out.isatty()
    last = {"time": 0.0, "tenth": -1}

    def show(p: Progress) -> None:
        if live:
            now = time.monotonic()
            if now - last["time"] >= EVERY_SECONDS or p.finished:
                last["time"] = now
                print(f"\r{p}\033[K", end="\n" if p.finished else "", file=out, flush=True)
            return
        tenth = int(10 * p.done / p.total) if p.total else 10
        if tenth > last["tenth"]:
            last["tenth"] = tenth
            print(p, file=out, flush=True)

    return show
