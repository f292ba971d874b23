"""The SSRF guard: a feed's item may point anywhere, so a page is fetched only from a host the
admin configured (a feed's own host) or from one whose every address is public.

The check runs where the connection is made (an httpcore network backend), so redirects are
covered, and the connection goes to the address that was checked, so a name that resolves
to a public address for the check and a private one for the connection (DNS rebinding)
gains nothing.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable

import httpcore
import httpx


class RefusedAddress(httpcore.ConnectError):
    """The host may not be connected to; the message says why (and nothing was sent)."""


class AddressPolicy:
    """Trusted hosts (the feeds' own) may be anything, loopback included; any other host
    must resolve to public addresses only."""

    def __init__(self, trusted_hosts: Iterable[str] = ()) -> None:
        self.trusted = frozenset(host.lower() for host in trusted_hosts)

    async def vetted_address(self, host: str, port: int) -> str:
        """The address to connect to for `host`; RefusedAddress when it is not allowed."""
        host = host.lower().strip("[]")
        if host in self.trusted:
            return host
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except OSError as err:
            raise httpcore.ConnectError(f"cannot resolve {host}: {err}") from err
        addresses = [str(info[4][0]) for info in infos]
        for address in addresses:
            if not is_public(address):
                raise RefusedAddress(
                    f"refused: {host} resolves to a non-public address ({address})"
                )
        if not addresses:
            raise httpcore.ConnectError(f"cannot resolve {host}")
        return addresses[0]


def is_public(address: str) -> bool:
    """Whether an IP address is globally routable: not loopback, private, link-local
    (169.254.169.254, the cloud metadata service), shared, reserved or multicast."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's own backend, connecting only to vetted addresses."""

    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        address = await self.policy.vetted_address(host, port)
        return await self.inner.connect_tcp(
            address,
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over the guarded backend. No proxy from the environment: the guard
    must see the real destination. (httpx offers no public way to choose the network
    backend; its connection pool is replaced with one that uses ours.)"""

    def __init__(self, policy: AddressPolicy, limits: httpx.Limits) -> None:
        super().__init__(trust_env=False, limits=limits)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_GuardedBackend(policy),
        )
