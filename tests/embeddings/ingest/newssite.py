"""A local news site on 127.0.0.1 for ingest tests (and benchmarks/ingest_load.py).

It serves RSS 2.0, Atom and JSON feeds and Turkish article pages in real page furniture
(menu, cookie banner, ads, related news, comments, footer), plus the pages that go wrong: a
404, a slow page, a 25 MB page, a redirect loop, a redirect to the cloud metadata address,
pages robots.txt disallows and a malformed feed. Every request is logged with its headers.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.utils import format_datetime
from types import TracebackType
from typing import Self

from aiohttp import web

BIG_PAGE_BYTES = 25 * 1024 * 1024
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# A corpus file dropped into the watched folder (not served by the site).
BALON = """---
title: Kapadokya'da balon festivali başladı
url: https://haber.example/balon
date: 2025-05-03
---

Kapadokya'daki sıcak hava balonu festivali 3 Mayıs sabahı Göreme'de başladı.

Festivale 40 ülkeden 120 balon pilotu katılıyor ve etkinlik bir hafta sürecek.
"""
BALON_QUESTION = "Balon festivaline kaç ülkeden pilot katılıyor?"


@dataclass(frozen=True)
class Story:
    slug: str
    title: str
    date: str | None  # on the page (article:published_time); None: the page has no date
    paragraphs: tuple[str, ...]
    feed_date: str = "2025-05-01"  # the item's own date in the feeds


STORIES = {
    story.slug: story
    for story in (
        Story(
            "kapadokya-balon-festivali",
            "Kapadokya'da balon festivali başladı",
            "2025-05-03",
            (
                "Kapadokya'daki sıcak hava balonu festivali 3 Mayıs sabahı Göreme'de başladı. "
                "Festivalin ilk gününde gökyüzüne 85 balon yükseldi.",
                "Festivale 40 ülkeden 120 balon pilotu katılıyor ve etkinlik bir hafta sürecek. "
                "Organizasyon komitesi başkanı Ayşe Demir, bu yıl rekor sayıda ziyaretçi "
                "beklediklerini söyledi.",
                "Nevşehir Valiliği, festival süresince Göreme'ye giden yollarda ek trafik "
                "önlemleri alındığını açıkladı.",
            ),
        ),
        Story(
            "van-golu-inci-kefali",
            "Van Gölü'nde inci kefali göçü başladı",
            "2025-04-22",
            (
                "Van Gölü havzasında yaşayan inci kefalinin üreme göçü nisan ayının son "
                "haftasında başladı. Balıklar tatlı su kaynaklarına ulaşmak için akıntıya "
                "karşı yüzüyor.",
                "Van Yüzüncü Yıl Üniversitesi'nden biyolog Mehmet Kaya, göçün bu yıl her "
                "zamankinden iki hafta erken başladığını belirtti. Kaya'ya göre erken göçün "
                "nedeni kışın ılık geçmesi.",
                "Göç süresince Deliçay ve Karasu derelerinde avlanma yasağı uygulanıyor; "
                "yasağa uymayanlara idari para cezası kesiliyor.",
            ),
        ),
        Story(
            "trabzon-hamsi-rekoru",
            "Karadeniz'de hamsi avında rekor sezon",
            None,  # no date on the page: the feed item's date must be used
            (
                "Karadeniz'de hamsi sezonu rekorla kapandı. Trabzon Su Ürünleri Kooperatifi, "
                "bu sezon karaya çıkarılan hamsinin 180 bin tona ulaştığını duyurdu.",
                "Kooperatif başkanı Hasan Yılmaz, sezonun uzun ve fırtınasız geçmesinin "
                "verimi artırdığını söyledi. Hamsinin kilogram fiyatı sezon sonunda 60 "
                "liraya kadar düştü.",
            ),
            feed_date="2025-02-15",
        ),
        Story(
            "izmir-metro-hatti",
            "İzmir'de yeni metro hattının temeli atıldı",
            "2025-03-10",
            (
                "İzmir'de Buca ile Bornova'yı birbirine bağlayacak 13,5 kilometrelik metro "
                "hattının temeli 10 Mart'ta düzenlenen törenle atıldı.",
                "Hat üzerinde 11 istasyon bulunacak ve günde 400 bin yolcu taşınması "
                "planlanıyor. Büyükşehir belediyesi, hattın dört yıl içinde hizmete "
                "gireceğini açıkladı.",
            ),
        ),
        Story(
            "erzurum-kayak-sezonu",
            "Palandöken'de kayak sezonu uzatıldı",
            "2025-03-28",
            (
                "Erzurum Palandöken Kayak Merkezi'nde yoğun kar yağışı nedeniyle sezon nisan "
                "ayının sonuna kadar uzatıldı.",
                "İşletme müdürü Zeynep Arslan, pistlerdeki kar kalınlığının iki metreyi "
                "aştığını ve otellerin doluluk oranının yüzde 90'a ulaştığını söyledi.",
            ),
        ),
    )
}

# Page furniture: none of these may reach an extracted article.
FURNITURE = (
    "Ana Sayfa",
    "Çerez politikamızı",
    "REKLAM",
    "İlgili Haberler",
    "Antalya'da turizm sezonu açıldı",
    "Harika bir haber",
    "Tüm hakları saklıdır",
    "Künye",
)


def article_page(story: Story) -> str:
    """A news page as sites really build them, around the story's own text."""
    published = (
        f'<meta property="article:published_time" content="{story.date}T09:30:00+03:00">'
        if story.date
        else ""
    )
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in story.paragraphs)
    return f"""<!DOCTYPE html>
<html lang="tr">
<head><meta charset="utf-8"><title>{html.escape(story.title)} | Anadolu Yerel Haber</title>
<meta property="og:title" content="{html.escape(story.title)}">{published}
</head>
<body>
<header class="site-header"><nav class="main-menu"><ul>
<li><a href="/">Ana Sayfa</a></li><li><a href="/gundem">Gündem</a></li>
<li><a href="/ekonomi">Ekonomi</a></li><li><a href="/spor">Spor</a></li>
<li><a href="/yasam">Yaşam</a></li></ul></nav></header>
<div id="cookie-banner" class="cookie-consent">Bu site çerezleri kullanır. Devam ederek
Çerez politikamızı kabul etmiş olursunuz. <button>Kabul et</button></div>
<div class="advertisement ad-slot">REKLAM: Yaz indirimlerini kaçırmayın, şimdi satın alın!</div>
<main><article class="news-detail">
<h1>{html.escape(story.title)}</h1>
<p class="byline">Haber Merkezi</p>
{body}
</article>
<aside class="related-news"><h3>İlgili Haberler</h3><ul>
<li><a href="/haber/antalya">Antalya'da turizm sezonu açıldı</a></li>
<li><a href="/haber/lale">İstanbul'da lale festivali rekor kırdı</a></li></ul></aside>
<section id="comments" class="comments"><h3>Yorumlar (2)</h3>
<div class="comment"><p>Harika bir haber, mutlaka gideceğim!</p></div>
<div class="comment"><p>Geçen yıl çok kalabalıktı, erken gidin.</p></div></section>
</main>
<footer class="site-footer"><p>© 2025 Anadolu Yerel Haber. Tüm hakları saklıdır.</p>
<a href="/kunye">Künye</a> <a href="/iletisim">İletişim</a></footer>
</body></html>"""


