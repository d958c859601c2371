"""Where a webhook may go (SSRF): in production only `https` to public addresses; the dev
configuration also allows loopback (`http` or `https`), for a receiver on the same machine.

Checked when a subscription is made (the URL and what its host resolves to) and again at
every delivery, where the request then goes to the address that was checked (no second
lookup a rebinding DNS server could answer differently).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
LOOKUP_S = 2.0


class TargetRefused(Exception):
    """The URL may not be a webhook target; the message says why (no secrets in it)."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class Target:
    url: str
    scheme: str
    host: str
    port: int


def parse(url: str, *, allow_loopback: bool) -> Target:
    """The URL's parts, or `TargetRefused` for a scheme, credentials or fragment it may not
    have. Addresses are checked by `check_addresses` (after a lookup)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise TargetRefused("invalid_url", "not a valid URL") from None
    host = parts.hostname
    if parts.scheme not in ("https", "http") or not host:
        raise TargetRefused("invalid_url", "an absolute https URL is required")
    if parts.username or parts.password:
        raise TargetRefused("credentials_in_url", "a URL may not carry credentials")
    if parts.fragment:
        raise TargetRefused("invalid_url", "a URL may not carry a fragment")
    if parts.scheme == "http" and not allow_loopback:
        raise TargetRefused("https_required", "only https targets are allowed")
    return Target(url=url, scheme=parts.scheme, host=host,
                  port=port or (443 if parts.scheme == "https" else 80))


def _forbidden(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        # An IPv4 address inside an IPv6 one (mapped, or 6to4 that a relay unwraps) is
        # judged as that IPv4 address; site-local (fec0::/10) is inside by definition.
        if address.ipv4_mapped is not None:
            return _forbidden(address.ipv4_mapped)
        if address.sixtofour is not None and _forbidden(address.sixtofour):
            return True
        if address.is_site_local:
            return True
    return (address.is_private or address.is_loopback or address.is_link_local
            or address.is_multicast or address.is_reserved or address.is_unspecified
            or not address.is_global)


def check_addresses(target: Target, addresses: list[IPAddress], *,
                    allow_loopback: bool) -> IPAddress:
    """The address to connect to; every address the host has must be allowed (a name with
    one private address among public ones could be steered there)."""
    if not addresses:
        raise TargetRefused("unresolvable_host", f"the host {target.host} does not resolve")
    for address in addresses:
        if allow_loopback and address.is_loopback:
            continue
        if target.scheme == "http":
            raise TargetRefused("https_required",
                                "http is allowed only to a loopback address (dev configuration)")
        if _forbidden(address):
            raise TargetRefused("forbidden_address", f"the host {target.host} resolves to a "
                                "loopback, private, link-local or reserved address")
    return addresses[0]


async def resolve(target: Target) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(target.host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        # Bounded: a name server that does not answer must not hold a request or a delivery.
        infos = await asyncio.wait_for(
            loop.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM), LOOKUP_S)
    except (OSError, TimeoutError, UnicodeError):  # UnicodeError: a label IDNA cannot encode
        return []
    found: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found


async def checked(url: str, *, allow_loopback: bool) -> tuple[Target, IPAddress]:
    """The target and the checked address to send to, or `TargetRefused`."""
    target = parse(url, allow_loopback=allow_loopback)
    address = check_addresses(target, await resolve(target), allow_loopback=allow_loopback)
    return target, address
