"""What WeChat Pay's answers mean for a withdrawal: paid, not paid, or ask again."""

from __future__ import annotations

from decimal import Decimal

import pytest

from server.domain.errors import ValidationFailed
from server.integrations.payments.base import TransferState
from server.integrations.payments.wechat_outcomes import (
    fen_from,
    v2_outcome,
    v3_bill_outcome,
    v3_error_outcome,
)
from server.integrations.payments.wechat_v2 import answer_signature_is_valid
from server.integrations.payments.wechat_v3 import scene_report_infos
from server.integrations.wechat_standin_pay_v2 import v2_signature

BILL = "W00000001"


def _bill(state: str, **extra: str) -> dict[str, str]:
    return {"out_bill_no": BILL, "transfer_bill_no": "1330000001", "state": state, **extra}


@pytest.mark.parametrize(
    ("amount", "fen"),
    [("0.10", 10), ("12.34", 1234), ("1", 100), ("1999.99", 199999), ("0.3", 30)],
)
def test_cny_amounts_become_exact_fen(amount: str, fen: int) -> None:
    assert fen_from(Decimal(amount), "CNY") == fen


def test_an_amount_finer_than_a_fen_is_refused_not_rounded() -> None:
    with pytest.raises(ValidationFailed) as refused:
        fen_from(Decimal("1.005"), "CNY")
    assert refused.value.code == "invalid_transfer_amount"


@pytest.mark.parametrize("amount", ["0", "-1.00", "NaN"])
def test_a_transfer_must_move_a_positive_amount(amount: str) -> None:
    with pytest.raises(ValidationFailed):
        fen_from(Decimal(amount), "CNY")


def test_wechat_pay_transfers_only_cny() -> None:
    with pytest.raises(ValidationFailed) as refused:
        fen_from(Decimal("10.00"), "USD")
    assert refused.value.code == "unsupported_transfer_currency"


def test_a_successful_v3_bill_is_paid_with_the_wechat_bill_number() -> None:
    result = v3_bill_outcome(_bill("SUCCESS"), out_bill_no=BILL)
    assert result.state is TransferState.SUCCEEDED
    assert result.provider_reference == "1330000001"


@pytest.mark.parametrize("state", ["FAIL", "CANCELLED"])
def test_a_failed_or_cancelled_v3_bill_is_not_paid(state: str) -> None:
    result = v3_bill_outcome(_bill(state, fail_reason="ACCOUNT_FROZEN"), out_bill_no=BILL)
    assert result.state is TransferState.FAILED
    assert result.failure_code == "ACCOUNT_FROZEN"


@pytest.mark.parametrize(
    "state", ["ACCEPTED", "PROCESSING", "WAIT_USER_CONFIRM", "TRANSFERING", "CANCELING"]
)
def test_a_v3_bill_under_way_is_processing(state: str) -> None:
    assert v3_bill_outcome(_bill(state), out_bill_no=BILL).state is TransferState.PROCESSING


def test_the_package_for_the_users_confirmation_is_kept_in_the_details() -> None:
    result = v3_bill_outcome(_bill("WAIT_USER_CONFIRM", package_info="abc"), out_bill_no=BILL)
    assert result.details["package_info"] == "abc"


def test_a_v3_state_nobody_knows_is_unknown_never_paid() -> None:
    assert v3_bill_outcome(_bill("PAID_MAYBE"), out_bill_no=BILL).state is TransferState.UNKNOWN


def test_an_answer_about_another_transfer_is_unknown() -> None:
    assert v3_bill_outcome(_bill("SUCCESS"), out_bill_no="W99").state is TransferState.UNKNOWN


def test_the_encrypted_name_never_reaches_the_details() -> None:
    result = v3_bill_outcome(_bill("SUCCESS", user_name="cipher"), out_bill_no=BILL)
    assert "user_name" not in result.details


@pytest.mark.parametrize("code", ["NOT_ENOUGH", "PARAM_ERROR", "NO_AUTH", "SIGN_ERROR"])
def test_a_definite_v3_refusal_of_a_transfer_is_not_paid(code: str) -> None:
    result = v3_error_outcome(403, {"code": code, "message": "no"}, querying=False)
    assert result.state is TransferState.FAILED
    assert result.failure_code == code


