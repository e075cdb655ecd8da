"""The stand-in speaks WeChat Pay API v2 transfers for real: signed XML both ways."""

from __future__ import annotations

import pytest
from wechatpy.pay.utils import calculate_signature, calculate_signature_hmac, dict_to_xml

from server.integrations.payments.standin_keys import StandInPayKeys
from server.integrations.wechat_standin_pay_v2 import (
    QUERY_PATH,
    TRANSFER_PATH,
    PayV2StandIn,
    parse_xml,
    v2_signature,
)

APPID = "wx-standin-appid"
KEYS = StandInPayKeys.generate()


@pytest.fixture
def pay() -> PayV2StandIn:
    return PayV2StandIn(keys=KEYS, appid=APPID)


def _transfer(**changes: str) -> dict[str, str]:
    return {
        "mch_appid": APPID,
        "mchid": KEYS.mchid,
        "nonce_str": "n0nce",
        "partner_trade_no": "WD0001",
        "openid": "oUser",
        "check_name": "NO_CHECK",
        "amount": "1234",
        "desc": "佣金提现",
        "spbill_create_ip": "127.0.0.1",
        **changes,
    }


def _post(
    pay: PayV2StandIn, path: str, fields: dict[str, str], key: str = KEYS.v2_api_key
) -> dict[str, str]:
    # Signed the way wechatpy signs (its own implementation, not the stand-in's).
    if fields.get("sign_type") == "HMAC-SHA256":
        sign = calculate_signature_hmac(fields, key)
    else:
        sign = calculate_signature(fields, key)
    reply = pay.handle("POST", path, dict_to_xml(fields, sign).encode())
    answer = parse_xml(reply.body)
    assert answer is not None
    return answer


def _signed_by_the_key(answer: dict[str, str]) -> bool:
    return answer["sign"] == v2_signature(answer, KEYS.v2_api_key, answer.get("sign_type") or "MD5")


def test_a_signed_transfer_is_paid_and_answered_in_signed_xml(pay: PayV2StandIn) -> None:
    answer = _post(pay, TRANSFER_PATH, _transfer())

    assert (answer["return_code"], answer["result_code"]) == ("SUCCESS", "SUCCESS")
    assert answer["payment_no"]
    assert answer["sign"] == calculate_signature(
        {k: v for k, v in answer.items() if k != "sign"}, KEYS.v2_api_key
    )


def test_hmac_sha256_signed_requests_are_accepted_and_answered_alike(pay: PayV2StandIn) -> None:
    answer = _post(pay, TRANSFER_PATH, _transfer(sign_type="HMAC-SHA256"))

    assert answer["result_code"] == "SUCCESS"
    assert answer["sign"] == v2_signature(answer, KEYS.v2_api_key, "HMAC-SHA256")


def test_a_wrong_signature_is_refused_and_nothing_is_paid(pay: PayV2StandIn) -> None:
    answer = _post(pay, TRANSFER_PATH, _transfer(), key="x" * 32)

    assert answer["return_code"] == "FAIL"
    assert pay.transfers == {}


def test_garbage_is_refused_as_bad_xml(pay: PayV2StandIn) -> None:
    answer = parse_xml(pay.handle("POST", TRANSFER_PATH, b"{not xml").body)

    assert answer is not None and answer["return_code"] == "FAIL"


def test_the_same_number_is_the_same_transfer_and_other_terms_are_refused(
    pay: PayV2StandIn,
) -> None:
    first = _post(pay, TRANSFER_PATH, _transfer())
    again = _post(pay, TRANSFER_PATH, _transfer(nonce_str="other"))
    other = _post(pay, TRANSFER_PATH, _transfer(amount="9999"))

    assert first["payment_no"] == again["payment_no"]
    assert (other["result_code"], other["err_code"]) == ("FAIL", "FATAL_ERROR")
    assert len(pay.transfers) == 1


def test_the_query_reports_the_status_or_not_found(pay: PayV2StandIn) -> None:
    pay.hold_transfers()
    held = _post(pay, TRANSFER_PATH, _transfer())
    assert held["err_code"] == "SYSTEMERROR"
    query = {"appid": APPID, "mch_id": KEYS.mchid, "nonce_str": "q", "partner_trade_no": "WD0001"}

    assert _post(pay, QUERY_PATH, query)["status"] == "PROCESSING"
    pay.settle("WD0001", succeed=False, reason="用户账户异常")
    failed = _post(pay, QUERY_PATH, query)
    assert (failed["status"], failed["reason"]) == ("FAILED", "用户账户异常")
    assert _signed_by_the_key(failed)
    missing = _post(pay, QUERY_PATH, {**query, "partner_trade_no": "WD0404"})
    assert missing["err_code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"amount": "29"}, "amount"),
        ({"check_name": "FORCE_CHECK"}, "re_user_name"),
        ({"partner_trade_no": "no-dashes"}, "partner_trade_no"),
    ],
)
def test_malformed_transfers_are_param_errors(
    pay: PayV2StandIn, change: dict[str, str], reason: str
) -> None:
    answer = _post(pay, TRANSFER_PATH, _transfer(**change))

    assert answer["err_code"] == "PARAM_ERROR" and reason in answer["err_code_des"]
