"""Feed rounds against the local news site: what lands in the corpus, and what is refused."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest
import yaml

from embeddings.config import EngineConfig
from embeddings.corpus import CorpusRootError, load_corpus
from embeddings.engine import Engine
from embeddings.ingest.config import IngestConfig
from embeddings.ingest.rounds import RoundReport
from tests.embeddings.ingest.conftest import run_round
from tests.embeddings.ingest.newssite import BIG_PAGE_BYTES, FURNITURE, STORIES, NewsSite


def skipped(report: RoundReport) -> dict[str, str]:
    return {item.url: item.reason for feed in report.feeds for item in feed.skipped}


def front_matter(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8").split("---\n")[1])


async def test_a_round_saves_each_story_as_an_article_without_the_page_furniture(
    site: NewsSite, config: IngestConfig
) -> None:
    site.feeds["son"] = [
        "/haber/kapadokya-balon-festivali",
        "/haber/van-golu-inci-kefali",
        "/haber/trabzon-hamsi-rekoru",
    ]

    report = await run_round(config, [site.url("/rss/son")])

    [feed] = report.feeds
    assert (feed.new, feed.known, feed.skipped, feed.error) == (3, 0, [], None)
    assert all(path.parent == config.corpus_dir / "feeds" / "127.0.0.1" for path in feed.paths)
    loaded = load_corpus(config.corpus_dir)
    assert loaded.skipped == []
    articles = {article.source_url: article for article in loaded.articles}
    for slug in site.feeds["son"]:
        story = STORIES[slug.rsplit("/", 1)[1]]
        article = articles[site.url(slug)]
        assert article.title == story.title
        assert article.paragraphs == list(story.paragraphs)  # the body, whole, and only it
        for furniture in FURNITURE:
            assert furniture not in article.text
        # the page's own date; the feed item's when the page has none
        assert article.date == (story.date or story.feed_date)
        assert article.lang == "tr"
    meta = front_matter(config.corpus_dir / articles[site.url(site.feeds["son"][0])].source_file)
    assert meta["feed"] == site.url("/rss/son")


async def test_ingested_articles_answer_questions_with_their_page_url_and_date(
    site: NewsSite, config: IngestConfig
) -> None:
    site.feeds["son"] = ["/haber/kapadokya-balon-festivali", "/haber/izmir-metro-hatti"]
    await run_round(config, [site.url("/rss/son")])
    engine_config = EngineConfig(
        corpus_dir=config.corpus_dir, data_dir=config.data_dir / "index", model=None
    )

    async with await Engine.open(engine_config) as engine:
        await engine.update()
        answer = (await engine.ask("Balon festivaline kaç ülkeden pilot katılıyor?")).to_dict()

    best = answer["passages"][0]
    assert "40 ülkeden 120 balon pilotu" in best["text"]
    assert best["source_url"] == site.url("/haber/kapadokya-balon-festivali")
    assert best["date"] == "2025-05-03"


async def test_rss_atom_and_json_feeds_are_all_read(site: NewsSite, config: IngestConfig) -> None:
    site.feeds["a"] = ["/haber/kapadokya-balon-festivali"]
    site.feeds["b"] = ["/haber/trabzon-hamsi-rekoru"]
    site.feeds["c"] = ["/haber/izmir-metro-hatti"]

    report = await run_round(config, [site.url("/rss/a"), site.url("/atom/b"), site.url("/json/c")])

    assert [(feed.new, feed.error) for feed in report.feeds] == [(1, None)] * 3
    dates = {a.title: a.date for a in load_corpus(config.corpus_dir).articles}
    assert dates["Karadeniz'de hamsi avında rekor sezon"] == "2025-02-15"  # the Atom entry's


async def test_a_second_round_asks_conditionally_and_fetches_no_page_again(
    site: NewsSite, config: IngestConfig
) -> None:
    site.feeds["son"] = ["/haber/kapadokya-balon-festivali", "/haber/van-golu-inci-kefali"]
    feed_url = site.url("/rss/son")
    await run_round(config, [feed_url])
    pages_before = len(site.requests_to("/haber/"))

    again = await run_round(config, [feed_url])

    [feed] = again.feeds
    assert feed.not_modified and (feed.new, feed.known, feed.error) == (0, 0, None)
    first, second = site.requests_to("/rss/son")
    assert "If-None-Match" not in first.headers
    assert second.headers["If-None-Match"] and second.headers["If-Modified-Since"]
    assert len(site.requests_to("/haber/")) == pages_before


async def test_a_changed_feed_only_brings_its_new_items(
    site: NewsSite, config: IngestConfig
) -> None:
    site.feeds["son"] = ["/haber/kapadokya-balon-festivali"]
    await run_round(config, [site.url("/rss/son")])
    site.feeds["son"] = ["/haber/izmir-metro-hatti", "/haber/kapadokya-balon-festivali"]

    report = await run_round(config, [site.url("/rss/son")])

    assert (report.feeds[0].new, report.feeds[0].known) == (1, 1)
    assert len(site.requests_to("/haber/kapadokya-balon-festivali")) == 1
    assert len(load_corpus(config.corpus_dir).articles) == 2


async def test_one_page_through_two_feeds_and_tracking_links_is_one_article(
    site: NewsSite, config: IngestConfig
) -> None:
    slug = "van-golu-inci-kefali"
    site.feeds["a"] = [f"/haber/{slug}?utm_source=rss&utm_medium=feed&utm_campaign=son"]
    site.feeds["b"] = [f"/haber/{slug}?fbclid=IwAR0abc&gclid=xyz", f"/amp/haber/{slug}"]

    report = await run_round(config, [site.url("/rss/a"), site.url("/atom/b")])

    assert sum(feed.new for feed in report.feeds) == 1
    assert sum(feed.known for feed in report.feeds) == 2
    [article] = load_corpus(config.corpus_dir).articles
    assert article.source_url in (site.url(f"/haber/{slug}"), site.url(f"/amp/haber/{slug}"))
    assert len(site.requests_to(f"/haber/{slug}")) == 1  # two links, one request

    later = await run_round(config, [site.url("/rss/a"), site.url("/atom/b")])
    assert sum(feed.new for feed in later.feeds) == 0


async def test_robots_txt_is_respected_and_every_request_names_qabot(
    site: NewsSite, config: IngestConfig
) -> None:
    site.feeds["son"] = ["/gizli/izmir-metro-hatti", "/haber/izmir-metro-hatti"]

    report = await run_round(config, [site.url("/rss/son")])

    assert skipped(report) == {site.url("/gizli/izmir-metro-hatti"): "disallowed by robots.txt"}
    assert report.feeds[0].new == 1
    assert site.requests_to("/gizli/") == []
    assert len(site.requests_to("/robots.txt")) == 1  # once per origin and round
    assert all(hit.headers["User-Agent"].startswith("qabot/") for hit in site.hits)


async def test_a_feed_robots_txt_disallows_is_not_read(
    site: NewsSite, config: IngestConfig
) -> None:
    site.robots = "User-agent: qabot\nDisallow: /\n"
    site.feeds["son"] = ["/haber/izmir-metro-hatti"]

    report = await run_round(config, [site.url("/rss/son")])

    assert report.feeds[0].error == "disallowed by robots.txt"
    assert [hit.path for hit in site.hits] == ["/robots.txt"]


async def test_a_page_over_the_size_limit_is_refused_without_downloading_it(
    site: NewsSite, config: IngestConfig
) -> None:
    site.feeds["son"] = ["/buyuk", "/haber/izmir-metro-hatti"]
    started = time.monotonic()

    report = await run_round(config, [site.url("/rss/son")])

    assert "too large" in skipped(report)[site.url("/buyuk")]
    assert report.feeds[0].new == 1
    assert site.big_bytes_sent < BIG_PAGE_BYTES / 2  # it stopped early, not at 25 MB
    assert time.monotonic() - started < 10


async def test_redirects_are_followed_up_to_the_limit(site: NewsSite, config: IngestConfig) -> None:
    site.feeds["son"] = ["/yonlendir/erzurum-kayak-sezonu", "/dongu/0"]

    report = await run_round(config, [site.url("/rss/son")])

    assert skipped(report) == {site.url("/dongu/0"): "too many redirects (more than 5)"}
    assert len(site.requests_to("/dongu/")) == 6
    [article] = load_corpus(config.corpus_dir).articles
    assert article.source_url == site.url("/haber/erzurum-kayak-sezonu")  # where it led


async def test_links_to_other_hosts_on_private_addresses_are_refused(
    site: NewsSite, config: IngestConfig
) -> None:
    """The feed's own host (127.0.0.1) may be fetched; `localhost` is another host that
    resolves to a loopback address, so it is refused, as are metadata and private
    addresses, directly or through a redirect. Nothing is sent to any of them."""
    other_host = f"http://localhost:{site.port}/haber/izmir-metro-hatti"
    site.feeds["son"] = [
        other_host,
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/haber/x",
        "/metadata",
        "/haber/erzurum-kayak-sezonu",
    ]

    report = await run_round(config, [site.url("/rss/son")])

    reasons = skipped(report)
    assert reasons[other_host] == "refused: localhost resolves to a non-public address (127.0.0.1)"
    assert reasons["http://169.254.169.254/latest/meta-data/"].startswith(
        "refused: 169.254.169.254 resolves to a non-public address"
    )
    assert reasons["http://10.0.0.1/haber/x"].startswith("refused: 10.0.0.1")
    assert reasons[site.url("/metadata")].startswith("refused: 169.254.169.254")
    assert report.feeds[0].new == 1
    assert site.requests_to("/haber/izmir") == []  # localhost is this very server


async def test_an_unreadable_feed_is_reported_and_the_others_are_ingested(
    site: NewsSite, config: IngestConfig
) -> None:
    site.feeds["iyi"] = ["/haber/kapadokya-balon-festivali"]
    feeds = [site.url("/bozuk.xml"), site.url("/rss/olmayan"), site.url("/rss/iyi")]

    report = await run_round(config, feeds)

    errors = {feed.feed: feed.error for feed in report.unreadable}
    assert errors[site.url("/bozuk.xml")].startswith("malformed feed: line ")
    assert errors[site.url("/rss/olmayan")] == "HTTP 404"
    assert report.feeds[2].new == 1


async def test_failed_items_are_reported_tried_again_and_given_up_after_three_rounds(
    site: NewsSite, config: IngestConfig
) -> None:
    site.feeds["son"] = ["/haber/boyle-bir-haber-yok", "/bos", "/yavas"]
    feed_url = site.url("/rss/son")
    expected = {
        site.url("/haber/boyle-bir-haber-yok"): "HTTP 404",
        site.url("/bos"): "no article text found on the page",
        site.url("/yavas"): "timed out waiting for 127.0.0.1 (0.5 s)",
    }
    started = time.monotonic()

    rounds = [await run_round(config, [feed_url]) for _ in range(4)]

    assert skipped(rounds[0]) == expected
    assert rounds[1].feeds[0].not_modified and skipped(rounds[1]) == expected  # retried
    given_up = {url: f"{why} (given up after 3 attempts)" for url, why in expected.items()}
    assert skipped(rounds[2]) == given_up
    assert rounds[3].feeds[0].skipped == [] and len(site.requests_to("/bos")) == 3
    assert time.monotonic() - started < 20


async def test_a_failed_item_that_recovers_is_ingested_in_a_later_round(
    site: NewsSite, config: IngestConfig
) -> None:
    site.feeds["son"] = ["/haber/yeni-haber"]
    first = await run_round(config, [site.url("/rss/son")])
    site.extra_pages["yeni-haber"] = dataclasses.replace(
        STORIES["izmir-metro-hatti"], slug="yeni-haber"
    )

    second = await run_round(config, [site.url("/rss/son")])

    assert skipped(first) == {site.url("/haber/yeni-haber"): "HTTP 404"}
    assert second.feeds[0].new == 1 and skipped(second) == {}


async def test_at_most_two_requests_at_a_time_go_to_one_host(
    site: NewsSite, config: IngestConfig
) -> None:
    site.page_delay = 0.2
    site.feeds["son"] = [f"/haber/{slug}" for slug in STORIES]

    report = await run_round(config, [site.url("/rss/son")])

    assert report.feeds[0].new == len(STORIES)
    assert site.max_in_flight == 2


async def test_a_missing_corpus_folder_fetches_nothing(
    site: NewsSite, config: IngestConfig
) -> None:
    config.corpus_dir.rmdir()
    site.feeds["son"] = ["/haber/izmir-metro-hatti"]

    with pytest.raises(CorpusRootError, match="does not exist"):
        await run_round(config, [site.url("/rss/son")])

    assert site.hits == [] and not config.corpus_dir.exists()
