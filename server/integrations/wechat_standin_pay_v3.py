"""The stand-in's WeChat Pay API v3: the merchant transfer ("商家转账") as WeChat speaks it,
with signed requests and answers; transfers are kept by out_bill_no.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from server.integrations.payments.standin_keys import StandInPayKeys
from server.integrations.wechat_standin_protocol import Reply

TRANSFER_PATH = "/v3/fund-app/mch-transfer/transfer-bills"
QUERY_PREFIX = TRANSFER_PATH + "/out-bill-no/"
CERTIFICATES_PATH = "/v3/certificates"
SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
MAX_CLOCK_SKEW_SECONDS = 300
OUT_BILL_NO = re.compile(r"[0-9A-Za-z]{5,32}")
MIN_AMOUNT_FEN = 10
MAX_REMARK_LENGTH = 32
# Names above this amount must be given (and are checked), as WeChat requires.
NAME_REQUIRED_FROM_FEN = 200_000
CHINA = timezone(timedelta(hours=8))
WAITING_STATES = frozenset({"ACCEPTED", "PROCESSING", "WAIT_USER_CONFIRM", "TRANSFERING"})
FINAL_STATES = frozenset({"SUCCESS", "FAIL", "CANCELLED"})
_AUTH_FIELD = re.compile(r'(\w+)="([^"]*)"')


@dataclass(frozen=True)
class SignedReply(Reply):
    """A reply carrying extra HTTP headers (the Wechatpay-* signature)."""

    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class TransferBill:
    """One merchant transfer as WeChat Pay keeps it."""

    out_bill_no: str
    transfer_bill_no: str
    appid: str
    openid: str
    amount_fen: int
    remark: str
    scene_id: str
    user_name: str | None
    state: str
    fail_reason: str | None
    created_at: datetime
    updated_at: datetime

    def same_request(self, other: TransferBill) -> bool:
        return (self.appid, self.openid, self.amount_fen, self.remark, self.scene_id) == (
            other.appid,
            other.openid,
            other.amount_fen,
            other.remark,
            other.scene_id,
        )


def _now() -> datetime:
    return datetime.now(UTC).astimezone(CHINA)


def _rfc3339(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def sign_message(key: RSAPrivateKey, message: str) -> str:
    """SHA256withRSA over `message`, base64: both directions of API v3 sign this way."""
    signature = key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


class PayV3StandIn:
    """WeChat Pay API v3 for one merchant (`keys`) and the app `appid`."""

    def __init__(self, *, keys: StandInPayKeys, appid: str) -> None:
        self.keys = keys
        self.appid = appid
        self._lock = threading.Lock()
        self._bills: dict[str, TransferBill] = {}
        self._holding: str | None = None
        # Bills taken (and paid) but not yet visible to queries: WeChat recording them late.
        self._unrecorded: set[str] = set()

    # -- what tests observe and control ---------------------------------------------------

    @property
    def transfers(self) -> dict[str, TransferBill]:
        with self._lock:
            return dict(self._bills)

    def hold_transfers(self, state: str = "WAIT_USER_CONFIRM") -> None:
        """New transfers stay in `state` (ACCEPTED, PROCESSING, WAIT_USER_CONFIRM) until settled."""
        if state not in WAITING_STATES:
            raise ValueError(f"{state!r} is not a waiting state")
        with self._lock:
            self._holding = state

    def settle(
        self, out_bill_no: str, *, state: str = "SUCCESS", reason: str | None = None
    ) -> None:
        """Finish a waiting transfer as SUCCESS, FAIL or CANCELLED (as the user or bank did)."""
        if state not in FINAL_STATES:
            raise ValueError(f"{state!r} is not a final state")
        with self._lock:
            bill = self._bills[out_bill_no]
            if bill.state not in WAITING_STATES:
                raise ValueError(f"transfer {out_bill_no} is already {bill.state}")
            fail_reason = None if state == "SUCCESS" else (reason or "TRANSFER_REJECTED")
            self._bills[out_bill_no] = replace(
                bill, state=state, fail_reason=fail_reason, updated_at=_now()
            )

    def record_late_transfers(self) -> None:
        """Bills taken with `record_late` become visible to queries."""
        with self._lock:
            self._unrecorded.clear()

    def forget(self) -> None:
        with self._lock:
            self._bills.clear()
            self._unrecorded.clear()
            self._holding = None

    # -- serving --------------------------------------------------------------------------

    @staticmethod
    def handles(path: str) -> bool:
        return path.startswith("/v3/")

    def handle(
        self,
        method: str,
        target: str,
        headers: dict[str, str],
        body: bytes,
        *,
        record_late: bool = False,
    ) -> Reply:
        """The signed answer to one API v3 request (`target` is the path with its query);
        a bill created with `record_late` is invisible to queries until recorded."""
        refusal = self._check_authorization(method, target, headers, body)
        if refusal is not None:
            return self._signed(headers, 401, {"code": "SIGN_ERROR", "message": refusal})
        path = target.split("?", 1)[0]
        if method == "GET" and path == CERTIFICATES_PATH:
            return self._signed(headers, 200, self._certificates())
        if method == "POST" and path == TRANSFER_PATH:
            status, payload = self._transfer(headers, body, record_late=record_late)
            return self._signed(headers, status, payload)
        if method == "GET" and path.startswith(QUERY_PREFIX):
            status, payload = self._query(path.removeprefix(QUERY_PREFIX))
            return self._signed(headers, status, payload)
        return self._signed(headers, 404, {"code": "NOT_FOUND", "message": "no such API"})

    def fault(self, kind: str, headers: dict[str, str]) -> Reply:
        """A business fault answered in protocol (signed, like a real refusal)."""
        if kind == "not_enough":
            return self._signed(headers, 403, {"code": "NOT_ENOUGH", "message": "资金不足"})
        return self._signed(
            headers, 500, {"code": "SYSTEM_ERROR", "message": "系统错误，请使用原参数重试"}
        )

    def forged(self, reply: Reply, headers: dict[str, str]) -> Reply:
        """`reply` with a signature made by a key that is not WeChat Pay's."""
        impostor = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return self._signed_with(impostor, headers, reply.status, reply.body)

    # -- the protocol ---------------------------------------------------------------------

    def _check_authorization(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> str | None:
        scheme, _, fields_text = headers.get("authorization", "").partition(" ")
        if scheme != SIGNATURE_TYPE:
            return "Authorization is not WECHATPAY2-SHA256-RSA2048"
        fields = dict(_AUTH_FIELD.findall(fields_text))
        if fields.get("mchid") != self.keys.mchid:
            return "unknown mchid"
        if fields.get("serial_no") != self.keys.merchant_cert_serial_no:
            return "unknown merchant certificate serial_no"
        try:
            skew = abs(time.time() - int(fields.get("timestamp", "")))
        except ValueError:
            return "bad timestamp"
        if skew > MAX_CLOCK_SKEW_SECONDS:
            return "timestamp out of range"
        try:
            message = "\n".join(
                (method, target, fields["timestamp"], fields.get("nonce_str", ""), body.decode())
            )
            signature = base64.b64decode(fields.get("signature", ""), validate=True)
            self.keys.merchant_key.public_key().verify(
                signature, (message + "\n").encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except (InvalidSignature, ValueError):
            return "signature verification failed"
        return None

    def _signed(self, headers: dict[str, str], status: int, payload: dict[str, Any]) -> Reply:
        body = json.dumps(payload, ensure_ascii=False).encode()
        return self._signed_with(self.keys.platform_key, headers, status, body)

    def _signed_with(
        self, key: RSAPrivateKey, headers: dict[str, str], status: int, body: bytes
    ) -> Reply:
        timestamp, nonce = str(int(time.time())), secrets.token_hex(16).upper()
        # Merchants on the WeChat Pay public key name it in Wechatpay-Serial; WeChat then
        # signs with it. The others verify against the platform certificate.
        if headers.get("wechatpay-serial") == self.keys.public_key_id:
            serial = self.keys.public_key_id
        else:
            serial = self.keys.platform_serial_no
        signature = sign_message(key, f"{timestamp}\n{nonce}\n{body.decode()}\n")
        return SignedReply(
            status,
            body,
            "application/json; charset=utf-8",
            headers=(
                ("Request-ID", secrets.token_hex(16)),
                ("Wechatpay-Nonce", nonce),
                ("Wechatpay-Serial", serial),
                ("Wechatpay-Signature", signature),
                ("Wechatpay-Signature-Type", SIGNATURE_TYPE),
                ("Wechatpay-Timestamp", timestamp),
            ),
        )

    def _certificates(self) -> dict[str, Any]:
        nonce = secrets.token_hex(6)
        associated_data = "certificate"
        ciphertext = AESGCM(self.keys.apiv3_key.encode()).encrypt(
            nonce.encode(), self.keys.platform_certificate.encode(), associated_data.encode()
        )
        now = _now()
        return {
            "data": [
                {
                    "serial_no": self.keys.platform_serial_no,
                    "effective_time": _rfc3339(now - timedelta(days=1)),
                    "expire_time": _rfc3339(now + timedelta(days=3650)),
                    "encrypt_certificate": {
                        "algorithm": "AEAD_AES_256_GCM",
                        "nonce": nonce,
                        "associated_data": associated_data,
                        "ciphertext": base64.b64encode(ciphertext).decode(),
                    },
                }
            ]
        }

    def _transfer(
        self, headers: dict[str, str], body: bytes, *, record_late: bool = False
    ) -> tuple[int, dict[str, Any]]:
        try:
            request = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            request = None
        if not isinstance(request, dict):
            return 400, {"code": "PARAM_ERROR", "message": "body is not a JSON object"}
        invalid = self._invalid_transfer(request, headers)
        if invalid is not None:
            return 400, {"code": "PARAM_ERROR", "message": invalid}
        if request.get("appid") != self.appid:
            return 400, {"code": "INVALID_REQUEST", "message": "APPID不存在"}
        user_name = request.get("user_name")
        if isinstance(user_name, str):
            try:
                user_name = self._decrypt(user_name)
            except ValueError:
                return 400, {"code": "PARAM_ERROR", "message": "user_name cannot be decrypted"}
        now = _now()
        with self._lock:
            candidate = TransferBill(
                out_bill_no=request["out_bill_no"],
                transfer_bill_no=f"1330000{secrets.randbelow(10**30):030d}",
                appid=request["appid"],
                openid=request["openid"],
                amount_fen=request["transfer_amount"],
                remark=request["transfer_remark"],
                scene_id=request["transfer_scene_id"],
                user_name=user_name,
                state=self._holding or "SUCCESS",
                fail_reason=None,
                created_at=now,
                updated_at=now,
            )
            existing = self._bills.get(candidate.out_bill_no)
            if existing is not None and not existing.same_request(candidate):
                return 400, {
                    "code": "INVALID_REQUEST",
                    "message": "商户单号重复，且请求参数与首次请求不一致",
                }
            bill = existing or candidate
            self._bills[bill.out_bill_no] = bill
            if existing is None and record_late:
                self._unrecorded.add(bill.out_bill_no)
        answer: dict[str, Any] = {
            "out_bill_no": bill.out_bill_no,
            "transfer_bill_no": bill.transfer_bill_no,
            "create_time": _rfc3339(bill.created_at),
            "state": bill.state,
        }
        if bill.state == "WAIT_USER_CONFIRM":
            answer["package_info"] = base64.b64encode(
                f"standin:{bill.transfer_bill_no}".encode()
            ).decode()
        if bill.fail_reason:
            answer["fail_reason"] = bill.fail_reason
        return 200, answer

    @staticmethod
    def _invalid_transfer(request: dict[str, Any], headers: dict[str, str]) -> str | None:
        out_bill_no = request.get("out_bill_no")
        if not isinstance(out_bill_no, str) or not OUT_BILL_NO.fullmatch(out_bill_no):
            return "out_bill_no must be 5-32 letters or digits"
        if not isinstance(request.get("openid"), str) or not request["openid"]:
            return "openid is required"
        if not isinstance(request.get("transfer_scene_id"), str):
            return "transfer_scene_id is required"
        amount = request.get("transfer_amount")
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < MIN_AMOUNT_FEN:
            return f"transfer_amount must be an integer of at least {MIN_AMOUNT_FEN} fen"
        remark = request.get("transfer_remark")
        if not isinstance(remark, str) or not remark or len(remark) > MAX_REMARK_LENGTH:
            return f"transfer_remark must be 1-{MAX_REMARK_LENGTH} characters"
        user_name = request.get("user_name")
        if amount >= NAME_REQUIRED_FROM_FEN and not user_name:
            return "user_name is required from 2000 CNY"
        if user_name is not None and not headers.get("wechatpay-serial"):
            return "an encrypted user_name needs the Wechatpay-Serial header"
        return None

    def _decrypt(self, ciphertext: str) -> str:
        oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
        try:
            return self.keys.platform_key.decrypt(base64.b64decode(ciphertext), oaep).decode()
        except Exception as exc:  # any failure means "not for this key"
            raise ValueError("cannot decrypt") from exc

    def _query(self, out_bill_no: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            bill = None if out_bill_no in self._unrecorded else self._bills.get(out_bill_no)
        if bill is None:
            return 404, {"code": "NOT_FOUND", "message": "记录不存在"}
        answer: dict[str, Any] = {
            "mch_id": self.keys.mchid,
            "out_bill_no": bill.out_bill_no,
            "transfer_bill_no": bill.transfer_bill_no,
            "appid": bill.appid,
            "state": bill.state,
            "transfer_amount": bill.amount_fen,
            "transfer_remark": bill.remark,
            "openid": bill.openid,
            "create_time": _rfc3339(bill.created_at),
            "update_time": _rfc3339(bill.updated_at),
        }
        if bill.fail_reason:
            answer["fail_reason"] = bill.fail_reason
        return 200, answer
