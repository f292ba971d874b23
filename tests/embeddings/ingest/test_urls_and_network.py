"""URL normalisation, file names, and the address guard under the fetcher."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from embeddings.ingest.corpusfiles import article_path
from embeddings.ingest.network import AddressPolicy, GuardedTransport, RefusedAddress, is_public
from embeddings.ingest.urls import normalize_url
from tests.embeddings.ingest.newssite import NewsSite


@pytest.mark.parametrize(
    ("link", "normal"),
    [
        (
            "https://Haber.Example.com:443/ekonomi/faiz?utm_source=tw&utm_medium=social&id=7#yorum",
            "https://haber.example.com/ekonomi/faiz?id=7",
        ),
        (
            "http://example.com/a?fbclid=IwAR0&gclid=Cj0&b=2&a=1&mc_cid=x&_ga=1.2",
            "http://example.com/a?a=1&b=2",
        ),
        ("http://example.com:8080", "http://example.com:8080/"),
        ("http://example.com/a?q=", "http://example.com/a?q="),  # a real parameter stays
    ],
)
def test_tracking_parameters_and_spelling_differences_are_normalised_away(
    link: str, normal: str
) -> None:
    assert normalize_url(link) == normal


def test_one_page_always_gets_the_same_file_and_two_pages_never_share_one() -> None:
    a = article_path("http://127.0.0.1:8080/haber/Kapadokya'da-Balon_Şenliği.html?utm_source=x")
    assert a == article_path("http://127.0.0.1:8080/haber/Kapadokya'da-Balon_Şenliği.html")
    assert a.startswith("feeds/127.0.0.1/kapadokya-da-balon-senligi-") and a.endswith(".md")
    assert a != article_path("http://127.0.0.1:8080/haber/Kapadokya'da-Balon_Şenliği.html?p=2")


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("169.254.169.254", False),
        ("10.0.0.1", False),
        ("192.168.1.10", False),
        ("172.16.5.4", False),
        ("127.0.0.1", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("::1", False),
        ("fe80::1%eth0", False),
        ("fd00::1", False),
        ("::ffff:127.0.0.1", False),
        ("224.0.0.1", False),
        ("93.184.216.34", True),
        ("2606:4700::1111", True),
    ],
)
def test_only_globally_routable_addresses_are_public(address: str, public: bool) -> None:
    assert is_public(address) is public


async def test_the_transport_refuses_at_connect_time_whatever_the_caller_checked(
    site: NewsSite,
) -> None:
    """The guard under httpx: a name resolving to loopback is never connected to, while
    the trusted host (the feed's) is."""
    policy = AddressPolicy(["127.0.0.1"])
    transport = GuardedTransport(policy, httpx.Limits(max_connections=4))
    async with httpx.AsyncClient(transport=transport, timeout=5) as client:
        trusted = await asyncio.wait_for(client.get(site.url("/robots.txt")), 5)
        with pytest.raises(httpx.ConnectError) as refused:
            await asyncio.wait_for(client.get(f"http://localhost:{site.port}/robots.txt"), 5)

    assert trusted.status_code == 200
    assert isinstance(refused.value.__cause__, RefusedAddress)
    assert len(site.requests_to("/robots.txt")) == 1
