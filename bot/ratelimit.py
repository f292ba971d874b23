"""Rate limits: the per-user limit on questions, and Telegram's limits on the bot's sends.

Only the first question over the per-user limit is answered with a "try again in N s"
message; the following ones are dropped silently until the user is under the limit again,
so a flood never turns into a flood of refusals.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from aiolimiter import AsyncLimiter
from telegram.constants import FloodLimit
from telegram.error import RetryAfter, TelegramError
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)

JSONDict = dict[str, Any]


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


class NoRoomNow(TelegramError):
    """A request not worth waiting for found Telegram's flood budget used up."""


class PatientFloodLimiter(BaseRateLimiter[int]):
    """Telegram's budgets (30 messages/s overall, 20/min per group), and after a 429 the wait
    Telegram asks for, as often as it takes until `deadline` seconds have passed: a reply held
    up by flood control arrives late rather than never. (PTB's AIORateLimiter gives up after
    a fixed number of retries, and pauses every chat while one waits.)

    A call's `rate_limit_args` replaces the deadline. 0 is for cosmetic requests ("typing…",
    progress edits): they are dropped (NoRoomNow, RetryAfter) rather than sent late, and
    never take a place in the budget that replies are waiting for.
    """

    MAX_GROUPS = 512  # group budgets kept; past that, idle ones are forgotten

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self._overall = AsyncLimiter(FloodLimit.MESSAGES_PER_SECOND, 1)
        self._groups: dict[int | str, AsyncLimiter] = {}

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | JSONDict | list[JSONDict]:
        chat_id = data.get("chat_id")
        budgets = self._budgets(chat_id)
        patience = self.deadline if rate_limit_args is None else rate_limit_args
        if not patience and not all(budget.has_capacity() for budget in budgets):
            raise NoRoomNow(f"no room for {endpoint} in the flood budget now")
        give_up = time.monotonic() + patience
        while True:
            for budget in budgets:
                await budget.acquire()
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as err:
                wait = _seconds(err.retry_after) + 0.1
                if time.monotonic() + wait > give_up:
                    raise
                log.info(
                    "Flood limit on %s to chat %s: sending again in %.1f s", endpoint, chat_id, wait
                )
                await asyncio.sleep(wait)

    def _budgets(self, chat_id: object) -> list[AsyncLimiter]:
        """The budgets a request counts against: none without a chat (getUpdates, answering
        a button…), the overall one, and a group's own (negative ids, @channel names)."""
        if chat_id is None:
            return []
        if not (isinstance(chat_id, str) or (isinstance(chat_id, int) and chat_id < 0)):
            return [self._overall]
        if chat_id not in self._groups and len(self._groups) >= self.MAX_GROUPS:
            self._groups = {  # keep only the groups whose budget is in use
                group: budget
                for group, budget in self._groups.items()
                if not budget.has_capacity(budget.max_rate)
            }
        group = self._groups.setdefault(
            chat_id, AsyncLimiter(FloodLimit.MESSAGES_PER_MINUTE_PER_GROUP, 60)
        )
        return [group, self._overall]


def _seconds(retry_after: int | dtm.timedelta) -> float:
    """RetryAfter.retry_after is an int, or a timedelta with PTB_TIMEDELTA set."""
    if isinstance(retry_after, dtm.timedelta):
        return retry_after.total_seconds()
    return float(retry_after)
