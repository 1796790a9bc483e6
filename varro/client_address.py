"""Which client address a request comes from, for the budgets kept per address (varro/chat/ratelimit.py).

The peer (the socket's other end) is the client, unless it is a reverse proxy listed in `VARRO_TRUSTED_PROXIES`.
Then `X-Forwarded-For` is read from its right-hand end: each proxy appends the address it saw, so hops are skipped
while they are trusted proxies and the first one that is not is the client. Everything left of it was written by
the client and could be anything; reading the header's left end would let any client pick its own address.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

log = logging.getLogger(__name__)

Network = IPv4Network | IPv6Network
IPV6_SITE = 64  # one customer's IPv6 site is a /64 at least: its addresses share one budget, or it could pick anew


def parse_proxies(text: str) -> list[Network]:
    """`VARRO_TRUSTED_PROXIES`: comma-separated addresses or networks (`10.0.0.5, 10.1.0.0/16`); ValueError if one
    is neither (a typo must not silently trust nothing, or everything)."""
    return [ipaddress.ip_network(entry.strip()) for entry in text.split(",") if entry.strip()]


def parse_ip(text: str) -> IPv4Address | IPv6Address | None:
    """An address as proxies write it (`1.2.3.4`, `1.2.3.4:5678`, `[::1]:80`, `::1`); None if it is not one."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, IPv6Address) and ip.ipv4_mapped is not None:  # `::ffff:1.2.3.4` on a dual-stack socket
        return ip.ipv4_mapped
    return ip


def budget_key(ip: IPv4Address | IPv6Address) -> str:
    """The key an address spends from: itself (IPv4), or its /64 (IPv6)."""
    if isinstance(ip, IPv6Address):
        return str(IPv6Network((ip, IPV6_SITE), strict=False))
    return str(ip)


class ClientAddresses:
    """Resolves a request's client address from its peer and `X-Forwarded-For` headers."""

    def __init__(self, trusted: Sequence[Network] = ()) -> None:
        self.trusted = list(trusted)
        self._warned = False

    def is_trusted(self, ip: IPv4Address | IPv6Address | None) -> bool:
        return ip is not None and any(ip in net for net in self.trusted)

    def of(self, peer: str | None, forwarded_for: Sequence[str] = ()) -> str:
        """The budget key of the client: see the module's docstring. A peer that is no IP address (a Unix socket, a
        test client) is its own text; none at all is "unknown"."""
        ip = parse_ip(peer or "")
        if ip is None:
            return peer or "unknown"
        if not self.is_trusted(ip):
            if forwarded_for and not self.trusted:
                self._warn(peer or "")
            return budget_key(ip)
        hops = [hop for header in forwarded_for for hop in header.split(",") if hop.strip()]
        for hop in reversed(hops):
            ip_hop = parse_ip(hop)
            if ip_hop is None:  # not an address a proxy of ours wrote: stop at the last one that did
                break
            ip = ip_hop
            if not self.is_trusted(ip):
                break
        return budget_key(ip)

    def _warn(self, peer: str) -> None:
        if not self._warned:
            self._warned = True
            log.warning("requests from %s carry X-Forwarded-For, but VARRO_TRUSTED_PROXIES is empty: every client "
                        "behind that proxy shares its address's budgets; list the proxy there", peer)
