"""The stand-in's WeChat Pay API v2 "企业付款到零钱" (promotion/transfers and gettransferinfo).

Unlike real WeChat it signs its answers, so a provider checking signatures has something to check.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

from server.integrations.payments.standin_keys import StandInPayKeys
from server.integrations.wechat_standin_protocol import Reply

TRANSFER_PATH = "/mmpaymkttransfers/promotion/transfers"
QUERY_PATH = "/mmpaymkttransfers/gettransferinfo"
MIN_AMOUNT_FEN = 30
CHECK_NAME_OPTIONS = frozenset({"NO_CHECK", "FORCE_CHECK", "OPTION_CHECK"})
CHINA = timezone(timedelta(hours=8))
XML_CONTENT_TYPE = "text/xml; charset=utf-8"


def v2_signature(fields: Mapping[str, str], api_key: str, sign_type: str = "MD5") -> str:
    """WeChat Pay v2's sign: non-empty fields sorted, `&key=` appended, MD5 or HMAC-SHA256."""
    pairs = [f"{name}={fields[name]}" for name in sorted(fields) if fields[name] and name != "sign"]
    text = "&".join([*pairs, f"key={api_key}"]).encode()
    if sign_type == "HMAC-SHA256":
        return hmac.new(api_key.encode(), text, hashlib.sha256).hexdigest().upper()
    return hashlib.md5(text).hexdigest().upper()  # WeChat Pay v2 protocol, not our choice


def to_xml(fields: Mapping[str, str]) -> bytes:
    root = ElementTree.Element("xml")
    for name, value in fields.items():
        ElementTree.SubElement(root, name).text = value
    return ElementTree.tostring(root, encoding="utf-8")


def parse_xml(body: bytes) -> dict[str, str] | None:
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return None
    if root.tag != "xml":
        return None
    return {child.tag: (child.text or "") for child in root}


@dataclass(frozen=True)
class V2Transfer:
    """One 企业付款 as WeChat Pay keeps it."""

    partner_trade_no: str
    payment_no: str
    appid: str
    openid: str
    amount_fen: int
    desc: str
    check_name: str
    real_name: str | None
    status: str  # SUCCESS | FAILED | PROCESSING
    reason: str | None
    created_at: datetime

    def same_request(self, other: V2Transfer) -> bool:
        return (self.appid, self.openid, self.amount_fen, self.desc) == (
            other.appid,
            other.openid,
            other.amount_fen,
            other.desc,
        )


