"""Per-user sliding window: a few questions per window, one notice when over."""

from __future__ import annotations

from bot.ratelimit import SlidingWindowLimiter, Verdict


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_over_the_limit_the_user_is_told_once_when_to_try_again() -> None:
    clock = Clock()
    limiter = SlidingWindowLimiter(limit=2, window=60, clock=clock)

    first, second = limiter.check(1), limiter.check(1)
    clock.now += 15
    third, fourth = limiter.check(1), limiter.check(1)

    assert first.allowed and second.allowed
    assert third == Verdict(allowed=False, retry_after=45, tell_user=True)
    assert fourth == Verdict(allowed=False, retry_after=45, tell_user=False)
    assert limiter.check(2).allowed  # other users are not affected


def test_the_window_slides() -> None:
    clock = Clock()
    limiter = SlidingWindowLimiter(limit=2, window=60, clock=clock)
    limiter.check(1)
    clock.now += 30
    limiter.check(1)
    assert not limiter.check(1).allowed

    clock.now += 30.5  # the first question left the window
    again = limiter.check(1)
    over = limiter.check(1)

    assert again.allowed
    assert over == Verdict(allowed=False, retry_after=30, tell_user=True)  # told again: new run


def test_idle_users_are_forgotten() -> None:
    clock = Clock()
    limiter = SlidingWindowLimiter(limit=1, window=10, clock=clock)
    for user in range(100):
        limiter.check(user)

    clock.now += 11
    limiter.check(1000)

    assert list(limiter._asked) == [1000]


def test_a_limit_of_zero_turns_the_limiter_off() -> None:
    limiter = SlidingWindowLimiter(limit=0, window=60)

    assert all(limiter.check(1).allowed for _ in range(100))
