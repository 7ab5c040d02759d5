"""The client's address behind trusted reverse proxies (``AE_BRIDGE_TRUSTED_PROXIES``).

The edge's per-address protections (the cap on connections not identified yet, the
bad-key back-off, the frame budget before identify) key on the client's address. Behind
a reverse proxy every socket comes from the proxy, so the daemon reads the
``X-Forwarded-For`` header, but only from peers it was told to trust: anyone can send
the header, and believing it from anyone would let a key guesser pick a fresh address
for every try.

:func:`client_address` walks the header from the right (the entry the nearest proxy
appended) and skips trusted hops; the first untrusted address is the client. The
leftmost entries are whatever the client wrote, so they count only when every hop to
their right is trusted. An entry that is not an IP address stops the walk at the last
trusted hop: garbage never becomes an address, and a client cannot hide behind it.
Limits: only ``X-Forwarded-For`` is read (not RFC 7239 ``Forwarded``), entries are bare
IP addresses (no ports, no brackets), and IPv4-mapped IPv6 addresses are read as IPv4.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

Network = IPv4Network | IPv6Network


def parse_networks(entries: str | Iterable[str]) -> tuple[Network, ...]:
    """IP addresses or CIDR networks, as a comma-separated string or a list, as
    networks (an address is a network of one). Raises ``ValueError`` naming the first
    entry that is neither (host bits set in a CIDR count as a mistake: ``10.0.0.1/8``)."""
    items = entries.split(",") if isinstance(entries, str) else list(entries)
    networks: list[Network] = []
    for item in items:
        if isinstance(entries, str) and not item.strip():
            continue  # "a, b,": a trailing comma is not an entry
        entry = item.strip() if isinstance(item, str) else item
        try:
            if not isinstance(entry, str):
                raise ValueError("not a string")
            network = ipaddress.ip_network(entry)
        except ValueError as exc:
            raise ValueError(f"{entry!r} is not an IP address or a CIDR network ({exc})") from None
        networks.append(_unmapped_network(network))
    return tuple(networks)


def client_address(peer: str, forwarded_for: Iterable[str], trusted: Sequence[Network]) -> str:
    """The client's address: ``peer`` (the socket's) unless it is a trusted proxy, then
    the rightmost untrusted address of the ``X-Forwarded-For`` values (one per header
    line, each a comma list), or the last trusted hop when the walk meets an entry
    that is not an address or runs out. Without ``trusted`` the header is ignored."""
    hop = _address(peer)
    if hop is None:  # not an IP peer (a Unix socket, none at all): nothing to trust
        return peer
    if not _trusted(hop, trusted):
        return str(hop)
    entries = [
        entry.strip() for value in forwarded_for if value.strip() for entry in value.split(",")
    ]
    for entry in reversed(entries):
        address = _address(entry)
        if address is None:
            break
        hop = address
        if not _trusted(hop, trusted):
            break
    return str(hop)


def _address(text: str) -> IPv4Address | IPv6Address | None:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: IPv4Address | IPv6Address, trusted: Sequence[Network]) -> bool:
    return any(address in network for network in trusted)


def _unmapped_network(network: Network) -> Network:
    """``::ffff:10.0.0.0/104`` as ``10.0.0.0/8``: addresses are compared unmapped."""
    if isinstance(network, IPv6Network) and network.prefixlen >= 96:
        mapped = network.network_address.ipv4_mapped
        if mapped is not None:
            return IPv4Network((mapped, network.prefixlen - 96))
    return network


__all__ = ["Network", "client_address", "parse_networks"]
