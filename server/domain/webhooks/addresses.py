"""Which endpoint URLs and addresses a webhook may be sent to (the SSRF guard's rules): only
public unicast addresses, unless private ones are allowed by setting."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from server.domain.errors import ValidationFailed

MAX_URL_LENGTH = 1024
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _refused(url: str, reason: str) -> ValidationFailed:
    return ValidationFailed(
        "this endpoint URL is not allowed",
        code="webhook_url_refused",
        fields={"url": reason},
    )


def check_url(url: str, *, allow_private: bool) -> tuple[str, str, int]:
    """(scheme, host, port) of an acceptable endpoint URL: https (http only where private
    addresses are allowed), a host, no credentials."""
    if not url or len(url) > MAX_URL_LENGTH:
        raise _refused(url, f"1..{MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _refused(url, "not a URL") from None
    allowed = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in allowed:
        raise _refused(url, "https only")
    if not parts.hostname:
        raise _refused(url, "no host")
    if parts.username or parts.password:
        raise _refused(url, "no credentials in the URL")
    if parts.fragment:
        raise _refused(url, "no fragment")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def address_problem(address: str) -> str | None:
    """Why `address` may not be called (private, loopback, …), or None for a public one."""
    ip: IpAddress = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for reason, hit in (
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("unspecified", ip.is_unspecified),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
    ):
        if hit:
            return reason
    # Shared address space (100.64/10), documentation ranges and the like.
    return None if ip.is_global else "not global"


def check_addresses(host: str, addresses: list[str], *, allow_private: bool) -> list[str]:
    """The resolved addresses of `host` when every one of them may be called."""
    if not addresses:
        raise _refused(host, "the host does not resolve")
    if allow_private:
        return addresses
    for address in addresses:
        problem = address_problem(address)
        if problem is not None:
            raise _refused(host, f"{host} resolves to a {problem} address ({address})")
    return addresses
