"""What the ingest side is told by the bot's settings (it never reads the environment)."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

STATE_NAME = "ingest.sqlite3"  # under DATA_DIR
FEEDS_FOLDER = "feeds"  # under CORPUS_DIR: feeds/<host>/<slug>.md


def user_agent() -> str:
    """Names qabot and its version, so that a site's operator knows who is asking."""
    try:
        release = version("qabot")
    except PackageNotFoundError:  # a source tree that was never installed
        release = "dev"
    return f"qabot/{release} (news question-answering bot; feed reader)"


@dataclass(frozen=True)
class IngestConfig:
    corpus_dir: Path
    data_dir: Path
    feed_urls: tuple[str, ...] = ()
    feed_interval: float = 900.0  # seconds between rounds while the bot runs
    user_agent: str = field(default_factory=user_agent)
    connect_timeout: float = 10.0
    read_timeout: float = 20.0  # between two bytes of a response
    request_deadline: float = 60.0  # a whole response, redirects included
    max_page_bytes: int = 5 * 1024 * 1024  # a larger page is refused, not downloaded whole
    max_redirects: int = 5
    per_host: int = 2  # requests in flight to one host
    max_attempts: int = 3  # rounds an item that failed is tried in before it is given up

    @property
    def state_path(self) -> Path:
        return self.data_dir / STATE_NAME

    @property
    def feeds_dir(self) -> Path:
        return self.corpus_dir / FEEDS_FOLDER
