"""Manual adjustments of a promoter's available balance: reason codes, amount rules and the
rows of a bulk CSV upload (rules in docs/design/ledger.md).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from decimal import Decimal
from enum import StrEnum

from server.domain.errors import ValidationFailed
from server.domain.money import CURRENCY_EXPONENTS, read_decimal

MAX_ADJUSTMENT_AMOUNT = Decimal("1000000.00")
MAX_MEMO_LENGTH = 255
MAX_BATCH_ROWS = 5000
MAX_UPLOAD_BYTES = 2 * 1024 * 1024
REQUIRED_COLUMNS = ("promoter_id", "amount", "currency", "reason_code")
OPTIONAL_COLUMNS = ("memo",)


class ReasonCode(StrEnum):
    BONUS = "bonus"
    CORRECTION = "correction"
    PENALTY = "penalty"
    CHARGEBACK = "chargeback"
    GOODWILL = "goodwill"
    DISPUTE_RESOLUTION = "dispute_resolution"
    OTHER = "other"


_R = ReasonCode
CREDIT_ONLY = frozenset({_R.BONUS, _R.GOODWILL})
DEBIT_ONLY = frozenset({_R.PENALTY, _R.CHARGEBACK})
MEMO_REQUIRED = frozenset({_R.OTHER})


@dataclass(frozen=True)
class RowError:
    """One problem in one row of an upload (row 1 is the header)."""

    row: int
    field: str
    code: str
    message: str

    def to_dict(self) -> dict[str, str | int]:
        return asdict(self)


@dataclass(frozen=True)
class AdjustmentDraft:
    """An adjustment that passed every rule that needs no database."""

    promoter_id: int
    amount: Decimal
    currency: str
    reason_code: ReasonCode
    memo: str
    row: int = 0


def _amount_problems(raw: object, currency: str) -> tuple[Decimal | None, list[tuple[str, str]]]:
    value = read_decimal(raw)
    if value is None:
        return None, [("invalid_amount", "not a decimal amount")]
    if value == 0:
        return None, [("amount_zero", "an adjustment cannot be zero")]
    if abs(value) > MAX_ADJUSTMENT_AMOUNT:
        return None, [("amount_out_of_range", f"at most {MAX_ADJUSTMENT_AMOUNT} either way")]
    places = CURRENCY_EXPONENTS.get(currency, 2)
    if value != value.quantize(Decimal(1).scaleb(-places)):
        return None, [("invalid_amount", f"at most {places} decimals in {currency}")]
    return value.quantize(Decimal(1).scaleb(-places)), []


def adjustment_problems(
    *,
    amount: object,
    currency: str,
    program_currency: str,
    reason_code: str,
    memo: str | None,
) -> tuple[list[tuple[str, str, str]], Decimal | None, ReasonCode | None]:
    """Every rule the values break as (field, code, message), the parsed amount and reason."""
    problems: list[tuple[str, str, str]] = []
    if currency not in CURRENCY_EXPONENTS:
        problems.append(("currency", "unknown_currency", f"unknown currency {currency!r}"))
    elif currency != program_currency:
        problems.append(
            (
                "currency",
                "currency_mismatch",
                f"the program counts in {program_currency}, not {currency}",
            )
        )
    value, amount_issues = _amount_problems(amount, program_currency)
    problems.extend(("amount", code, message) for code, message in amount_issues)
    try:
        reason: ReasonCode | None = ReasonCode(reason_code.strip())
    except ValueError:
        reason = None
        problems.append(
            ("reason_code", "unknown_reason_code", "one of " + ", ".join(r.value for r in _R))
        )
    text = (memo or "").strip()
    if len(text) > MAX_MEMO_LENGTH:
        problems.append(("memo", "memo_too_long", f"at most {MAX_MEMO_LENGTH} characters"))
    if reason in MEMO_REQUIRED and not text:
        problems.append(("memo", "memo_required", f"a memo is required for {reason}"))
    if value is not None and reason is not None:
        if reason in CREDIT_ONLY and value < 0:
            problems.append(("amount", "sign_not_allowed", f"a {reason} can only credit"))
        if reason in DEBIT_ONLY and value > 0:
            problems.append(("amount", "sign_not_allowed", f"a {reason} can only debit"))
    return problems, value, reason


def check_adjustment(
    *,
    promoter_id: int,
    amount: object,
    currency: str,
    program_currency: str,
    reason_code: str,
    memo: str | None,
) -> AdjustmentDraft:
    """A single adjustment's draft, or a coded 422 naming the first broken rule and all fields."""
    problems, value, reason = adjustment_problems(
        amount=amount,
        currency=currency,
        program_currency=program_currency,
        reason_code=reason_code,
        memo=memo,
    )
    if problems:
        _, code, message = problems[0]
        raise ValidationFailed(
            message, code=code, fields={field: message for field, _, message in problems}
        )
    assert value is not None and reason is not None
    return AdjustmentDraft(promoter_id, value, currency, reason, (memo or "").strip())


