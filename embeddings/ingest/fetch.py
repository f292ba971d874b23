"""Polite, bounded HTTP for feeds and pages.

Every request names qabot in its User-Agent, waits its turn (at most `per_host` requests in
flight to one host), honours robots.txt, has connect and read timeouts and a deadline for the
whole exchange, follows at most `max_redirects` redirects (each hop checked again), and reads
at most `max_page_bytes`: a larger body is refused as soon as that many bytes have arrived,
never downloaded whole. Anything that goes wrong is a `FetchError` whose message is the
one-line reason shown to the admin.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from embeddings.ingest.config import IngestConfig
from embeddings.ingest.network import AddressPolicy, GuardedTransport, RefusedAddress
from embeddings.ingest.robots import MAX_ROBOTS_BYTES, RobotsRules, rules_from_response
from embeddings.ingest.urls import BadURL, check_web_url, host_of

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
PAGE_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"


class FetchError(Exception):
    """A request that gave no usable response; the message is the reason, in one line."""


@dataclass(frozen=True)
class Response:
    url: str  # after redirects
    status: int
    headers: httpx.Headers
    body: bytes  # empty unless the status is 200

    @property
    def content_type_header(self) -> str:
        return self.headers.get("content-type", "")

    @property
    def content_type(self) -> str:
        """The media type alone, lower-case ("text/html")."""
        return self.content_type_header.split(";", 1)[0].strip().lower()


class Fetcher:
    """One HTTP client for a round; `async with` closes it."""

    def __init__(self, config: IngestConfig, trusted_hosts: Iterable[str] = ()) -> None:
        self.config = config
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=16)
        self._policy = AddressPolicy(trusted_hosts)
        self.client = httpx.AsyncClient(
            transport=GuardedTransport(self._policy, limits),
            headers={"User-Agent": config.user_agent, "Accept-Language": "tr,en;q=0.7"},
            timeout=httpx.Timeout(config.read_timeout, connect=config.connect_timeout, pool=None),
            follow_redirects=False,
        )
        self._hosts: dict[str, asyncio.Semaphore] = collections.defaultdict(
            lambda: asyncio.Semaphore(config.per_host)
        )
        self._robots: dict[str, asyncio.Task[RobotsRules]] = {}

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self._robots.values():
            task.cancel()
        await asyncio.gather(*self._robots.values(), return_exceptions=True)
        await self.client.aclose()

    async def get(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        max_bytes: int | None = None,
        robots: bool = True,
    ) -> Response:
        """GET `url`, redirects followed; any final status comes back (the caller judges it).
        `robots`: refuse what robots.txt disallows (FetchError)."""
        deadline = self.config.request_deadline
        try:
            async with asyncio.timeout(deadline):
                return await self._follow(url, headers or {}, max_bytes, robots)
        except TimeoutError:
            raise FetchError(f"timed out (no complete response in {deadline:g} s)") from None

    async def _follow(
        self, url: str, headers: Mapping[str, str], max_bytes: int | None, robots: bool
    ) -> Response:
        for _ in range(self.config.max_redirects + 1):
            try:
                url = check_web_url(url)
            except BadURL as err:
                raise FetchError(str(err)) from None
            await self._check_address(url)
            if robots and (refusal := await self.robots_refusal(url)):
                raise FetchError(refusal)
            response = await self._request(url, headers, max_bytes or self.config.max_page_bytes)
            location = response.headers.get("location")
            if response.status not in REDIRECT_STATUSES or not location:
                return response
            url = urljoin(url, location)
        raise FetchError(f"too many redirects (more than {self.config.max_redirects})")

    async def _check_address(self, url: str) -> None:
        """Refuse a forbidden host before anything is sent to it, robots.txt included (the
        transport refuses it again when it connects)."""
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        try:
            await self._policy.vetted_address(parts.hostname or "", port)
        except httpcore.ConnectError as err:  # refused, or the name does not resolve
            raise FetchError(str(err)) from None

    async def _request(self, url: str, headers: Mapping[str, str], max_bytes: int) -> Response:
        async with self._hosts[host_of(url)]:
            try:
                async with self.client.stream("GET", url, headers=headers) as response:
                    body = b""
                    if response.status_code == 200:
                        body = await _read_capped(response, max_bytes)
                    return Response(str(response.url), response.status_code, response.headers, body)
            except httpx.ConnectTimeout:
                raise FetchError(
                    f"timed out connecting to {host_of(url)} ({self.config.connect_timeout:g} s)"
                ) from None
            except httpx.TimeoutException:
                raise FetchError(
                    f"timed out waiting for {host_of(url)} ({self.config.read_timeout:g} s)"
                ) from None
            except httpx.ConnectError as err:
                if isinstance(err.__cause__, RefusedAddress):
                    raise FetchError(str(err.__cause__)) from None
                raise FetchError(f"cannot connect to {host_of(url)}: {err}") from None
            except httpx.HTTPError as err:
                raise FetchError(f"{type(err).__name__}: {err}") from None

    async def robots_refusal(self, url: str) -> str | None:
        """Why robots.txt forbids `url`, or None; each origin's file is read once."""
        parts = urlsplit(url)
        origin = f"{parts.scheme.lower()}://{parts.netloc.lower()}"
        task = self._robots.get(origin)
        if task is None:
            task = self._robots[origin] = asyncio.create_task(self._read_robots(origin))
        rules = await asyncio.shield(task)
        return rules.refusal(url, self.config.user_agent)

    async def _read_robots(self, origin: str) -> RobotsRules:
        try:
            response = await self.get(
                f"{origin}/robots.txt", max_bytes=MAX_ROBOTS_BYTES, robots=False
            )
        except FetchError as err:
            return rules_from_response(None, b"", str(err))
        return rules_from_response(response.status, response.body)


async def _read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    """The body, or FetchError as soon as it is known to exceed `max_bytes` (the declared
    length, or the bytes received so far): the rest is never downloaded."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(f"too large ({_mib(int(declared))}; limit {_mib(max_bytes)})")
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > max_bytes:
            raise FetchError(f"too large (over {_mib(max_bytes)}; not downloaded further)")
    return bytes(body)


def _mib(size: int) -> str:
    return f"{size / 1_048_576:.1f} MiB" if size >= 1_048_576 else f"{size / 1024:.0f} KiB"
