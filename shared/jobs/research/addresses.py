"""Which addresses the research reader may connect to, and how a host name becomes addresses.

A source URL comes from a web search, so it is untrusted: the reader must never reach the metadata
server, Redis on the VPC or anything else that is not on the public Internet. `is_public` refuses every
address that is not globally reachable, in every spelling: an IPv6 address that carries an IPv4 one
(IPv4-mapped, IPv4-compatible, NAT64, 6to4) is judged by the IPv4 inside it, because that is where a
dual-stack socket, a NAT64 gateway or a 6to4 relay would deliver the packets. Python 3.11's `is_global`
alone is not enough (it calls `::127.0.0.1`, `64:ff9b::7f00:1`, `2002:7f00:1::` and multicast global).

The resolver is a collaborator so that a test can play a DNS server that changes its answer (rebinding).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Protocol

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Not globally reachable per the IANA special-purpose registries, yet `is_global` on Python 3.11 says so.
_V4_EXTRA = tuple(ipaddress.ip_network(n) for n in ("192.0.0.0/24", "192.88.99.0/24"))
_V6_EXTRA = tuple(ipaddress.ip_network(n) for n in ("5f00::/16", "3fff::/20", "fec0::/10"))
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Local-use NAT64 (RFC 8215): where the IPv4 sits depends on a prefix length only the local network
# knows, and by definition it is not global: refused whatever it carries.
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
# Teredo: not globally reachable per IANA, and its client address is obfuscated: refused outright.
_TEREDO = ipaddress.ip_network("2001::/32")
_COMPATIBLE = ipaddress.ip_network("::/96")


class Resolver(Protocol):
    async def resolve(self, host: str, port: int) -> list[str]:
        """The addresses `host` has for a TCP connection to `port`, in the order to try them."""
        ...


class SystemResolver:
    """The operating system's resolver (getaddrinfo), without blocking the event loop."""

    async def resolve(self, host: str, port: int) -> list[str]:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return list(dict.fromkeys(str(info[4][0]) for info in infos))


def parse(text: str) -> IPAddress | None:
    """`text` as an IP address (an IPv6 zone such as `%eth0` allowed), or None."""
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, compatible, NAT64 or 6to4), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _COMPATIBLE or address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def _public_v4(address: ipaddress.IPv4Address) -> bool:
    return (
        address.is_global
        and not address.is_private
        and not address.is_multicast
        and not address.is_reserved
        and not address.is_loopback
        and not address.is_link_local
        and not address.is_unspecified
        and not any(address in net for net in _V4_EXTRA)
    )


def _public_v6(address: ipaddress.IPv6Address) -> bool:
    return (
        address.scope_id is None
        and address.is_global
        and not address.is_private
        and not address.is_multicast
        and not address.is_reserved
        and not address.is_loopback
        and not address.is_link_local
        and not address.is_site_local
        and not address.is_unspecified
        and not any(address in net for net in _V6_EXTRA)
    )


def is_public(address: IPAddress) -> bool:
    """Whether the reader may connect to `address`: globally reachable, and so is any IPv4 inside it."""
    if isinstance(address, ipaddress.IPv4Address):
        return _public_v4(address)
    if address in _NAT64_LOCAL or address in _TEREDO:
        return False
    inner = embedded_ipv4(address)
    if inner is not None:
        return _public_v4(inner)
    return _public_v6(address)


def connect_form(address: str) -> str:
    """The address to open a socket to: an IPv4-mapped IPv6 address as the IPv4 it stands for."""
    parsed = parse(address)
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    return address
