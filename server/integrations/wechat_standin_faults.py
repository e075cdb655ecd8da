"""Faults the WeChat stand-in injects: their kinds, which pending one a request takes, and
the broken replies on WeChat's own paths (WeChat Pay's are in wechat_standin_pay.py)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Literal, get_args

from server.integrations.wechat_standin_pay import PAY_FAULT_KINDS
from server.integrations.wechat_standin_protocol import Reply, error_reply

# The last five are WeChat Pay's (they never match another path).
FaultKind = Literal[
    "timeout", "disconnect", "server_error", "garbage", "busy", "expired_token",
    "not_enough", "system_error", "bad_signature", "reply_lost", "recorded_late",
]  # fmt: skip
FAULT_KINDS: frozenset[str] = frozenset(get_args(FaultKind))


@dataclass
class Fault:
    kind: FaultKind
    remaining: int
    path: str | None
    hold_seconds: float


def take_fault(faults: list[Fault], path: str, *, is_pay: bool) -> Fault | None:
    """The first pending fault for a request to `path`, used up once (the caller holds the lock)."""
    for fault in faults:
        if fault.kind in PAY_FAULT_KINDS and not is_pay:
            continue
        if fault.path is None or fault.path == path:
            fault.remaining -= 1
            if fault.remaining == 0:
                faults.remove(fault)
            return fault
    return None


def faulty_reply(fault: Fault, unstall: threading.Event) -> Reply | None:
    """The broken answer `fault` gives on WeChat's own paths (None: no answer at all)."""
    if fault.kind == "timeout":
        unstall.wait(fault.hold_seconds)
        return None
    if fault.kind == "disconnect":
        return None
    if fault.kind == "server_error":
        return Reply(500, b"<html><body>500 Internal Server Error</body></html>", "text/html")
    if fault.kind == "garbage":
        return Reply(200, b"\x00\xffnot json, not an image", "text/html")
    if fault.kind == "busy":
        return error_reply(-1, "system error")
    return error_reply(42001, "access_token expired")
