"""The console's languages: zh-CN first, English as the switch; money and dates per locale.

Catalogs are gettext .po files, one per feature, read with Babel at start-up (no .mo to build).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from functools import cache
from pathlib import Path

from babel.dates import format_datetime
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal, format_percent
from jinja2 import pass_context
from jinja2.runtime import Context

from server.domain.periods import zone

LOCALE_DIR = Path(__file__).parent / "locale"
DEFAULT_LOCALE = "zh_CN"
# The source strings are English: the English "catalog" is the identity.
LOCALES = {"zh_CN": "中文", "en": "English"}
LANG_COOKIE = "fx_lang"


@cache
def catalog(locale: str) -> Mapping[str, str]:
    """msgid → translation of one locale (empty for the source language)."""
    # One .po per feature (messages.po, tiers.po, ...): features added side by side never
    # edit the same file.
    found: dict[str, str] = {}
    for path in sorted((LOCALE_DIR / locale / "LC_MESSAGES").glob("*.po")):
        with path.open("rb") as handle:
            messages = read_po(handle, locale=locale)
        found.update(
            {str(m.id): str(m.string) for m in messages if m.id and m.string and not m.fuzzy}
        )
    return found


def pick_locale(cookie_value: str | None) -> str:
    """The locale a request asked for through the language cookie, else zh-CN."""
    return cookie_value if cookie_value in LOCALES else DEFAULT_LOCALE


def translate(locale: str, message: str) -> str:
    return catalog(locale).get(message, message)


@pass_context
def gettext(context: Context, message: str) -> str:
    """Jinja's `_()` and `{% trans %}`: the template's `locale` picks the catalog."""
    return translate(context.get("locale", DEFAULT_LOCALE), message)


@pass_context
def ngettext(context: Context, singular: str, plural: str, count: int) -> str:
    return translate(context.get("locale", DEFAULT_LOCALE), singular if count == 1 else plural)


def money(amount: Decimal | str | None, currency: str, locale: str) -> str:
    """An amount with its currency sign and the currency's own decimals (JPY has none)."""
    if amount is None or amount == "":
        return "—"
    return format_currency(Decimal(str(amount)), currency, locale=locale)


def number(value: int | Decimal | str | None, locale: str) -> str:
    if value is None:
        return "—"
    return format_decimal(Decimal(str(value)), locale=locale)


def moment(value: datetime | None, time_zone: str, locale: str) -> str:
    """An instant as local wall time in the program's zone, with its UTC offset."""
    if value is None:
        return "—"
    return format_datetime(value, "yyyy-MM-dd HH:mm xxx", tzinfo=zone(time_zone), locale=locale)


def percent(value: Decimal | str | None, locale: str, *, signed: bool = False) -> str:
    """A rate (0.1234) as a percentage with up to two decimals; signed for a change."""
    if value is None or value == "":
        return "—"
    shown = format_percent(Decimal(str(value)), "#,##0.##%", locale=locale)
    return f"+{shown}" if signed and Decimal(str(value)) > 0 else shown
