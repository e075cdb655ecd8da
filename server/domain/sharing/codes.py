"""Human-typed codes (invite, referral, voucher, share-link scenes): generation and rules."""

from __future__ import annotations

import re
import secrets

# No 0/O, 1/I/L: codes are read aloud in videos and typed from posters.
UNAMBIGUOUS_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{2,31}$")
SCENE_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ"
# The longest share-link short code stored (ShareLink.short_code): a longer one names no link.
SHORT_CODE_MAX_LENGTH = 16


def normalize_code(code: str) -> str:
    """The form uniqueness and look-ups use: codes are case-insensitive."""
    return code.strip().upper()


def is_valid_custom_code(code: str) -> bool:
    """3–32 characters of letters, digits, '-' and '_', starting with a letter or digit."""
    return bool(CODE_PATTERN.fullmatch(code.strip()))


def generate_code(length: int = 8) -> str:
    """A random code of unambiguous characters (31^8 ≈ 8.5e11 possibilities)."""
    return "".join(secrets.choice(UNAMBIGUOUS_ALPHABET) for _ in range(length))


def generate_scene(length: int = 10) -> str:
    """A short case-sensitive id that fits a wxacode scene (≤ 32 characters)."""
    return "".join(secrets.choice(SCENE_ALPHABET) for _ in range(length))
