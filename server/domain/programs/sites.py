"""Rules of a program's sites: the hostname as stored and compared, and label lengths."""

from __future__ import annotations

import re

from server.domain.errors import ValidationFailed

MAX_SITE_NAME_LENGTH = 128
MAX_MARKET_LENGTH = 32
_HOSTNAME_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def normalize_hostname(raw: str) -> str:
    """A site's domain in the form it is stored and compared: lower-case ASCII (IDNs as
    punycode), no trailing dot; at least two labels and a non-numeric top-level label."""
    candidate = raw.strip().rstrip(".").lower()
    try:
        ascii_form = candidate.encode("idna").decode("ascii")
    except UnicodeError:
        ascii_form = ""
    labels = ascii_form.split(".")
    valid = (
        0 < len(ascii_form) <= 253
        and len(labels) >= 2
        and all(_HOSTNAME_LABEL.fullmatch(label) for label in labels)
        and not labels[-1].isdigit()
    )
    if not valid:
        raise ValidationFailed(
            "not a valid hostname",
            code="invalid_domain",
            fields={"domain": "must be a hostname such as shop.example.com"},
        )
    return ascii_form


def site_label_errors(*, name: str | None, market: str | None) -> dict[str, str]:
    """Length problems of a site's name and market (None = not being set)."""
    errors: dict[str, str] = {}
    if name is not None and len(name) > MAX_SITE_NAME_LENGTH:
        errors["name"] = f"at most {MAX_SITE_NAME_LENGTH} characters"
    if market is not None and len(market) > MAX_MARKET_LENGTH:
        errors["market"] = f"at most {MAX_MARKET_LENGTH} characters"
    return errors
