"""What staff type to find a promoter: a name's start, or a phone number's start or its last
digits (four or more), reduced to keys stored beside each promoter so an index answers."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

NAME_KEY_LENGTH = 64
SHORTEST_TAIL = 4  # fewer digits than "尾号 1234" would match too many phones to be useful
# Spaces and the marks written inside names (the middle dot of 阿卜杜·热合曼, hyphens, dots).
_NAME_NOISE = re.compile(r"[\s\-_.·・•'’]+")
_PHONE_NOISE = re.compile(r"[\s\-()+]+")


def name_key(name: str | None) -> str | None:
    """A name as searched: full-width folded (NFKC), case-folded, without spaces or marks."""
    if not name:
        return None
    key = _NAME_NOISE.sub("", unicodedata.normalize("NFKC", name).casefold())
    return key[:NAME_KEY_LENGTH] or None


def phone_digits(phone: str | None) -> str | None:
    """A phone number's digits, without the mainland prefix 86 of an 11-digit mobile."""
    if not phone:
        return None
    digits = "".join(ch for ch in unicodedata.normalize("NFKC", phone) if ch.isdigit())
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return digits[:32] or None


def phone_reversed(phone: str | None) -> str | None:
    """The digits backwards: the number's last digits ("尾号 1234") become a key's start."""
    digits = phone_digits(phone)
    return digits[::-1] if digits else None


@dataclass(frozen=True)
class SearchTerms:
    """The indexed lookups one typed text stands for; a promoter matching any is found."""

    name_prefix: str | None
    phone_prefix: str | None
    phone_reversed_prefix: str | None  # the typed last digits, backwards


def search_terms(text: str) -> SearchTerms:
    """Read a typed search: a name's start, and if it is a number of four digits or more,
    a phone's last digits, and from five digits on also a phone's start."""
    name = name_key(text)
    bare = _PHONE_NOISE.sub("", unicodedata.normalize("NFKC", text))
    digits = (phone_digits(bare) or "") if bare.isdigit() else ""
    if len(digits) < SHORTEST_TAIL:
        return SearchTerms(name_prefix=name, phone_prefix=None, phone_reversed_prefix=None)
    return SearchTerms(
        name_prefix=name,
        phone_prefix=digits if len(digits) > SHORTEST_TAIL else None,
        phone_reversed_prefix=digits[::-1],
    )


def prefix_bounds(prefix: str) -> tuple[str, str | None]:
    """The key range [low, high) holding every key that starts with prefix (high None: open)."""
    after = ord(prefix[-1]) + 1
    if after > 0x10FFFF:
        return prefix, None
    if 0xD800 <= after < 0xE000:  # surrogates are not characters: skip to the next one
        after = 0xE000
    return prefix, prefix[:-1] + chr(after)
