"""Spend records: what one needs to be valid, and spend CSV files read row by row with every
refusal named by row and column (all or nothing)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from server.domain.errors import ValidationFailed
from server.domain.money import MAX_AMOUNT, exponent, read_decimal

MAX_CSV_ROWS = 5000
CSV_COLUMNS = ("day", "amount", "sub_account_id", "channel_id", "utm_campaign", "note")


@dataclass(frozen=True)
class SpendEntry:
    """One day's spend, on at most one of a sub-account, a channel or a campaign."""

    day: date
    amount: Decimal
    promoter_id: int | None = None
    channel_id: int | None = None
    utm_campaign: str | None = None
    note: str = ""


def spend_errors(entry: SpendEntry, *, currency: str) -> dict[str, str]:
    """What is wrong with an entry, by field (empty when it may be recorded)."""
    errors: dict[str, str] = {}
    places = exponent(currency)
    if entry.amount <= 0 or entry.amount > MAX_AMOUNT:
        errors["amount"] = "a positive amount"
    elif entry.amount != entry.amount.quantize(Decimal(1).scaleb(-places)):
        errors["amount"] = f"at most {places} decimals in {currency}"
    targets = [entry.promoter_id, entry.channel_id, entry.utm_campaign]
    if sum(target is not None for target in targets) > 1:
        errors["sub_account_id"] = "one of sub_account_id, channel_id, utm_campaign at most"
    if entry.utm_campaign is not None and not 1 <= len(entry.utm_campaign) <= 64:
        errors["utm_campaign"] = "1 to 64 characters"
    if len(entry.note) > 255:
        errors["note"] = "at most 255 characters"
    return errors


def _whole(text: str) -> int | None:
    return int(text) if text.isdigit() and 0 < len(text) <= 18 else None


def read_spend_csv(text: str, *, currency: str) -> list[SpendEntry]:
    """Every row of a spend CSV (header: CSV_COLUMNS, `day` and `amount` required), or a
    ValidationFailed naming each bad cell as `row N.column`."""
    try:
        return _read_rows(text, currency=currency)
    except csv.Error as unreadable:  # a NUL byte, an unclosed quote, an oversized field
        raise ValidationFailed(
            "the CSV cannot be read", code="invalid_spend_csv", fields={"csv": str(unreadable)}
        ) from None


def _read_rows(text: str, *, currency: str) -> list[SpendEntry]:
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff")))
    missing = {"day", "amount"} - set(reader.fieldnames or ())
    if missing:
        raise ValidationFailed(
            "the CSV needs a header with day and amount",
            code="invalid_spend_csv",
            fields={"header": "columns: " + ", ".join(CSV_COLUMNS)},
        )
    entries: list[SpendEntry] = []
    errors: dict[str, str] = {}
    for number, row in enumerate(reader, start=2):
        if number - 1 > MAX_CSV_ROWS:
            raise ValidationFailed(
                f"at most {MAX_CSV_ROWS} rows per file",
                code="invalid_spend_csv",
                fields={"rows": str(MAX_CSV_ROWS)},
            )
        cells = {key: (value or "").strip() for key, value in row.items() if key}
        found: dict[str, str] = {}
        try:
            day = date.fromisoformat(cells.get("day", ""))
        except ValueError:
            found["day"], day = "YYYY-MM-DD", date.min
        amount = read_decimal(cells.get("amount", ""))
        if amount is None:
            found["amount"], amount = "a decimal amount", Decimal(1)
        ids = {}
        for column in ("sub_account_id", "channel_id"):
            raw = cells.get(column, "")
            ids[column] = _whole(raw) if raw else None
            if raw and ids[column] is None:
                found[column] = "a positive whole number"
        entry = SpendEntry(
            day=day,
            amount=amount,
            promoter_id=ids["sub_account_id"],
            channel_id=ids["channel_id"],
            utm_campaign=cells.get("utm_campaign") or None,
            note=cells.get("note", ""),
        )
        found = {**spend_errors(entry, currency=currency), **found}
        errors.update({f"row {number}.{column}": why for column, why in found.items()})
        entries.append(entry)
    if errors:
        raise ValidationFailed("the CSV has invalid rows", code="invalid_spend_csv", fields=errors)
    if not entries:
        raise ValidationFailed(
            "the CSV has no rows", code="invalid_spend_csv", fields={"rows": "at least one"}
        )
    return entries
