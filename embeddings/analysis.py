"""Index-time analysis of new articles, off the event loop: passages, their Turkish terms,
news facts and BM25 postings, in one pass over each article.

A large batch (a first build) is analysed in chunks on every core, handed over in order as
they are ready: the update inserts one chunk while the next are analysed, and holds only
the chunks in flight. Each chunk counts its passages' terms into postings of its own
(`Postings`), so that building the new BM25 segment is left with joining vocabularies and
one sort.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

from embeddings import news
from embeddings.corpus import Article
from embeddings.lexical import Postings
from embeddings.parallel import map_chunks
from embeddings.splitter import ATTRIBUTION_LABEL, Passage, split_article
from embeddings.store import NewArticle, NewPassage
from embeddings.text import terms

# Articles analysed per task when a batch is split over every core (a first build); below
# twice this, spawning workers costs more than it saves.
PARALLEL_ARTICLES = 1000

ToEmbed = tuple[str, str, tuple[str, ...]]  # passage id, ranking text, sentences


@dataclass
class Analysed:
    """A chunk of articles ready to insert: their passages in order, and the postings of
    those passages' terms."""

    articles: list[NewArticle]
    passages: list[NewPassage]
    postings: Postings


def analyse(articles: list[Article]) -> Iterator[Analysed]:
    """Every article's passages, terms and news facts, chunk by chunk, in order. Workers
    send back what they found, not the text they were given: each chunk's articles are
    given back their own here."""
    given = iter(articles)
    with contextlib.closing(map_chunks(_analyse_chunk, articles, PARALLEL_ARTICLES)) as chunks:
        for chunk in chunks:
            for item in chunk.articles:
                item.article = next(given)
            yield chunk


def to_embed(articles: list[Article]) -> list[ToEmbed]:
    """The articles' passages as the encoder takes them; split only, on every core for a
    large batch."""
    return [p for part in map_chunks(_to_embed_chunk, articles, PARALLEL_ARTICLES) for p in part]


def _to_embed_chunk(articles: list[Article]) -> list[ToEmbed]:
    return [(p.id, p.ranking_text, p.sentences) for a in articles for p in split_article(a)]


def _analyse_chunk(articles: list[Article]) -> Analysed:
    new_articles, new_passages = [], []
    vocabulary: dict[str, int] = {}
    ids: list[int] = []  # every passage's term ids, one passage after another
    lengths = []
    for article in articles:
        passages = split_article(article)
        for passage, parts in zip(passages, _passage_terms(passages, vocabulary), strict=True):
            new_passages.append(NewPassage.of(passage, " ".join(t for t, _ in parts if t)))
            for _, part_ids in parts:
                ids.extend(part_ids)
            lengths.append(sum(len(i) for _, i in parts))
        item = NewArticle(article, article.content_hash)
        news.annotate(item)
        item.article = dataclasses.replace(article, text="")
        new_articles.append(item)
    return Analysed(new_articles, new_passages, Postings.of_ids(list(vocabulary), ids, lengths))


Part = tuple[str, list[int]]  # a piece of text's terms, space-joined, and their ids


def _passage_terms(passages: list[Passage], vocabulary: dict[str, int]) -> list[list[Part]]:
    """Each passage's `terms(passage.ranking_text)`, in parts: its title, sentences and
    attribution label. Each of the article's sentences is analysed, and its terms numbered
    in `vocabulary`, once: passages overlap by a sentence and repeat the title. Words never
    span the line and space breaks that join the ranking text's parts."""
    known: dict[str, Part] = {}
    lookup = vocabulary.setdefault

    def of(text: str) -> Part:
        found = known.get(text)
        if found is None:
            found_terms = terms(text)
            ids = [lookup(t, len(vocabulary)) for t in found_terms]
            found = known[text] = (" ".join(found_terms), ids)
        return found

    out = []
    for passage in passages:
        parts = [] if passage.title_in_text else [of(passage.title)]
        parts += [of(sentence) for sentence in passage.sentences]
        if passage.attribution:
            parts.append(of(f"{ATTRIBUTION_LABEL} {passage.attribution}"))
        out.append(parts)
    return out