class PayV2StandIn:
    """WeChat Pay API v2 transfers for one merchant (`keys`) and the app `appid`."""

    def __init__(self, *, keys: StandInPayKeys, appid: str) -> None:
        self.keys = keys
        self.appid = appid
        self._lock = threading.Lock()
        self._transfers: dict[str, V2Transfer] = {}
        self._holding = False
        # Transfers taken (and paid) but not yet visible to queries: recorded late.
        self._unrecorded: set[str] = set()

    # -- what tests observe and control ---------------------------------------------------

    @property
    def transfers(self) -> dict[str, V2Transfer]:
        with self._lock:
            return dict(self._transfers)

    def hold_transfers(self) -> None:
        """New transfers stay PROCESSING (the call answers SYSTEMERROR) until settled."""
        with self._lock:
            self._holding = True

    def settle(self, partner_trade_no: str, *, succeed: bool = True, reason: str = "") -> None:
        with self._lock:
            transfer = self._transfers[partner_trade_no]
            if transfer.status != "PROCESSING":
                raise ValueError(f"transfer {partner_trade_no} is already {transfer.status}")
            self._transfers[partner_trade_no] = replace(
                transfer,
                status="SUCCESS" if succeed else "FAILED",
                reason=None if succeed else (reason or "付款失败"),
            )

    def record_late_transfers(self) -> None:
        """Transfers taken with `record_late` become visible to queries."""
        with self._lock:
            self._unrecorded.clear()

    def forget(self) -> None:
        with self._lock:
            self._transfers.clear()
            self._unrecorded.clear()
            self._holding = False

    # -- serving --------------------------------------------------------------------------

    @staticmethod
    def handles(path: str) -> bool:
        return path in (TRANSFER_PATH, QUERY_PATH)

    def handle(self, method: str, path: str, body: bytes, *, record_late: bool = False) -> Reply:
        """The answer to one v2 call; a transfer taken with `record_late` is invisible to
        queries until recorded."""
        request = parse_xml(body) if method == "POST" else None
        if request is None:
            return self._answer({"return_code": "FAIL", "return_msg": "XML格式错误"}, "MD5")
        sign_type = request.get("sign_type") or "MD5"
        if request.get("sign") != v2_signature(request, self.keys.v2_api_key, sign_type):
            return self._answer({"return_code": "FAIL", "return_msg": "签名错误"}, sign_type)
        if path == TRANSFER_PATH:
            return self._answer(self._transfer(request, record_late=record_late), sign_type)
        return self._answer(self._query(request), sign_type)

    def fault(self, kind: str, body: bytes) -> Reply:
        """A business fault answered in protocol: NOTENOUGH or SYSTEMERROR."""
        request = parse_xml(body) or {}
        code, message = (
            ("NOTENOUGH", "余额不足")
            if kind == "not_enough"
            else ("SYSTEMERROR", "系统繁忙，请稍后再试")
        )
        return self._answer(
            self._failure(code, message, request), request.get("sign_type") or "MD5"
        )

    def forged(self, reply: Reply) -> Reply:
        """`reply` signed with a key that is not the merchant's."""
        fields = parse_xml(reply.body) or {}
        fields["sign"] = v2_signature(fields, secrets.token_hex(16))
        return Reply(reply.status, to_xml(fields), XML_CONTENT_TYPE)

    # -- the protocol ---------------------------------------------------------------------

    def _answer(self, fields: dict[str, str], sign_type: str) -> Reply:
        signed = {**fields, "nonce_str": secrets.token_hex(16)}
        signed["sign"] = v2_signature(signed, self.keys.v2_api_key, sign_type)
        return Reply(200, to_xml(signed), XML_CONTENT_TYPE)

    def _failure(self, code: str, message: str, request: Mapping[str, str]) -> dict[str, str]:
        return {
            "return_code": "SUCCESS",
            "return_msg": "",
            "result_code": "FAIL",
            "err_code": code,
            "err_code_des": message,
            "mch_appid": request.get("mch_appid", ""),
            "mchid": request.get("mchid", ""),
            "partner_trade_no": request.get("partner_trade_no", ""),
        }

    def _transfer(self, request: dict[str, str], *, record_late: bool = False) -> dict[str, str]:
        if request.get("mchid") != self.keys.mchid:
            return self._failure("NO_AUTH", "商户号不存在或无此权限", request)
        if request.get("mch_appid") != self.appid:
            return self._failure("PARAM_ERROR", "mch_appid与mchid不匹配", request)
        invalid = _invalid_transfer(request)
        if invalid is not None:
            return self._failure("PARAM_ERROR", invalid, request)
        candidate = V2Transfer(
            partner_trade_no=request["partner_trade_no"],
            payment_no=f"1000018301{secrets.randbelow(10**22):022d}",
            appid=request["mch_appid"],
            openid=request["openid"],
            amount_fen=int(request["amount"]),
            desc=request["desc"],
            check_name=request["check_name"],
            real_name=request.get("re_user_name") or None,
            status="PROCESSING" if self._holding else "SUCCESS",
            reason=None,
            created_at=datetime.now(CHINA),
        )
        with self._lock:
            existing = self._transfers.get(candidate.partner_trade_no)
            if existing is not None and not existing.same_request(candidate):
                return self._failure("FATAL_ERROR", "已存在该单号，并且两次请求参数不一致", request)
            transfer = existing or candidate
            self._transfers[transfer.partner_trade_no] = transfer
            if existing is None and record_late:
                self._unrecorded.add(transfer.partner_trade_no)
        if transfer.status == "PROCESSING":
            return self._failure("SYSTEMERROR", "系统繁忙，请稍后再试", request)
        if transfer.status == "FAILED":
            return self._failure("SEND_FAILED", transfer.reason or "付款错误", request)
        return {
            "return_code": "SUCCESS",
            "return_msg": "",
            "result_code": "SUCCESS",
            "mch_appid": transfer.appid,
            "mchid": self.keys.mchid,
            "partner_trade_no": transfer.partner_trade_no,
            "payment_no": transfer.payment_no,
            "payment_time": transfer.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        }

    def _query(self, request: dict[str, str]) -> dict[str, str]:
        if request.get("mch_id") != self.keys.mchid or request.get("appid") != self.appid:
            return self._failure("NO_AUTH", "商户号或appid不匹配", request)
        number = request.get("partner_trade_no", "")
        with self._lock:
            transfer = None if number in self._unrecorded else self._transfers.get(number)
        if transfer is None:
            return self._failure("NOT_FOUND", "指定单号数据不存在", request)
        answer = {
            "return_code": "SUCCESS",
            "return_msg": "",
            "result_code": "SUCCESS",
            "partner_trade_no": transfer.partner_trade_no,
            "appid": transfer.appid,
            "mch_id": self.keys.mchid,
            "detail_id": transfer.payment_no,
            "status": transfer.status,
            "openid": transfer.openid,
            "payment_amount": str(transfer.amount_fen),
            "transfer_time": transfer.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            "desc": transfer.desc,
        }
        if transfer.status == "SUCCESS":
            answer["payment_time"] = answer["transfer_time"]
        if transfer.reason:
            answer["reason"] = transfer.reason
        return answer


def _invalid_transfer(request: Mapping[str, str]) -> str | None:
    partner_trade_no = request.get("partner_trade_no", "")
    if not (
        partner_trade_no.isascii() and partner_trade_no.isalnum() and len(partner_trade_no) <= 32
    ):
        return "partner_trade_no must be 1-32 letters or digits"
    if not request.get("openid"):
        return "openid is required"
    if not request.get("amount", "").isdigit() or int(request["amount"]) < MIN_AMOUNT_FEN:
        return f"amount must be an integer of at least {MIN_AMOUNT_FEN} fen"
    if not request.get("desc"):
        return "desc is required"
    check_name = request.get("check_name", "")
    if check_name not in CHECK_NAME_OPTIONS:
        return "check_name must be NO_CHECK, FORCE_CHECK or OPTION_CHECK"
    if check_name == "FORCE_CHECK" and not request.get("re_user_name"):
        return "re_user_name is required with FORCE_CHECK"
    if not request.get("spbill_create_ip"):
        return "spbill_create_ip is required"
    return None