@dataclass
class Hit:
    path: str  # with the query string
    headers: dict[str, str]


@dataclass
class NewsSite:
    """`feeds` maps a feed path to its item links (absolute, or paths on this site)."""

    feeds: dict[str, list[str]] = field(default_factory=dict)
    robots: str = "User-agent: *\nDisallow: /gizli/\n"
    hits: list[Hit] = field(default_factory=list)
    big_bytes_sent: int = 0
    slow_seconds: float = 30.0
    page_delay: float = 0.0  # seconds each story page takes
    in_flight: int = 0  # story pages being served now
    max_in_flight: int = 0
    extra_pages: dict[str, Story] = field(default_factory=dict)  # slug → story (bench)
    address: str = "127.0.0.1"  # any loopback address (the load benchmark uses several)
    _runner: web.AppRunner | None = None
    port: int = 0

    @property
    def base(self) -> str:
        return f"http://{self.address}:{self.port}"

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def requests_to(self, prefix: str) -> list[Hit]:
        return [hit for hit in self.hits if hit.path.startswith(prefix)]

    async def __aenter__(self) -> Self:
        app = web.Application(middlewares=[self._log])
        app.router.add_get("/robots.txt", self._robots)
        app.router.add_get("/rss/{name}", self._rss)
        app.router.add_get("/atom/{name}", self._atom)
        app.router.add_get("/json/{name}", self._json)
        app.router.add_get("/bozuk.xml", self._malformed)
        app.router.add_get("/haber/{slug}", self._story)
        app.router.add_get("/amp/haber/{slug}", self._story)  # the same story at another URL
        app.router.add_get("/gizli/{slug}", self._story)
        app.router.add_get("/yavas", self._slow)
        app.router.add_get("/buyuk", self._big)
        app.router.add_get("/dongu/{n}", self._loop)
        app.router.add_get("/yonlendir/{slug}", self._redirect)
        app.router.add_get("/metadata", self._to_metadata)
        app.router.add_get("/bos", self._empty_page)
        self._runner = web.AppRunner(
            app, access_log=None, shutdown_timeout=1.0, handler_cancellation=True
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.address, 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    @web.middleware
    async def _log(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.hits.append(Hit(request.path_qs, dict(request.headers)))
        return await handler(request)

    def _links(self, name: str) -> list[str]:
        links = self.feeds.get(name)
        if links is None:
            raise web.HTTPNotFound()
        return [link if "://" in link else self.url(link) for link in links]

    def _title(self, link: str) -> tuple[str, str]:
        slug = link.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]
        story = STORIES.get(slug) or self.extra_pages.get(slug)
        return (story.title, story.feed_date) if story else (f"Haber {slug}", "2025-05-01")

    def _conditional(self, request: web.Request, body: str, content_type: str) -> web.Response:
        """ETag and Last-Modified; 304 when the client already has this document."""
        etag = f'"{abs(hash(body))}"'
        modified = "Sat, 03 May 2025 10:00:00 GMT"
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(
            text=body,
            content_type=content_type,
            headers={"ETag": etag, "Last-Modified": modified},
        )

    async def _robots(self, request: web.Request) -> web.Response:
        return web.Response(text=self.robots)

    async def _rss(self, request: web.Request) -> web.Response:
        items = []
        for link in self._links(request.match_info["name"]):
            title, date = self._title(link)
            pub = format_datetime(_datetime(date))
            items.append(
                f"<item><title>{html.escape(title)}</title><link>{html.escape(link)}</link>"
                f"<pubDate>{pub}</pubDate><description>Özet</description></item>"
            )
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
            "<title>Anadolu Yerel Haber</title><link>/</link><language>tr-TR</language>"
            f"<description>Son haberler</description>{''.join(items)}</channel></rss>"
        )
        return self._conditional(request, body, "application/rss+xml")

    async def _atom(self, request: web.Request) -> web.Response:
        entries = []
        for link in self._links(request.match_info["name"]):
            title, date = self._title(link)
            entries.append(
                f"<entry><title>{html.escape(title)}</title>"
                f'<link rel="alternate" href="{html.escape(link)}"/>'
                f"<id>{html.escape(link)}</id><updated>{date}T08:00:00+03:00</updated></entry>"
            )
        body = (
            '<?xml version="1.0" encoding="utf-8"?>\n'
            '<feed xmlns="http://www.w3.org/2005/Atom"><title>Yerel Atom</title>'
            f"<id>urn:yerel</id><updated>2025-05-03T10:00:00Z</updated>{''.join(entries)}</feed>"
        )
        return self._conditional(request, body, "application/atom+xml")

    async def _json(self, request: web.Request) -> web.Response:
        items = []
        for link in self._links(request.match_info["name"]):
            title, date = self._title(link)
            items.append({"id": link, "url": link, "title": title, "date_published": date})
        body = json.dumps(
            {"version": "https://jsonfeed.org/version/1.1", "title": "Yerel", "items": items}
        )
        return self._conditional(request, body, "application/feed+json")

    async def _malformed(self, request: web.Request) -> web.Response:
        return web.Response(
            text='<?xml version="1.0"?><rss version="2.0"><channel><item><title>Yarım',
            content_type="application/rss+xml",
        )

    async def _story(self, request: web.Request) -> web.Response:
        slug = request.match_info["slug"]
        story = STORIES.get(slug) or self.extra_pages.get(slug)
        if story is None:
            raise web.HTTPNotFound(text="Sayfa bulunamadı")
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.page_delay)
        finally:
            self.in_flight -= 1
        return web.Response(text=article_page(story), content_type="text/html")

    async def _empty_page(self, request: web.Request) -> web.Response:
        page = "<html><body><nav><a href='/'>Ana Sayfa</a></nav><p>Abone olun.</p></body></html>"
        return web.Response(text=page, content_type="text/html")

    async def _slow(self, request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(self.slow_seconds)
        return web.Response(text="geç", content_type="text/html")

    async def _big(self, request: web.Request) -> web.StreamResponse:
        """25 MB of page, chunked (no Content-Length): only reading it tells its size."""
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        chunk = b"<p>" + b"dolgu " * 10_000 + b"</p>\n"
        try:
            while self.big_bytes_sent < BIG_PAGE_BYTES:
                await response.write(chunk)
                self.big_bytes_sent += len(chunk)
        except (ConnectionResetError, ConnectionError):
            pass  # the client hung up: what it was meant to do
        return response

    async def _loop(self, request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        raise web.HTTPFound(f"/dongu/{n + 1}")

    async def _redirect(self, request: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently(f"/haber/{request.match_info['slug']}")

    async def _to_metadata(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("http://169.254.169.254/latest/meta-data/")


def _datetime(date: str) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{date}T08:00:00+03:00")
