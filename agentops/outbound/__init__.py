"""Where tenants' outbound requests may go: never to this machine, its networks or cloud metadata.

Tenant tools (HTTP, GraphQL, MCP over HTTP, gRPC) and webhooks make requests to addresses a tenant
chose. Without a check, a tenant could make the platform call 127.0.0.1 (its own admin, Redis, the
database), the private network around it, or 169.254.169.254 (the cloud's metadata service, which
hands out credentials). So every such connection goes through `address_check`:

- The host is resolved once (`resolve`, `socket.getaddrinfo`), and the connection is made to the
  addresses checked here, never to the name again: a name that answers with a public address to the
  check and with 127.0.0.1 to the connect (DNS rebinding) cannot pass. TLS still verifies the
  certificate against the host name, and the Host header (or gRPC authority) keeps it.
- The host is refused when ANY address it resolves to is forbidden, rather than connecting only to
  its allowed ones: a name that mixes public and internal addresses is either misconfigured or an
  attack, and a clear refusal serves both better than a connection that works on some attempts.
- Forbidden: loopback, private (RFC 1918, unique-local fc00::/7), link-local (169.254/16 with the
  metadata service, fe80::/10), carrier-grade NAT (100.64/10), unspecified, multicast, reserved and
  anything else not globally routable; also the IPv6 forms that carry such an IPv4 address
  (IPv4-mapped ::ffff:a.b.c.d, IPv4-compatible ::a.b.c.d, NAT64 64:ff9b::/96, 6to4 2002::/16),
  judged by the address they carry, so NAT64 to a public address still works on IPv6-only hosts.
- `settings.AGENTOPS_OUTBOUND_ALLOW` lets the platform allow some anyway: CIDRs or addresses
  ("10.20.0.0/16", "fd00::1") for any port, and host[:port] entries ("billing.internal:8443",
  "127.0.0.1:8765", "[::1]:9000") for a name as written in the URL or an address it resolves to.

Global tools are not checked: a platform admin defined them, and chose their target as they choose
the platform's own database; the check guards against tenants, not against the platform's operator.
(`tools` decides this per tool; webhooks always belong to a tenant and are always checked.)

`address_check(host, port)` is the connect-time guard, for any client that connects by itself;
`agentops.outbound.clients` plugs it into httpx. `literal_refusal` is the save-time check of a URL or
target as typed, without DNS: it catches the obvious (`localhost`, 127.0.0.1, 10.0.0.5); the
connect-time check remains the real guard.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from django.conf import settings

from agentops.errors import CodedError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

REFUSED = "outbound_address_refused"
DEFAULT_PORTS = {"http": 80, "https": 443}

# Replaced in tests to answer as a rebinding DNS server would; called as `resolve(host, port, type=...)`.
resolve = socket.getaddrinfo

_CARRIER_GRADE_NAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the IPv4 address is the last 32 bits
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated ::a.b.c.d


POLICY = (
    "tenant tools and webhooks may not reach loopback, private, link-local or metadata addresses unless the "
    "platform's AGENTOPS_OUTBOUND_ALLOW allows them."
)


class OutboundRefused(CodedError):
    """A connection the policy refuses; `details` names the host, the address and why."""

    def __init__(self, host: str, address: str, reason: str):
        super().__init__(
            REFUSED, f"Refused to connect to {_shown(host, address)}, which is {reason}: {POLICY}",
            details={"host": host, "address": address, "reason": reason},
        )


def _shown(host: str, address: str) -> str:
    return host if host == address else f"{host} ({address})"


def refusal_reason(address: IPAddress) -> str | None:
    """Why connecting to `address` is refused ("loopback", "private", ...), or None when it is not."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        reason = refusal_reason(embedded)
        return f"{reason} (in an IPv6 form)" if reason else None
    for reason, applies in (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local (cloud metadata)", address.is_link_local),
        ("multicast", address.is_multicast),
        ("carrier-grade NAT", address in _CARRIER_GRADE_NAT),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
        ("non-global", not address.is_global),
    ):
        if applies:
            return reason
    return None


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, compatible, NAT64, 6to4), if any."""
    if address.version == 4:
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_check(host: str, port: int) -> list[IPAddress]:
    """The addresses to connect to for `host`:`port`, each one checked; raises OutboundRefused.

    `host` is a name or an address (IPv6 with or without brackets). Connect to the addresses
    returned, in order, never to `host` again. A failed resolution raises `OSError`
    (`socket.gaierror`), like connecting would.
    """
    name = _normalised(host)
    addresses = _resolved(name, port)
    if _allowed_by_name(name, port):
        return addresses
    for address in addresses:
        reason = refusal_reason(address)
        if reason and not _allowed_address(address, port):
            raise OutboundRefused(name, str(address), reason)
    return addresses


def literal_refusal(host: str, port: int) -> str | None:
    """Why a host as typed in a configuration is refused, without DNS; None when it may be saved.

    Catches addresses (in any form `socket.inet_aton` reads, like 2130706433) and the names that
    always mean this machine (localhost, *.localhost). Anything else waits for `address_check`.
    """
    name = _normalised(host)
    if _allowed_by_name(name, port):
        return None
    address = _literal_address(name)
    if address is None and (name == "localhost" or name.endswith(".localhost")):
        address = ipaddress.IPv4Address("127.0.0.1")  # what it resolves to, whatever DNS says
    if address is None:
        return None
    reason = refusal_reason(address)
    if reason and not _allowed_address(address, port):
        return f"{_shown(name, str(address))} is {reason}: {POLICY}"
    return None


def url_refusal(url: str) -> str | None:
    """`literal_refusal` for the host and port of an http(s) URL; None for what it cannot read."""
    target = url_host_port(url)
    return literal_refusal(*target) if target else None


def url_host_port(url: str) -> tuple[str, int] | None:
    """The host and port an http(s) URL connects to; None when it has none (or is malformed:
    the URL's own validation says so)."""
    try:
        parts = urlsplit(url)
        port = parts.port or DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:
        return None
    if not parts.hostname or port is None:
        return None
    return parts.hostname, port


# Resolving ---------------------------------------------------------------------------------------


def _normalised(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def _literal_address(name: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        pass
    if name and all(c in "0123456789abcdefx." for c in name):
        try:  # the forms getaddrinfo accepts too: 2130706433, 0x7f.1, 127.1
            return ipaddress.IPv4Address(socket.inet_aton(name))
        except OSError:
            return None
    return None


def _resolved(name: str, port: int) -> list[IPAddress]:
    literal = _literal_address(name)
    if literal is not None:
        return [literal]
    addresses: list[IPAddress] = []
    for *_, sockaddr in resolve(name, port, type=socket.SOCK_STREAM):
        address = ipaddress.ip_address(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


# The allow-list ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Allowance:
    """One entry of AGENTOPS_OUTBOUND_ALLOW: a network, or a host name, each with an optional port."""

    network: IPNetwork | None = None
    host: str | None = None
    port: int | None = None

    def admits(self, *, port: int, name: str | None = None, address: IPAddress | None = None) -> bool:
        if self.port is not None and self.port != port:
            return False
        if name is not None:
            return self.host == name
        return self.network is not None and address is not None and address in self.network


def parse_allowance(entry: str) -> Allowance:
    """An allow-list entry: "10.0.0.0/8", "fd00::1", "host", "host:8443", "127.0.0.1:80", "[::1]:80".

    Raises ValueError for anything else (settings call this at start-up, so a typo stops the server).
    """
    text = entry.strip()
    try:
        return Allowance(network=ipaddress.ip_network(text, strict=False))
    except ValueError:
        pass
    host, port = text, None
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = _port(rest.removeprefix(":"), entry) if rest else None
    elif text.count(":") == 1:
        host, port_text = text.split(":")
        port = _port(port_text, entry)
    host = _normalised(host)
    if not host or (":" in host and _literal_address(host) is None):
        raise ValueError(f"AGENTOPS_OUTBOUND_ALLOW: cannot read {entry!r}; use a CIDR or host[:port].")
    literal = _literal_address(host)
    if literal is not None:
        return Allowance(network=ipaddress.ip_network(literal), port=port)
    return Allowance(host=host, port=port)


def _port(text: str, entry: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"AGENTOPS_OUTBOUND_ALLOW: {entry!r} has no valid port.")
    return int(text)


@lru_cache(maxsize=8)
def _allowances(entries: tuple[str, ...]) -> tuple[Allowance, ...]:
    return tuple(parse_allowance(entry) for entry in entries if entry.strip())


def allowances() -> tuple[Allowance, ...]:
    """The allow-list in force, read from settings on every call (tests override it per test)."""
    return _allowances(tuple(settings.AGENTOPS_OUTBOUND_ALLOW))


def _allowed_by_name(name: str, port: int) -> bool:
    return any(allowance.admits(port=port, name=name) for allowance in allowances())


def _allowed_address(address: IPAddress, port: int) -> bool:
    embedded = _embedded_ipv4(address)
    return any(
        allowance.admits(port=port, address=address) or (embedded and allowance.admits(port=port, address=embedded))
        for allowance in allowances()
    )
