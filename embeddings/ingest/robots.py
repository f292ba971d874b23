"""robots.txt, read once per origin and round, as RFC 9309 says: a missing file (4xx) allows
everything; a server error or an unreachable file disallows everything for now."""

from __future__ import annotations

from dataclasses import dataclass

from protego import Protego

MAX_ROBOTS_BYTES = 512 * 1024  # RFC 9309: parse at least 500 KiB


@dataclass(frozen=True)
class RobotsRules:
    parser: Protego | None  # None: no rules (everything allowed)
    blocked: str | None = None  # why everything is disallowed, when it is

    def refusal(self, url: str, user_agent: str) -> str | None:
        """Why robots.txt forbids fetching `url`; None when it may be fetched."""
        if self.blocked:
            return f"robots.txt unavailable ({self.blocked}): not fetched"
        if self.parser is not None and not self.parser.can_fetch(url, user_agent):
            return "disallowed by robots.txt"
        return None


def rules_from_response(status: int | None, body: bytes, error: str | None = None) -> RobotsRules:
    """The rules a robots.txt response gives (status None: it could not be fetched)."""
    if status is None or status >= 500:
        return RobotsRules(None, blocked=error or f"HTTP {status}")
    if status >= 400:
        return RobotsRules(None)
    text = body[:MAX_ROBOTS_BYTES].decode("utf-8", errors="replace")
    return RobotsRules(Protego.parse(text))
