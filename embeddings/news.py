"""News facts: when an article was published, which dates its text mentions, which story it
belongs to, and how a question's time words and a story's copies shape its answer.

Articles are annotated at index time (`annotate`, in the update's transaction), so that a
question pays two indexed lookups and no parsing of article text. At question time
(`Plan`): articles published after the reader's date are not used; a question bound to a
period relative to today ("bugün", "geçen hafta") is answered only from articles published
in it, and declined when the corpus has none; calendar periods ("haziran ayında", "2025'te")
and "latest" questions reorder the passages that answer, never putting a passage that does
not answer above one that does. A corpus without dated articles is left alone: its time
words are ordinary words. Each story is listed once, by its best-ranked passage.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from embeddings import store, stories, timewords
from embeddings.fusion import Ranking
from embeddings.store import NewArticle, NewsFacts

if TYPE_CHECKING:
    import aiosqlite


async def story_index(conn: aiosqlite.Connection) -> stories.StoryIndex:
    """The stories of the indexed articles, read once: the engine keeps it between updates,
    so that an update compares its articles with the others without reading them all."""
    ids, names, sigs = await store.story_rows(conn, set())
    return await asyncio.to_thread(stories.StoryIndex, ids, sigs, names)


def annotate(item: NewArticle) -> None:
    """Give an article to be indexed its publication day, its text's date mentions and its
    MinHash signature: parsed once at index time (with its passages, on every core for a
    large batch), so that a question parses no article text."""
    article = item.article
    published = timewords.parse_date(article.date)
    text = f"{article.title}\n{article.text}"
    mentions = sorted(set(timewords.dates_in_text(text, published)))
    item.published = published.isoformat() if published else None
    if mentions:
        item.mentions = json.dumps([[a.isoformat(), b.isoformat()] for a, b in mentions])
    item.signature = stories.signature(text).tobytes()


def assign_stories(index: stories.StoryIndex, items: list[NewArticle]) -> None:
    """Give annotated articles their story, adding them to `index` (which no longer holds
    the articles the update removed or replaced). A copy joins the story of the most
    similar article already indexed or earlier in the batch; the batch is taken oldest
    first, so that a story is named after its first publication."""
    if not items:
        return
    ordered = sorted(items, key=lambda i: (i.published is None, i.published or "", i.article.id))
    sigs = np.frombuffer(b"".join(i.signature or b"" for i in ordered), dtype=np.uint32)
    assigned = index.add([i.article.id for i in ordered], sigs)
    for item, story in zip(ordered, assigned, strict=True):
        item.story = story


@dataclass
class Plan:
    """How one question's candidates become its answer: which are eligible, in what order
    the answering ones are preferred, or that it is declined."""

    when: timewords.TimeFilter | None
    as_of: dt.date | None
    latest: dt.date | None = None  # newest publication day of the corpus as of the question
    declined: bool = False
    facts: dict[int, NewsFacts] = field(default_factory=dict)

    @property
    def timely(self) -> bool:
        """Do the question's time words apply? Not in a corpus without dates."""
        return self.when is not None and self.latest is not None

    @property
    def strict(self) -> bool:
        """Is the question bound to a period relative to today ("bugün", "geçen hafta")?"""
        when = self.when
        return self.timely and when is not None and when.strict and when.bounded

    @property
    def period(self) -> tuple[dt.date | None, dt.date | None]:
        """The period asked about, cut at the reader's date."""
        assert self.when is not None
        end = self.when.end
        if self.as_of is not None and (end is None or end > self.as_of):
            end = self.as_of
        return self.when.start, end

    def eligible(self, ranking: Ranking) -> Ranking:
        """The candidates that may answer, one per story: none published after the reader's
        date, only those from the period of a strict question, and of each story its
        best-ranked passage. That is the best passage of the copy that answers best (a
        repost may cut the paragraph that answers, or add a lead); the other copies are
        listed with their dates, so who published first stays visible."""
        period = self.when if self.strict else None
        out, seen = [], set()
        for rowid, score in ranking:
            facts = self.facts.get(rowid)
            if facts is None or facts.story in seen:  # None: removed by an update meanwhile
                continue
            if self.as_of is not None and facts.published and facts.published > self.as_of:
                continue
            if period is not None and not period.contains(facts.published):
                continue
            seen.add(facts.story)
            out.append((rowid, score))
        return out

    def preference(self) -> Callable[[int], tuple] | None:
        """A sort key (smaller first) for the passages that answer: published in a calendar
        period asked about, else mentioning it; then, for "latest" questions, newest first.
        None when the question has no such preference."""
        if not self.timely:
            return None
        when = self.when
        assert when is not None
        prefer_period = when.bounded and not when.strict
        if not (prefer_period or when.latest):
            return None

        def key(rowid: int) -> tuple:
            facts = self.facts[rowid]
            tier = 0
            if prefer_period:
                tier = 0 if when.contains(facts.published) else 1 if _mentions(when, facts) else 2
            newest = -facts.published.toordinal() if when.latest and facts.published else 0
            return tier, newest

        return key


def _mentions(when: timewords.TimeFilter, facts: NewsFacts) -> bool:
    if not facts.mentions:
        return False
    ranges = json.loads(facts.mentions)
    return any(when.overlaps(dt.date.fromisoformat(a), dt.date.fromisoformat(b)) for a, b in ranges)
