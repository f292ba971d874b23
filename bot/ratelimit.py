"""Per-user sliding-window limit on questions.

Only the first question over the limit is answered with a "try again in N s" message;
the following ones are dropped silently until the user is under the limit again, so a
flood never turns into a flood of refusals.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int = 0  # whole seconds until the oldest question leaves the window
    tell_user: bool = False  # the first refusal of a run: say when to try again


class SlidingWindowLimiter:
    def __init__(
        self, limit: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        # user id → times of their questions in the window; least recently active first.
        self._asked: dict[int, deque[float]] = {}
        self._told: set[int] = set()

    def check(self, user_id: int) -> Verdict:
        """Count a question by `user_id` if the window has room for it (limit 0: no limit)."""
        if self.limit <= 0:
            return Verdict(allowed=True)
        now = self._clock()
        self._forget_idle(now)
        asked = self._asked.pop(user_id, deque())
        self._asked[user_id] = asked  # move to the most recently active end
        while asked and asked[0] <= now - self.window:
            asked.popleft()
        if len(asked) < self.limit:
            asked.append(now)
            self._told.discard(user_id)
            return Verdict(allowed=True)
        retry_after = max(1, math.ceil(asked[0] + self.window - now))
        tell_user = user_id not in self._told
        self._told.add(user_id)
        return Verdict(allowed=False, retry_after=retry_after, tell_user=tell_user)

    def _forget_idle(self, now: float) -> None:
        """Drop users whose questions all left the window (they are at the front)."""
        while self._asked:
            user_id = next(iter(self._asked))
            times = self._asked[user_id]
            if times and times[-1] > now - self.window:
                break
            del self._asked[user_id]
            self._told.discard(user_id)