@pytest.mark.parametrize(
    ("status", "answer"),
    [
        (500, {"code": "SYSTEM_ERROR", "message": "retry"}),
        (429, {"code": "FREQUENCY_LIMITED", "message": "slow down"}),
        # Also WeChat's answer to a reused out_bill_no with other parameters.
        (400, {"code": "INVALID_REQUEST", "message": "mismatch"}),
        (502, None),
    ],
)
def test_uncertain_v3_errors_are_unknown(status: int, answer: dict[str, str] | None) -> None:
    assert v3_error_outcome(status, answer, querying=False).state is TransferState.UNKNOWN


def test_a_v3_query_that_finds_nothing_is_not_found_not_failed() -> None:
    result = v3_error_outcome(404, {"code": "NOT_FOUND", "message": "记录不存在"}, querying=True)
    assert result.state is TransferState.NOT_FOUND
    assert result.failure_code == "NOT_FOUND"


def test_a_v3_query_refused_for_other_reasons_is_unknown() -> None:
    result = v3_error_outcome(403, {"code": "NO_AUTH", "message": "x"}, querying=True)
    assert result.state is TransferState.UNKNOWN


def _v2(**fields: str) -> dict[str, str]:
    return {"return_code": "SUCCESS", "result_code": "SUCCESS", **fields}


def test_a_successful_v2_transfer_is_paid_with_the_payment_number() -> None:
    result = v2_outcome(_v2(partner_trade_no=BILL, payment_no="100001"), querying=False)
    assert (result.state, result.provider_reference) == (TransferState.SUCCEEDED, "100001")


def test_a_v2_systemerror_is_unknown_and_must_be_queried() -> None:
    answer = _v2(result_code="FAIL", err_code="SYSTEMERROR", err_code_des="busy")
    assert v2_outcome(answer, querying=False).state is TransferState.UNKNOWN


@pytest.mark.parametrize("code", ["NOTENOUGH", "OPENID_ERROR", "NAME_MISMATCH", "SEND_FAILED"])
def test_a_definite_v2_refusal_is_not_paid(code: str) -> None:
    result = v2_outcome(_v2(result_code="FAIL", err_code=code), querying=False)
    assert (result.state, result.failure_code) == (TransferState.FAILED, code)


def test_a_v2_answer_with_a_failed_return_code_is_unknown() -> None:
    answer = {"return_code": "FAIL", "return_msg": "签名错误"}
    assert v2_outcome(answer, querying=False).state is TransferState.UNKNOWN


def test_a_reused_v2_number_with_other_parameters_is_unknown() -> None:
    answer = _v2(result_code="FAIL", err_code="FATAL_ERROR")
    assert v2_outcome(answer, querying=False).state is TransferState.UNKNOWN


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("SUCCESS", TransferState.SUCCEEDED),
        ("FAILED", TransferState.FAILED),
        ("PROCESSING", TransferState.PROCESSING),
        ("WHO_KNOWS", TransferState.UNKNOWN),
    ],
)
def test_the_v2_query_status_maps_to_the_transfer_state(status: str, state: TransferState) -> None:
    assert v2_outcome(_v2(status=status, detail_id="1"), querying=True).state is state


def test_a_v2_query_that_finds_nothing_is_not_found_not_failed() -> None:
    answer = _v2(result_code="FAIL", err_code="NOT_FOUND")
    assert v2_outcome(answer, querying=True).state is TransferState.NOT_FOUND


def test_a_v2_answer_signed_with_another_key_is_caught_and_an_unsigned_one_passes() -> None:
    answer = {"return_code": "SUCCESS", "result_code": "SUCCESS", "payment_no": "1"}
    assert answer_signature_is_valid(answer, "k" * 32)
    signed = {**answer, "sign": v2_signature(answer, "k" * 32)}
    assert answer_signature_is_valid(signed, "k" * 32)
    assert not answer_signature_is_valid(signed, "x" * 32)


def test_the_commission_scene_reports_the_job_and_the_description() -> None:
    assert scene_report_infos("1005", "2026年11月佣金") == [
        {"info_type": "岗位类型", "info_content": "推广员"},
        {"info_type": "报酬说明", "info_content": "2026年11月佣金"},
    ]
    assert scene_report_infos("9999", "x") == []
