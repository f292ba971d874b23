"""Articles from the web, written into the corpus folder as the loader reads them: Markdown
with YAML front matter (title, url, date, lang, feed), under feeds/<host>/.

Written atomically: the text goes to a dot-file ending in .tmp beside the target (ignored by
the loader and the watcher), then is renamed over it, so nothing ever reads half an article.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import yaml

from embeddings.ingest.config import FEEDS_FOLDER
from embeddings.ingest.urls import article_slug, host_folder


def article_path(url: str) -> str:
    """Where the article of the page at `url` is saved, relative to the corpus folder."""
    return f"{FEEDS_FOLDER}/{host_folder(url)}/{article_slug(url)}.md"


def render_article(
    *, title: str | None, url: str, date: str | None, lang: str, feed: str, paragraphs: list[str]
) -> str:
    meta = {"title": title, "url": url, "date": date, "lang": lang, "feed": feed}
    front = yaml.safe_dump(
        {key: value for key, value in meta.items() if value is not None},
        allow_unicode=True,
        sort_keys=False,
        width=1_000_000,
    )
    return f"---\n{front}---\n\n" + "\n\n".join(paragraphs) + "\n"


def write_atomically(target: Path, data: bytes) -> None:
    """A temp dot-file (never read as an article, nor watched) synced, then renamed into
    place: a reader or the watcher never sees half a file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
