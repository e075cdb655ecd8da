"""What WeChat Pay's answers mean for a transfer, for API v3 and v2 alike; pure functions.

FAILED only when WeChat Pay definitely did not and will not pay; anything less is UNKNOWN.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from server.domain.errors import ValidationFailed
from server.integrations.payments.base import TransferResult, TransferState

TRANSFER_CURRENCY = "CNY"
FEN_PER_YUAN = 100

# API v3 merchant transfer states (商家转账 transfer-bills).
V3_SUCCEEDED_STATES = frozenset({"SUCCESS"})
V3_FAILED_STATES = frozenset({"FAIL", "CANCELLED"})
V3_PENDING_STATES = frozenset(
    {"ACCEPTED", "PROCESSING", "WAIT_USER_CONFIRM", "TRANSFERING", "CANCELING"}
)
# API v3 refusals that mean "no transfer was created". Any other error code, a 5xx, or
# INVALID_REQUEST (also WeChat's answer to a reused out_bill_no with other parameters, whose
# first transfer may exist) is UNKNOWN: the query then tells.
V3_DEFINITE_REFUSALS = frozenset(
    {"NOT_ENOUGH", "PARAM_ERROR", "NO_AUTH", "SIGN_ERROR", "ACCOUNT_FROZEN", "ACCOUNT_ERROR"}
)
V3_NOT_FOUND = "NOT_FOUND"

# API v2 企业付款 err_codes that mean "not paid, and this number will not pay".
V2_DEFINITE_REFUSALS = frozenset(
    {
        "NOTENOUGH",
        "AMOUNT_LIMIT",
        "OPENID_ERROR",
        "NAME_MISMATCH",
        "V2_ACCOUNT_SIMPLE_BAN",
        "SENDNUM_LIMIT",
        "MONEY_LIMIT",
        "PARAM_ERROR",
        "NO_AUTH",
        "SIGN_ERROR",
        "XML_ERROR",
        "CA_ERROR",
        "SEND_FAILED",
        "RECV_ACCOUNT_NOT_ALLOWED",
        "PAY_CHANNEL_NOT_ALLOWED",
    }
)
V2_NOT_FOUND = "NOT_FOUND"
V2_STATUSES = {
    "SUCCESS": TransferState.SUCCEEDED,
    "FAILED": TransferState.FAILED,
    "PROCESSING": TransferState.PROCESSING,
}
# Never copied into a result's details (encrypted or personal data, or the signature).
HIDDEN_FIELDS = frozenset({"user_name", "re_user_name", "transfer_name", "sign", "nonce_str"})


def fen_from(amount: Decimal, currency: str) -> int:
    """`amount` CNY as integer fen, exactly; WeChat Pay transfers only CNY."""
    if currency != TRANSFER_CURRENCY:
        raise ValidationFailed(
            "WeChat Pay transfers are in CNY only",
            code="unsupported_transfer_currency",
            fields={"currency": f"must be {TRANSFER_CURRENCY}, got {currency}"},
        )
    fen = amount * FEN_PER_YUAN
    if not amount.is_finite() or fen != fen.to_integral_value() or fen <= 0:
        raise ValidationFailed(
            "a transfer amount must be a positive number of fen",
            code="invalid_transfer_amount",
            fields={"amount": str(amount)},
        )
    return int(fen)


def visible_details(answer: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    """The provider's answer, safe to keep in the audit trail."""
    shown = {key: value for key, value in answer.items() if key not in HIDDEN_FIELDS}
    return {**shown, **extra}


def unknown(code: str, message: str, details: Mapping[str, Any] | None = None) -> TransferResult:
    """An outcome nobody can vouch for: the caller must query before anything else."""
    return TransferResult(
        state=TransferState.UNKNOWN,
        failure_code=code,
        failure_message=message,
        details=dict(details or {}),
    )


def not_found(details: Mapping[str, Any]) -> TransferResult:
    """WeChat Pay has no record of the transfer, so far."""
    # Not FAILED: WeChat may record a request late; the caller weighs it against the send time.
    return TransferResult(
        TransferState.NOT_FOUND,
        failure_code="NOT_FOUND",
        failure_message="WeChat Pay has no record of this transfer (yet)",
        details=dict(details),
    )


def v3_bill_outcome(answer: Mapping[str, Any], *, out_bill_no: str) -> TransferResult:
    """A verified v3 transfer bill (the transfer's or the query's answer)."""
    state = answer.get("state")
    details = visible_details(answer)
    if answer.get("out_bill_no") != out_bill_no:
        return unknown("mismatched_reply", "WeChat Pay answered about another transfer", details)
    reference = answer.get("transfer_bill_no")
    reference = reference if isinstance(reference, str) else None
    if state in V3_SUCCEEDED_STATES:
        return TransferResult(TransferState.SUCCEEDED, reference, details=details)
    if state in V3_FAILED_STATES:
        reason = answer.get("fail_reason")
        return TransferResult(
            TransferState.FAILED,
            reference,
            failure_code=reason if isinstance(reason, str) and reason else str(state),
            failure_message=f"WeChat Pay ended the transfer as {state}",
            details=details,
        )
    if state in V3_PENDING_STATES:
        return TransferResult(TransferState.PROCESSING, reference, details=details)
    return unknown("unexpected_state", f"WeChat Pay answered state {state!r}", details)


def v3_error_outcome(
    status: int, answer: Mapping[str, Any] | None, *, querying: bool
) -> TransferResult:
    """A v3 answer that is not a bill: a refusal, not-found, or trouble."""
    answer = answer or {}
    code = answer.get("code") if isinstance(answer.get("code"), str) else None
    message = str(answer.get("message") or f"WeChat Pay answered HTTP {status}")
    details = visible_details(answer, http_status=status)
    if querying and status == 404 and code == V3_NOT_FOUND:
        return not_found(details)
    if not querying and 400 <= status < 500 and code in V3_DEFINITE_REFUSALS:
        return TransferResult(
            TransferState.FAILED, failure_code=code, failure_message=message, details=details
        )
    return unknown(code or f"http_{status}", message, details)


def v2_outcome(answer: Mapping[str, Any], *, querying: bool) -> TransferResult:
    """A parsed, signature-checked v2 answer (promotion/transfers or gettransferinfo)."""
    details = visible_details(answer)
    if answer.get("return_code") != "SUCCESS":
        message = str(answer.get("return_msg") or "WeChat Pay refused the call")
        return unknown("return_code_fail", message, details)
    if answer.get("result_code") != "SUCCESS":
        code = str(answer.get("err_code") or "FAIL")
        message = str(answer.get("err_code_des") or code)
        if querying and code == V2_NOT_FOUND:
            return not_found(details)
        if not querying and code in V2_DEFINITE_REFUSALS:
            return TransferResult(
                TransferState.FAILED, failure_code=code, failure_message=message, details=details
            )
        return unknown(code, message, details)
    if not querying:
        reference = answer.get("payment_no")
        return TransferResult(
            TransferState.SUCCEEDED, str(reference) if reference else None, details=details
        )
    status = V2_STATUSES.get(str(answer.get("status")))
    reference = str(answer["detail_id"]) if answer.get("detail_id") else None
    if status is None:
        return unknown("unexpected_state", f"status {answer.get('status')!r}", details)
    if status is TransferState.FAILED:
        reason = str(answer.get("reason") or "FAILED")
        return TransferResult(
            status, reference, failure_code="FAILED", failure_message=reason, details=details
        )
    return TransferResult(status, reference, details=details)