def _header_errors(header: list[str] | None) -> list[RowError]:
    if not header:
        return [RowError(1, "header", "csv_empty", "the file has no header row")]
    names = [name.strip() for name in header]
    errors = [
        RowError(1, column, "column_missing", f"the header lacks {column}")
        for column in REQUIRED_COLUMNS
        if column not in names
    ]
    known = set(REQUIRED_COLUMNS) | set(OPTIONAL_COLUMNS)
    errors += [
        RowError(1, name or "header", "column_unknown", f"unknown column {name!r}")
        for name in names
        if name not in known
    ]
    if len(set(names)) != len(names):
        errors.append(RowError(1, "header", "column_repeated", "a column appears twice"))
    return errors


def _row_draft(
    line: int, row: dict[str, str], program_currency: str
) -> tuple[AdjustmentDraft | None, list[RowError]]:
    errors: list[RowError] = []
    raw_id = (row.get("promoter_id") or "").strip()
    promoter_id = int(raw_id) if raw_id.isdigit() and int(raw_id) > 0 else None
    if promoter_id is None:
        errors.append(RowError(line, "promoter_id", "invalid_promoter_id", "a positive id"))
    problems, value, reason = adjustment_problems(
        amount=row.get("amount") or "",
        currency=(row.get("currency") or "").strip().upper(),
        program_currency=program_currency,
        reason_code=row.get("reason_code") or "",
        memo=row.get("memo"),
    )
    errors += [RowError(line, field, code, message) for field, code, message in problems]
    if errors or promoter_id is None or value is None or reason is None:
        return None, errors
    memo = (row.get("memo") or "").strip()
    return AdjustmentDraft(promoter_id, value, program_currency, reason, memo, line), []


def parse_adjustment_csv(
    text: str, *, program_currency: str
) -> tuple[list[AdjustmentDraft], list[RowError]]:
    """The drafts of an upload and every row error (drafts are only usable if no errors)."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    header = next(reader, None)
    errors = _header_errors(header)
    if errors:
        return [], errors
    assert header is not None
    names = [name.strip() for name in header]
    drafts: list[AdjustmentDraft] = []
    for index, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(names):
            errors.append(RowError(index, "row", "column_count", f"expected {len(names)} cells"))
            continue
        draft, row_errors = _row_draft(
            index, dict(zip(names, cells, strict=True)), program_currency
        )
        errors += row_errors
        if draft is not None:
            drafts.append(draft)
    if not drafts and not errors:
        errors.append(RowError(2, "row", "csv_no_rows", "the file has no adjustment rows"))
    if len(drafts) + len({e.row for e in errors}) > MAX_BATCH_ROWS:
        errors.append(RowError(1, "row", "too_many_rows", f"at most {MAX_BATCH_ROWS} rows"))
    return drafts, errors


def missing_promoter_errors(
    drafts: Iterable[AdjustmentDraft], known_promoter_ids: set[int]
) -> list[RowError]:
    """A row error for each draft whose promoter is not in the program."""
    return [
        RowError(d.row, "promoter_id", "promoter_not_in_program", "no such promoter here")
        for d in drafts
        if d.promoter_id not in known_promoter_ids
    ]
