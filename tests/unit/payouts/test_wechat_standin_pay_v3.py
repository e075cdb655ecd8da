"""The stand-in speaks WeChat Pay API v3 for real: signed requests in, signed answers out."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from wechatpayv3.utils import build_authorization

from server.integrations.payments.standin_keys import StandInPayKeys
from server.integrations.wechat_standin_pay_v3 import (
    CERTIFICATES_PATH,
    QUERY_PREFIX,
    TRANSFER_PATH,
    PayV3StandIn,
    SignedReply,
    sign_message,
)
from server.integrations.wechat_standin_protocol import Reply

APPID = "wx-standin-appid"
KEYS = StandInPayKeys.generate()


@pytest.fixture
def pay() -> PayV3StandIn:
    return PayV3StandIn(keys=KEYS, appid=APPID)


def _transfer_body(**changes: Any) -> dict[str, Any]:
    return {
        "appid": APPID,
        "out_bill_no": "WD0001",
        "transfer_scene_id": "1005",
        "openid": "oUser",
        "transfer_amount": 1234,
        "transfer_remark": "佣金提现",
        **changes,
    }


def _call(
    pay: PayV3StandIn,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    *,
    key: StandInPayKeys = KEYS,
    extra: dict[str, str] | None = None,
    tamper: bool = False,
) -> Reply:
    text = json.dumps(body) if body is not None else ""
    authorization = build_authorization(
        path, method, key.mchid, key.merchant_cert_serial_no, key.merchant_key, data=text or None
    )
    sent = text + " " if tamper else text
    headers = {"authorization": authorization, **(extra or {})}
    return pay.handle(method, path, headers, sent.encode())


def _verifies(reply: Reply) -> bool:
    assert isinstance(reply, SignedReply)
    headers = dict(reply.headers)
    message = (
        f"{headers['Wechatpay-Timestamp']}\n{headers['Wechatpay-Nonce']}\n{reply.body.decode()}\n"
    )
    try:
        KEYS.platform_key.public_key().verify(
            base64.b64decode(headers["Wechatpay-Signature"]),
            message.encode(),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    except Exception:
        return False
    return True


def test_a_signed_transfer_gets_an_answer_signed_by_the_platform_key(pay: PayV3StandIn) -> None:
    reply = _call(pay, "POST", TRANSFER_PATH, _transfer_body())

    assert reply.status == 200
    assert json.loads(reply.body)["state"] == "SUCCESS"
    assert _verifies(reply)
    assert dict(reply.headers)["Wechatpay-Serial"] == KEYS.platform_serial_no  # type: ignore[attr-defined]


def test_merchants_on_the_public_key_get_answers_under_its_id(pay: PayV3StandIn) -> None:
    extra = {"wechatpay-serial": KEYS.public_key_id}
    reply = _call(pay, "POST", TRANSFER_PATH, _transfer_body(), extra=extra)

    assert dict(reply.headers)["Wechatpay-Serial"] == KEYS.public_key_id  # type: ignore[attr-defined]
    assert _verifies(reply)


def test_a_body_changed_after_signing_is_refused(pay: PayV3StandIn) -> None:
    reply = _call(pay, "POST", TRANSFER_PATH, _transfer_body(), tamper=True)

    assert reply.status == 401
    assert json.loads(reply.body)["code"] == "SIGN_ERROR"
    assert pay.transfers == {}


def test_another_merchants_key_is_refused(pay: PayV3StandIn) -> None:
    stranger = StandInPayKeys.generate()
    reply = _call(pay, "POST", TRANSFER_PATH, _transfer_body(), key=stranger)

    assert reply.status == 401


def test_a_stale_signature_is_refused(pay: PayV3StandIn) -> None:
    path, timestamp, nonce = QUERY_PREFIX + "WD0001", str(int(time.time()) - 3600), "N0NCE"
    signature = sign_message(KEYS.merchant_key, f"GET\n{path}\n{timestamp}\n{nonce}\n\n")
    authorization = (
        f'WECHATPAY2-SHA256-RSA2048 mchid="{KEYS.mchid}",nonce_str="{nonce}",'
        f'signature="{signature}",timestamp="{timestamp}",'
        f'serial_no="{KEYS.merchant_cert_serial_no}"'
    )

    reply = pay.handle("GET", path, {"authorization": authorization}, b"")

    assert reply.status == 401
    assert "timestamp" in json.loads(reply.body)["message"]


def test_the_platform_certificate_is_served_encrypted_with_the_apiv3_key(
    pay: PayV3StandIn,
) -> None:
    reply = _call(pay, "GET", CERTIFICATES_PATH)

    entry = json.loads(reply.body)["data"][0]
    sealed = entry["encrypt_certificate"]
    pem = AESGCM(KEYS.apiv3_key.encode()).decrypt(
        sealed["nonce"].encode(),
        base64.b64decode(sealed["ciphertext"]),
        sealed["associated_data"].encode(),
    )
    certificate = x509.load_pem_x509_certificate(pem)
    assert format(certificate.serial_number, "X") == entry["serial_no"] == KEYS.platform_serial_no


def test_the_same_bill_number_is_the_same_transfer_and_other_terms_are_refused(
    pay: PayV3StandIn,
) -> None:
    first = json.loads(_call(pay, "POST", TRANSFER_PATH, _transfer_body()).body)
    again = json.loads(_call(pay, "POST", TRANSFER_PATH, _transfer_body()).body)
    other = _call(pay, "POST", TRANSFER_PATH, _transfer_body(transfer_amount=9999))

    assert first["transfer_bill_no"] == again["transfer_bill_no"]
    assert other.status == 400
    assert json.loads(other.body)["code"] == "INVALID_REQUEST"
    assert len(pay.transfers) == 1


def test_a_query_for_an_unknown_bill_is_not_found(pay: PayV3StandIn) -> None:
    reply = _call(pay, "GET", QUERY_PREFIX + "WD0404")

    assert reply.status == 404
    assert json.loads(reply.body)["code"] == "NOT_FOUND"
    assert _verifies(reply)


def test_a_held_transfer_waits_for_the_user_then_settles(pay: PayV3StandIn) -> None:
    pay.hold_transfers()
    created = json.loads(_call(pay, "POST", TRANSFER_PATH, _transfer_body()).body)
    assert created["state"] == "WAIT_USER_CONFIRM"
    assert created["package_info"]

    pay.settle("WD0001", state="CANCELLED")

    queried = json.loads(_call(pay, "GET", QUERY_PREFIX + "WD0001").body)
    assert (queried["state"], queried["transfer_amount"]) == ("CANCELLED", 1234)
    with pytest.raises(ValueError):
        pay.settle("WD0001")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"transfer_amount": 5}, "transfer_amount"),
        ({"out_bill_no": "bad-no!"}, "out_bill_no"),
        ({"transfer_remark": "x" * 33}, "transfer_remark"),
        ({"transfer_amount": 200_000}, "user_name"),
    ],
)
def test_malformed_transfers_are_param_errors(
    pay: PayV3StandIn, change: dict[str, Any], reason: str
) -> None:
    reply = _call(pay, "POST", TRANSFER_PATH, _transfer_body(**change))

    assert reply.status == 400
    answer = json.loads(reply.body)
    assert answer["code"] == "PARAM_ERROR" and reason in answer["message"]
