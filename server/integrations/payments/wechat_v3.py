"""WeChat Pay API v3 merchant transfers ("商家转账", transfer-bills), through `wechatpayv3`."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import requests
from wechatpayv3 import WeChatPay, WeChatPayType
from wechatpayv3.utils import load_private_key

from server.integrations.payments.base import TransferRequest, TransferResult, TransferState
from server.integrations.payments.standin_keys import public_pem
from server.integrations.payments.wechat_outcomes import (
    fen_from,
    unknown,
    v3_bill_outcome,
    v3_error_outcome,
)

log = logging.getLogger("fenxiao.payments.wechat_v3")

MAX_REMARK_LENGTH = 32
MAX_REPORT_LENGTH = 32
# From this amount WeChat requires the payee's real name (checked against the account).
NAME_REQUIRED_FROM_FEN = 200_000
# What each transfer scene must report (转账场景报备信息), as WeChat Pay defines them.
SCENE_REPORTS: dict[str, tuple[tuple[str, str | None], ...]] = {
    "1000": (("活动名称", None), ("奖励说明", None)),  # 现金营销
    "1005": (("岗位类型", "推广员"), ("报酬说明", None)),  # 佣金报酬
}


def scene_report_infos(scene_id: str, description: str) -> list[dict[str, str]]:
    """The report entries `scene_id` needs; None contents take the transfer's description."""
    return [
        {"info_type": kind, "info_content": (content or description)[:MAX_REPORT_LENGTH]}
        for kind, content in SCENE_REPORTS.get(scene_id, ())
    ]


def _json_or_none(body: Any) -> dict[str, Any] | None:
    if isinstance(body, bytes):
        try:
            body = body.decode()
        except UnicodeDecodeError:
            return None
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


class WeChatPayV3Provider:
    """Pays promoters to their WeChat balance with the API v3 merchant transfer."""

    name = "wechat_v3"

    def __init__(
        self,
        *,
        mchid: str,
        appid: str,
        private_key: str,
        cert_serial_no: str,
        apiv3_key: str,
        api_base: str,
        timeout_seconds: float,
        transfer_scene_id: str,
        public_key: str | None = None,
        public_key_id: str | None = None,
    ) -> None:
        self._options: dict[str, Any] = {
            "wechatpay_type": WeChatPayType.MINIPROG,
            "mchid": mchid,
            "private_key": private_key,
            "cert_serial_no": cert_serial_no,
            "appid": appid,
            "apiv3_key": apiv3_key,
            "timeout": (timeout_seconds, timeout_seconds),
            "public_key": public_key,
            "public_key_id": public_key_id,
        }
        self._api_base = api_base.rstrip("/")
        self._scene_id = transfer_scene_id
        self._client: WeChatPay | None = None
        self._client_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"WeChatPayV3Provider(api_base={self._api_base!r})"

    async def transfer(self, request: TransferRequest) -> TransferResult:
        """Ask WeChat Pay to pay `request`; a repeated out_bill_no is the same transfer."""
        fen = fen_from(request.amount, request.currency)
        if fen >= NAME_REQUIRED_FROM_FEN and not request.real_name:
            return TransferResult(
                TransferState.FAILED,
                failure_code="real_name_required",
                failure_message="WeChat Pay needs the payee's real name from 2000 CNY",
            )
        remark = request.description[:MAX_REMARK_LENGTH] or "佣金提现"

        def send(client: WeChatPay) -> tuple[int, Any]:
            return client.mch_transfer_bills(
                out_bill_no=request.out_bill_no,
                transfer_scene_id=self._scene_id,
                openid=request.openid,
                transfer_amount=fen,
                transfer_remark=remark,
                user_name=request.real_name,
                transfer_scene_report_infos=scene_report_infos(self._scene_id, remark),
            )

        result = self._with_confirmation(
            await asyncio.to_thread(self._call, send, request.out_bill_no, querying=False)
        )
        log.info(
            "WeChat Pay v3 transfer %s: %s %s",
            request.out_bill_no,
            result.state.value,
            result.failure_code or "",
        )
        return result

    async def query(self, *, out_bill_no: str) -> TransferResult:
        """WeChat Pay's view of the transfer `out_bill_no` (NOT_FOUND if it has no record)."""

        def ask(client: WeChatPay) -> tuple[int, Any]:
            return client.mch_transfer_bills_query(out_bill_no=out_bill_no)

        result = self._with_confirmation(
            await asyncio.to_thread(self._call, ask, out_bill_no, querying=True)
        )
        log.info("WeChat Pay v3 query %s: %s", out_bill_no, result.state.value)
        return result

    def _with_confirmation(self, result: TransferResult) -> TransferResult:
        """A transfer waiting for the promoter carries what their mini-program must show."""
        package = result.details.get("package_info")
        if result.state != TransferState.PROCESSING or not isinstance(package, str):
            return result
        confirmation = {
            "mch_id": self._options["mchid"],
            "app_id": self._options["appid"],
            "package": package,
        }
        return replace(result, user_confirmation=confirmation)

    def _call(
        self,
        operation: Callable[[WeChatPay], tuple[int, Any]],
        out_bill_no: str,
        *,
        querying: bool,
    ) -> TransferResult:
        try:
            client = self._client_or_build()
        except Exception as exc:  # the SDK raises bare Exception for keys and certificates
            log.error("WeChat Pay v3 client cannot start: %s", type(exc).__name__)
            # Nothing was sent: not paid. A query cannot learn more until this is fixed.
            return TransferResult(
                TransferState.UNKNOWN if querying else TransferState.FAILED,
                failure_code="wechat_pay_unavailable",
                failure_message=f"WeChat Pay API v3 client cannot start: {exc}",
            )
        try:
            status, body = operation(client)
        except requests.Timeout:
            return unknown("timeout", "WeChat Pay did not answer in time")
        except requests.RequestException as exc:
            return unknown("network_error", f"WeChat Pay unreachable: {type(exc).__name__}")
        except Exception as exc:  # the SDK's signature check raises a bare Exception
            log.warning("WeChat Pay v3 answer refused for %s: %s", out_bill_no, exc)
            return unknown("unverified_reply", f"WeChat Pay's answer was not verifiable: {exc}")
        answer = _json_or_none(body)
        if 200 <= status < 300:
            if answer is None:
                return unknown("malformed_reply", "WeChat Pay answered something not JSON")
            return v3_bill_outcome(answer, out_bill_no=out_bill_no)
        return v3_error_outcome(status, answer, querying=querying)

    def _client_or_build(self) -> WeChatPay:
        with self._client_lock:
            if self._client is None:
                self._client = self._build_client()
            return self._client

    def _build_client(self) -> WeChatPay:
        options = dict(self._options)
        certificate_mode = not options["public_key"]
        if certificate_mode:
            # The SDK would download the platform certificates while constructing, from its
            # built-in base. Construct it in public-key mode (no download) with a stand-in
            # key, aim it at our base, then switch it to certificates and download them there.
            merchant_key = load_private_key(options["private_key"])
            options["public_key"] = public_pem(merchant_key.public_key())
            options["public_key_id"] = "unused"
        client = WeChatPay(**options)
        # The SDK's API base is a private attribute, the only way to aim it at the stand-in.
        core = client._core
        core._gate_way = self._api_base
        if certificate_mode:
            core._public_key = core._public_key_id = None
            core._update_certificates()
            if not core._certificates:
                raise RuntimeError("no WeChat Pay platform certificate could be downloaded")
        return client
