"""The stand-in's WeChat Pay: API v3 and v2 transfers behind one facade, so the stand-in's
HTTP server only routes and injects faults. The protocols are in `wechat_standin_pay_v3.py`
and `wechat_standin_pay_v2.py`."""

from __future__ import annotations

import threading
from dataclasses import asdict
from datetime import datetime
from typing import Any

from server.integrations.payments.standin_keys import StandInPayKeys
from server.integrations.wechat_standin_pay_v2 import PayV2StandIn
from server.integrations.wechat_standin_pay_v3 import PayV3StandIn
from server.integrations.wechat_standin_protocol import Reply, json_reply

# Faults only WeChat Pay paths suffer (the others never match them).
PAY_FAULT_KINDS = frozenset(
    {"not_enough", "system_error", "bad_signature", "reply_lost", "recorded_late"}
)


class WeChatPayStandIn:
    """WeChat Pay for one stand-in merchant (`keys`) paying users of the app `appid`."""

    def __init__(self, *, keys: StandInPayKeys, appid: str) -> None:
        self.keys = keys
        self.v3 = PayV3StandIn(keys=keys, appid=appid)
        self.v2 = PayV2StandIn(keys=keys, appid=appid)

    def handles(self, path: str) -> bool:
        return self.v3.handles(path) or self.v2.handles(path)

    @property
    def transfers(self) -> dict[str, Any]:
        """Every transfer received, by out_bill_no (API v3) or partner_trade_no (v2)."""
        return {**self.v2.transfers, **self.v3.transfers}

    def hold_transfers(self, state: str = "WAIT_USER_CONFIRM") -> None:
        """New transfers (both APIs) wait, in `state` for v3, until `settle`d."""
        self.v3.hold_transfers(state)
        self.v2.hold_transfers()

    def settle(self, out_bill_no: str, *, state: str = "SUCCESS") -> None:
        """Finish a waiting transfer: SUCCESS, or FAIL / CANCELLED (v2: any failure)."""
        if out_bill_no in self.v3.transfers:
            self.v3.settle(out_bill_no, state=state)
        else:
            self.v2.settle(out_bill_no, succeed=state == "SUCCESS")

    def record_late_transfers(self) -> None:
        """Transfers taken under the `recorded_late` fault become visible to queries."""
        self.v3.record_late_transfers()
        self.v2.record_late_transfers()

    def forget(self) -> None:
        self.v3.forget()
        self.v2.forget()

    def handle(
        self,
        method: str,
        path: str,
        target: str,
        headers: dict[str, str],
        body: bytes,
        *,
        record_late: bool = False,
    ) -> Reply:
        if self.v3.handles(path):
            return self.v3.handle(method, target, headers, body, record_late=record_late)
        return self.v2.handle(method, path, body, record_late=record_late)

    def faulty(
        self,
        kind: str,
        unstall: threading.Event,
        hold_seconds: float,
        request: tuple[str, str, str, dict[str, str], bytes],
    ) -> Reply | None:
        """The answer under fault `kind` to `request` (method, path, target, headers, body)."""
        method, path, target, headers, body = request
        v3 = self.v3.handles(path)
        if kind in ("not_enough", "system_error"):
            return self.v3.fault(kind, headers) if v3 else self.v2.fault(kind, body)
        reply = self.handle(
            method, path, target, headers, body, record_late=kind == "recorded_late"
        )
        if kind in ("reply_lost", "recorded_late"):
            unstall.wait(hold_seconds)
            return None
        return self.v3.forged(reply, headers) if v3 else self.v2.forged(reply)

    def control(self, method: str, action: str, request: dict[str, Any]) -> Reply | None:
        """The stand-in control actions about pay (`/__standin__/…`); None if not one."""
        if method == "GET" and action == "transfers":
            transfers = {number: _plain(asdict(t)) for number, t in self.transfers.items()}
            return json_reply({"transfers": transfers})
        if method == "POST" and action == "hold-transfers":
            self.hold_transfers(str(request.get("state", "WAIT_USER_CONFIRM")))
        elif method == "POST" and action == "record-late-transfers":
            self.record_late_transfers()
        elif method == "POST" and action == "settle-transfer":
            self.settle(str(request["out_bill_no"]), state=str(request.get("state", "SUCCESS")))
        else:
            return None
        return json_reply({"ok": True})


def _plain(fields: dict[str, Any]) -> dict[str, Any]:
    """A transfer's fields as JSON can carry them (times as ISO 8601)."""
    return {
        key: value.isoformat() if isinstance(value, datetime) else value
        for key, value in fields.items()
    }
