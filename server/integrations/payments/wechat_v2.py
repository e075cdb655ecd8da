"""WeChat Pay API v2 "企业付款到零钱" through wechatpy's `WeChatPay.transfer`, kept for
merchants who still have it (closed to new ones).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

import requests
import xmltodict
from wechatpy.exceptions import WeChatPayException
from wechatpy.pay import WeChatPay
from wechatpy.pay.utils import calculate_signature, calculate_signature_hmac

from server.integrations.payments.base import TransferRequest, TransferResult, TransferState
from server.integrations.payments.wechat_outcomes import fen_from, unknown, v2_outcome

log = logging.getLogger("fenxiao.payments.wechat_v2")

MAX_DESCRIPTION_LENGTH = 100


def answer_signature_is_valid(answer: Mapping[str, Any], api_key: str) -> bool:
    """True when `answer` is unsigned (as WeChat sends it) or signed with `api_key`."""
    sign = answer.get("sign")
    if sign is None:
        return True
    fields = {key: value for key, value in answer.items() if key != "sign"}
    if answer.get("sign_type") == "HMAC-SHA256":
        return sign == calculate_signature_hmac(fields, api_key)
    return sign == calculate_signature(fields, api_key)


def _answer_of(exc: WeChatPayException) -> dict[str, Any] | None:
    """The parsed XML of the answer a wechatpy exception carries, if any."""
    if exc.response is None:
        return None
    try:
        parsed = xmltodict.parse(exc.response.text)
    except Exception:  # expat errors and garbage of every kind
        return None
    answer = parsed.get("xml") if isinstance(parsed, dict) else None
    return dict(answer) if isinstance(answer, dict) else None


class WeChatPayV2Provider:
    """Pays promoters with the legacy v2 transfer (企业付款到零钱)."""

    name = "wechat_v2"

    def __init__(
        self,
        *,
        appid: str,
        mchid: str,
        api_key: str,
        api_base: str,
        timeout_seconds: float,
        client_ip: str,
        cert_path: str | None = None,
        key_path: str | None = None,
    ) -> None:
        self._client = WeChatPay(
            appid=appid,
            api_key=api_key,
            mch_id=mchid,
            mch_cert=cert_path,
            mch_key=key_path,
            timeout=timeout_seconds,
        )
        self._client.API_BASE_URL = api_base.rstrip("/") + "/"
        self._api_key = api_key
        self._client_ip = client_ip

    def __repr__(self) -> str:
        return f"WeChatPayV2Provider(api_base={self._client.API_BASE_URL!r})"

    async def transfer(self, request: TransferRequest) -> TransferResult:
        """Ask WeChat Pay to pay `request`; a repeated out_bill_no is the same transfer."""
        fen = fen_from(request.amount, request.currency)

        def send() -> Any:
            return self._client.transfer.transfer(
                user_id=request.openid,
                amount=fen,
                desc=request.description[:MAX_DESCRIPTION_LENGTH] or "佣金提现",
                client_ip=self._client_ip,
                check_name="FORCE_CHECK" if request.real_name else "NO_CHECK",
                real_name=request.real_name,
                out_trade_no=request.out_bill_no,
            )

        result = await asyncio.to_thread(self._call, send, request.out_bill_no, querying=False)
        log.info(
            "WeChat Pay v2 transfer %s: %s %s",
            request.out_bill_no,
            result.state.value,
            result.failure_code or "",
        )
        return result

    async def query(self, *, out_bill_no: str) -> TransferResult:
        """WeChat Pay's view of the transfer `out_bill_no` (NOT_FOUND if it has no record)."""
        result = await asyncio.to_thread(
            self._call,
            lambda: self._client.transfer.query(out_bill_no),
            out_bill_no,
            querying=True,
        )
        log.info("WeChat Pay v2 query %s: %s", out_bill_no, result.state.value)
        return result

    def _call(
        self, operation: Callable[[], Any], out_bill_no: str, *, querying: bool
    ) -> TransferResult:
        try:
            answer = operation()
        except requests.Timeout:
            return unknown("timeout", "WeChat Pay did not answer in time")
        except requests.RequestException as exc:
            return unknown("network_error", f"WeChat Pay unreachable: {type(exc).__name__}")
        except WeChatPayException as exc:
            answer = _answer_of(exc) if exc.return_code is not None else None
            if answer is None:
                # An HTTP error (wechatpy raises with no return_code) or an unreadable body.
                status = exc.response.status_code if exc.response is not None else None
                return unknown("http_error", f"WeChat Pay answered HTTP {status}")
        except (KeyError, TypeError, ValueError):
            # wechatpy indexes the parsed XML without checking it: a garbled answer.
            return unknown("malformed_reply", "WeChat Pay answered XML without a return_code")
        if not isinstance(answer, Mapping):
            return unknown("malformed_reply", "WeChat Pay answered something not XML")
        if not answer_signature_is_valid(answer, self._api_key):
            log.warning("WeChat Pay v2 answer for %s has a wrong signature", out_bill_no)
            return unknown("unverified_reply", "WeChat Pay's answer has a wrong signature")
        trade_no = answer.get("partner_trade_no")
        if trade_no is not None and trade_no != out_bill_no:
            return unknown("mismatched_reply", "WeChat Pay answered about another transfer")
        result = v2_outcome(answer, querying=querying)
        if result.state is TransferState.SUCCEEDED and trade_no is None:
            return unknown("mismatched_reply", "WeChat Pay's success names no transfer")
        return result
