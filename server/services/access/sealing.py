"""Personal data sealed at rest: Fernet encryption keyed by S2S_KEY_ENCRYPTION_KEY (as API-key
secrets are) and a keyed hash for equality matching (docs/design/access.md)."""

from __future__ import annotations

import functools
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from server.config import Settings

SEALED_PREFIX = "fx1:"  # marks ciphertext, so a value written before sealing still reads

_configured: list[str] = []


@functools.lru_cache(maxsize=8)
def cipher(encryption_keys: str) -> MultiFernet:
    """The Fernet keys of a comma-separated setting; the first encrypts, all decrypt."""
    return MultiFernet([Fernet(key.strip()) for key in encryption_keys.split(",") if key.strip()])


def configure_sealing(settings: Settings) -> None:
    """Use the settings' keys in this process (the app and the CLI call it at start)."""
    _configured[:] = [settings.s2s_key_encryption_key]


def _keys() -> str:
    if not _configured:
        configure_sealing(Settings.from_env())
    return _configured[0]


def seal(plain: str | None) -> str | None:
    """`plain` encrypted for storage (None and '' stay as they are)."""
    if not plain:
        return plain
    return SEALED_PREFIX + cipher(_keys()).encrypt(plain.encode("utf-8")).decode()


def unseal(stored: str | None) -> str | None:
    """The plain value of a stored one; None when no configured key opens it."""
    if not stored or not stored.startswith(SEALED_PREFIX):
        return stored
    try:
        return cipher(_keys()).decrypt(stored[len(SEALED_PREFIX) :].encode()).decode("utf-8")
    except InvalidToken:
        return None


def keyed_hash(plain: str) -> str:
    """HMAC-SHA256 of `plain` under the first key: equal values match, the value stays hidden."""
    key = hashlib.sha256(b"fenxiao-keyed-hash\n" + _keys().split(",")[0].strip().encode())
    return hmac.new(key.digest(), plain.encode("utf-8"), hashlib.sha256).hexdigest()


def sealed_account_number(number: str | None) -> dict[str, str | None]:
    """The withdrawal columns for a bank account number: sealed, and its keyed hash (compared
    without spaces, as the fraud scans match accounts)."""
    digits = "".join((number or "").split())
    return {
        "account_number": seal(number),
        "account_number_hash": keyed_hash(digits) if digits else None,
    }
