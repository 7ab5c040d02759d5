"""The SSRF guard: outbound webhook requests reach public addresses only.

A webhook URL is chosen by whoever registers it, so without a guard the engine could
be made to POST into its own network: a database admin page on ``10.0.0.5``, a
loopback-only service, the cloud metadata endpoint (``169.254.169.254``) that hands out
credentials. Refused are private, loopback, link-local, multicast, reserved,
unspecified, documentation and benchmarking ranges, shared address space (CGNAT,
``100.64.0.0/10``), the IPv6 forms that embed such an IPv4 address (IPv4-mapped
``::ffff:a.b.c.d``, IPv4-compatible ``::a.b.c.d``, NAT64 ``64:ff9b::/96``, 6to4
``2002::/16``), Teredo, and the known cloud metadata addresses, unless an address lies
in ``allow_networks``. Those IPv6 forms are judged by their IPv4 address even when
``allow_networks`` names it (``127.0.0.1/32`` does not open ``2002:7f00:1::``, which
6to4 routes off the machine); only an IPv6 entry naming the IPv6 address allows one.
A metadata address is only allowed by an allowlist entry naming exactly that address
(``169.254.169.254/32``): allowing ``169.254.0.0/16`` for link-local devices does not
open the metadata endpoint by accident.

The check applies to the address actually connected to, so DNS rebinding (a name that
resolves to a public address when checked and to ``127.0.0.1`` when used) does not get
through: :class:`GuardedBackend` is an httpcore network backend whose ``connect_tcp``
resolves the host itself, vets every address, and connects to a vetted IP. httpcore
still does TLS with the URL's host name (SNI and certificate checks), and httpx sends
the URL's host in the ``Host`` header, so receivers behind virtual hosts and CDNs work
as usual. Addresses that fail the check are skipped; the connection is refused when
none is left. Proxies from the environment are never used.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import anyio
import httpcore
import httpx

from ..errors import ConfigError, EncountersError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
#: ``async (host, port) -> [ip, ...]``; the default asks the system resolver.
Resolver = Callable[[str, int], Awaitable[list[str]]]


class DestinationRefused(EncountersError, httpx.ConnectError):
    """A webhook request was refused before connecting: its host resolves only to
    addresses the SSRF guard forbids (and ``allow_networks`` does not allow)."""

    def __init__(self, host: str, problems: list[str]) -> None:
        self.host = host
        self.problems = problems
        detail = "; ".join(problems) or "no address"
        super().__init__(
            f"refused to connect to {host!r}: {detail}; webhooks may only reach public "
            "addresses (add the network to allow_networks to permit it)"
        )


def _nets(*cidrs: str) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(c) for c in cidrs)


#: Cloud metadata services (AWS, GCP, Azure, Oracle, Alibaba, ECS/EKS task roles).
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",
        "169.254.170.2",
        "169.254.170.23",
        "168.63.129.16",
        "100.100.100.200",
        "192.0.0.192",
        "fd00:ec2::254",
        "fd00:ec2::23",
    )
)

# Explicit ranges (first match wins), so the verdict does not depend on which Python
# version's ``ipaddress`` tables are installed; the ``is_*`` flags are checked after.
_V4_RANGES: tuple[tuple[tuple[IPNetwork, ...], str], ...] = (
    (_nets("0.0.0.0/8"), "an unspecified ('this network') address"),
    (_nets("127.0.0.0/8"), "a loopback address"),
    (_nets("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"), "a private address"),
    (_nets("100.64.0.0/10"), "a shared (carrier-grade NAT) address"),
    (_nets("169.254.0.0/16"), "a link-local address"),
    (_nets("224.0.0.0/4"), "a multicast address"),
    (_nets("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"), "a documentation address"),
    (_nets("198.18.0.0/15"), "a benchmarking address"),
    (_nets("192.0.0.0/24", "192.88.99.0/24", "240.0.0.0/4"), "a reserved address"),
)
_V6_RANGES: tuple[tuple[tuple[IPNetwork, ...], str], ...] = (
    (_nets("::/128"), "an unspecified address"),
    (_nets("::1/128"), "a loopback address"),
    (_nets("fc00::/7", "64:ff9b:1::/48"), "a private (unique local) address"),
    (_nets("fe80::/10", "fec0::/10"), "a link-local or site-local address"),
    (_nets("ff00::/8"), "a multicast address"),
    (_nets("2001::/32"), "a Teredo tunnel address"),
    (_nets("2001:db8::/32", "3fff::/20"), "a documentation address"),
    (_nets("100::/64"), "a discard-only address"),
    (_nets("2001::/23"), "a reserved (IETF protocol) address"),
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_V4_COMPAT = ipaddress.IPv6Network("::/96")


def parse_networks(cidrs: Iterable[str]) -> tuple[IPNetwork, ...]:
    """``["127.0.0.0/8", "10.1.2.3"]`` -> networks; a bad entry raises
    :class:`ConfigError` naming it."""
    out = []
    for i, text in enumerate(cidrs):
        try:
            out.append(ipaddress.ip_network(str(text).strip(), strict=False))
        except ValueError:
            raise ConfigError(
                f"allow_networks[{i}]: {text!r} is not an IP network; write it as CIDR, "
                "e.g. 10.0.0.0/8 or fd00::/8"
            ) from None
    return tuple(out)


def embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for: IPv4-mapped, IPv4-compatible,
    NAT64 (well-known prefix) or 6to4; ``None`` otherwise."""
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64 or (ip in _V4_COMPAT and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _classify(ip: IPAddress) -> str | None:
    ranges = _V4_RANGES if isinstance(ip, ipaddress.IPv4Address) else _V6_RANGES
    for nets, reason in ranges:
        if any(ip in net for net in nets):
            return reason
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_private:
        return "a private address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_reserved:
        return "a reserved address"
    if not ip.is_global:
        return "not a public address"
    return None


def address_problem(
    address: str | IPAddress, allow_networks: Iterable[IPNetwork] = ()
) -> str | None:
    """Why a webhook may not connect to ``address`` (``"127.0.0.1 is a loopback
    address"``), or ``None`` when it may. IPv6 forms embedding an IPv4 address are
    judged by that IPv4 address, and an allowed IPv4 network does not allow them: only
    an IPv6 network in ``allow_networks`` naming the address itself does. An address in
    ``allow_networks`` is allowed (a cloud metadata address only by an entry naming
    exactly it)."""
    try:
        ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    except ValueError:
        return f"{address!r} is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id:
        ip = ipaddress.IPv6Address(str(ip).split("%", 1)[0])
    v4 = embedded_ipv4(ip)
    candidates: list[IPAddress] = [ip] if v4 is None else [ip, v4]
    allow = list(allow_networks)

    def allowed(exact: bool) -> bool:
        # only the address itself: an allowed IPv4 network never opens the IPv6 forms
        # that embed it (6to4 and NAT64 route off this machine)
        return any(
            ip.version == net.version and ip in net and (not exact or net.num_addresses == 1)
            for net in allow
        )

    if any(c in METADATA_ADDRESSES for c in candidates):
        return None if allowed(exact=True) else f"{ip} is a cloud metadata endpoint"
    if allowed(exact=False):
        return None
    reason = _classify(v4) if v4 is not None else _classify(ip)
    if reason is None:
        return None
    text = address if isinstance(address, str) else str(ip)
    shown = f"{text} (which is {v4})" if v4 is not None else text
    return f"{shown} is {reason}"


async def system_resolve(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for ``host``, in its order, once each."""
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    out: list[str] = []
    for *_, sockaddr in infos:
        addr = str(sockaddr[0])
        if addr not in out:
            out.append(addr)
    return out


async def vetted_addresses(
    host: str,
    port: int,
    allow_networks: Iterable[IPNetwork] = (),
    resolver: Resolver | None = None,
) -> list[str]:
    """The addresses of ``host`` a webhook may connect to, in resolver order.

    Raises :class:`DestinationRefused` when none is allowed, and :class:`OSError`
    (``socket.gaierror``) when the host cannot be resolved."""
    allow = list(allow_networks)
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        ipaddress.ip_address(bare.split("%", 1)[0])
    except ValueError:
        try:
            addresses = await (resolver or system_resolve)(bare, port)
        except (UnicodeError, ValueError):
            raise socket.gaierror(socket.EAI_NONAME, f"{bare!r} is not a valid host name") from None
    else:
        addresses = [bare]
    good: list[str] = []
    problems: list[str] = []
    for addr in addresses:
        problem = address_problem(addr, allow)
        if problem is None:
            good.append(addr)
        elif problem not in problems:
            problems.append(problem)
    if not good:
        raise DestinationRefused(bare, problems)
    return good


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that connects only to vetted addresses.

    ``connect_tcp(host, port)`` resolves ``host``, drops forbidden addresses (raising
    :class:`DestinationRefused` if none is left) and asks the wrapped backend to
    connect to each vetted IP in turn, within the connect timeout. ``start_tls`` is
    then called by httpcore on the returned stream with the original host name, so SNI
    and certificate verification are those of the URL. Unix sockets are refused."""

    def __init__(
        self,
        allow_networks: Iterable[IPNetwork] = (),
        *,
        resolver: Resolver | None = None,
        backend: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self.allow_networks = tuple(allow_networks)
        self._resolver = resolver
        self._inner = backend or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        options = list(socket_options or ())
        try:
            with anyio.fail_after(timeout):
                try:
                    addresses = await vetted_addresses(
                        host, port, self.allow_networks, self._resolver
                    )
                except OSError as exc:
                    raise httpcore.ConnectError(f"cannot resolve {host!r}: {exc}") from None
                last: Exception | None = None
                for ip in addresses:
                    try:
                        return await self._inner.connect_tcp(
                            ip,
                            port,
                            timeout=timeout,
                            local_address=local_address,
                            socket_options=options,
                        )
                    except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                        last = exc
                assert last is not None  # vetted_addresses never returns an empty list
                raise last
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"connecting to {host!r} timed out") from None

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise DestinationRefused(path, ["unix sockets are not allowed"])

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


# httpcore errors -> httpx errors, most specific first (what httpx's own transport does).
_ERRORS: tuple[tuple[type[Exception], type[httpx.HTTPError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextmanager
def _mapped_errors() -> Iterator[None]:
    try:
        yield
    except DestinationRefused:
        raise
    except Exception as exc:
        for core, mapped in _ERRORS:
            if isinstance(exc, core):
                raise mapped(str(exc)) from exc
        raise


class _ResponseStream(httpx.AsyncByteStream):
    def __init__(self, stream: AsyncIterable[bytes]) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _mapped_errors():
            async for part in self._stream:
                yield part

    async def aclose(self) -> None:
        close = getattr(self._stream, "aclose", None)
        if close is not None:
            await close()


class GuardedTransport(httpx.AsyncBaseTransport):
    """An httpx transport over an httpcore connection pool that uses
    :class:`GuardedBackend`: every new connection is vetted (pooled connections were
    vetted when they were opened). No proxies, HTTP/1.1."""

    def __init__(
        self,
        allow_networks: Iterable[IPNetwork] = (),
        *,
        resolver: Resolver | None = None,
        verify: ssl.SSLContext | str | bool = True,
        limits: httpx.Limits | None = None,
        backend: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        limits = limits or httpx.Limits(max_connections=100, max_keepalive_connections=20)
        self.backend = GuardedBackend(allow_networks, resolver=resolver, backend=backend)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=False,
            network_backend=self.backend,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _mapped_errors():
            response = await self._pool.handle_async_request(core_request)
        assert isinstance(response.stream, AsyncIterable)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_ResponseStream(response.stream),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()


def guarded_client(
    allow_networks: Iterable[IPNetwork] = (),
    *,
    timeout: float = 10.0,
    connect_timeout: float = 5.0,
    resolver: Resolver | None = None,
    verify: ssl.SSLContext | str | bool = True,
) -> httpx.AsyncClient:
    """An httpx client for webhook deliveries: SSRF-guarded connections, redirects not
    followed, no proxies or settings from the environment, bounded timeouts."""
    return httpx.AsyncClient(
        transport=GuardedTransport(allow_networks, resolver=resolver, verify=verify),
        trust_env=False,
        follow_redirects=False,
        timeout=httpx.Timeout(timeout, connect=min(connect_timeout, timeout)),
    )
