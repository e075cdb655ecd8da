"""A scripted in-memory payment provider: each transfer answers with the next scripted outcome,
and a query answers with what the provider "really" did (or what the test scripts)."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field

from server.integrations.payments.base import TransferRequest, TransferResult, TransferState

S = TransferState


class ProviderExploded(RuntimeError):
    """What a scripted `raise` outcome raises."""


@dataclass
class FakeProvider:
    """Outcomes: "succeed", "fail", "processing", "unknown" (the money did not move),
    "unknown_but_paid" (the money moved, the answer was lost), "raise"."""

    name: str = "fake"
    script: deque[str] = field(default_factory=deque)
    query_script: deque[str] = field(default_factory=deque)
    default: str = "succeed"
    transfers: list[TransferRequest] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)
    # What the provider actually did with each transfer number.
    settled: dict[str, TransferState] = field(default_factory=dict)
    delay_seconds: float = 0.0

    def will(self, *outcomes: str) -> FakeProvider:
        self.script.extend(outcomes)
        return self

    def will_answer_queries(self, *outcomes: str) -> FakeProvider:
        self.query_script.extend(outcomes)
        return self

    @property
    def paid_bills(self) -> list[str]:
        return [bill for bill, state in self.settled.items() if state == S.SUCCEEDED]

    async def transfer(self, request: TransferRequest) -> TransferResult:
        self.transfers.append(request)
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        outcome = self.script.popleft() if self.script else self.default
        bill = request.out_bill_no
        if outcome == "raise":
            raise ProviderExploded("connection reset")
        if outcome == "succeed":
            self.settled[bill] = S.SUCCEEDED
            return TransferResult(S.SUCCEEDED, provider_reference=f"ref-{bill}")
        if outcome == "fail":
            self.settled[bill] = S.FAILED
            return TransferResult(S.FAILED, failure_code="NAME_MISMATCH", failure_message="no")
        if outcome == "processing":
            self.settled[bill] = S.PROCESSING
            return TransferResult(S.PROCESSING, provider_reference=f"ref-{bill}")
        if outcome == "unknown_but_paid":
            self.settled[bill] = S.SUCCEEDED
            return TransferResult(S.UNKNOWN, failure_code="TIMEOUT")
        if outcome == "unknown":
            return TransferResult(S.UNKNOWN, failure_code="TIMEOUT")
        raise AssertionError(f"unknown scripted outcome {outcome!r}")

    async def query(self, *, out_bill_no: str) -> TransferResult:
        self.queries.append(out_bill_no)
        if self.query_script:
            outcome = self.query_script.popleft()
            if outcome == "raise":
                raise ProviderExploded("query timed out")
            self.settled[out_bill_no] = TransferState(outcome)
        state = self.settled.get(out_bill_no, S.NOT_FOUND)
        reference = f"ref-{out_bill_no}" if state == S.SUCCEEDED else None
        failure = "NOT_FOUND" if state == S.NOT_FOUND else None
        return TransferResult(state, provider_reference=reference, failure_code=failure)
