"""The money law as a state machine: hypothesis drives random paid events, refunds (by line, by
amount, full), completions, cancellations, time passing with the approve and settle jobs,
replays of any earlier event, staff adjustments (credits and debits), promoters' withdrawals
that finance pays, and payout batches, against one small program, and checks after every step
that

- the ledger reconciles (every cached balance equals its entries);
- no commission is negative or above its line's amount, and each live commission equals what
  its line's current net earns under the money law (recomputed here from the program's
  terms, not from the engine's snapshot), for exactly the beneficiaries the chain names;
- money is conserved per promoter: available + on hold + paid out + fees and tax withheld
  equals what settled commissions and adjustments credited; on hold is exactly what live
  withdrawals reserve and paid exactly what paid withdrawals sent;
- no balance is negative, except `available` after a clawback or a debit adjustment (carried
  forward);
- a replayed event returns its first outcome and changes nothing.

A second property: every event of a random scenario delivered three times in shuffled order
ends with the same commissions and ledger as delivering each once in order. Events that do
not commute are left out of that scenario on purpose, since whichever comes first wins and
the other is refused with a coded error (docs/integration.md, order events): a
cancellation against a completion or a later refund (order_completed, order_cancelled), and
a refund of everything that is left against a completion (a fully refunded order cannot complete).

The program: three levels (10 / 5 / 2.5 %), a 3 % self-purchase rebate, and one product rule
(SKU-F pays a fixed 1.75 per unit at level 1). Runs on SQLite and on MariaDB.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from server.config import Settings
from server.domain.errors import FenxiaoError
from server.models import (
    Adjustment,
    Commission,
    CommissionRuleRecord,
    LedgerEntry,
    Order,
    OrderLine,
    Program,
    Promoter,
    PromoterBalance,
    User,
    Withdrawal,
)
from server.services.commissions.settlement import approve_due_commissions, settle_due_commissions
from server.services.ledger.adjustments import create_adjustment
from server.services.orders.events import RecordedOutcome
from server.services.payouts.batches import create_manual_batch, pay_batch
from server.services.payouts.gateway import use_provider
from server.services.payouts.withdrawal_payment import pay_withdrawal
from server.services.payouts.withdrawals import approve_withdrawal, request_withdrawal
from tests.ledger_checks import assert_ledger_reconciles
from tests.order_builders import (
    T0,
    bind,
    cancelled,
    chain,
    completed,
    customer,
    line,
    paid,
    promoter,
    refunded,
    send,
    shop,
    unique,
)
from tests.payment_fakes import FakeProvider
from tests.withdrawal_builders import FINANCE

D = Decimal
CENT = D("0.01")
R = TypeVar("R")
LEVEL_RATES = {1: D(10), 2: D(5), 3: D("2.5")}
REBATE_RATE = D(3)
FIXED_PRODUCT, FIXED_PER_UNIT = "SKU-F", D("1.75")
# Commissions whose amount follows the line's net; rejected ones keep the amount refused.
LIVE_STATUSES = {"pending", "approved", "settled", "paid"}
# Order statuses in which any refund is 409 (order_cancelled, order_already_refunded).
CLOSED_TO_REFUNDS = {"cancelled", "refunded"}
MAX_ORDERS = 3
PAY_SETTINGS = Settings(environment="test")


@pytest.fixture(scope="session")
async def session_loop() -> asyncio.AbstractEventLoop:
    """The loop the database was opened on; the state machine's steps run on it."""
    return asyncio.get_running_loop()


def _money(cents: int) -> str:
    return str(D(cents).scaleb(-2))


def _down(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_DOWN)


def earns(
    *, levels: Iterable[int], product_id: str, quantity: int, amount: Decimal, net: Decimal
) -> dict[int, D]:
    """What a line earns at each of `levels` under this program's terms (DESIGN.md, the money
    law): nearest level first, each at most what the nearer ones kept when the order was paid
    (a commission worth a cent then) left of the net, counted exactly."""
    kept = {
        level
        for level, earned in _earned(levels, product_id, quantity, amount, amount, None).items()
        if earned > 0
    }
    return _earned(levels, product_id, quantity, amount, net, kept)


def _earned(
    levels: Iterable[int],
    product_id: str,
    quantity: int,
    amount: Decimal,
    net: Decimal,
    kept: set[int] | None,
) -> dict[int, D]:
    earned: dict[int, D] = {}
    left = net
    for level in sorted(levels):
        if level == 1 and product_id == FIXED_PRODUCT:
            exact = FIXED_PER_UNIT * quantity * net / amount if amount else D(0)
        else:
            exact = (REBATE_RATE if level == 0 else LEVEL_RATES[level]) * net / 100
        limited = min(exact, net, left)
        earned[level] = _down(limited)
        # Exact, not rounded: what is left does not depend on the refunds' steps.
        if (kept is None and earned[level] > 0) or (kept is not None and level in kept):
            left -= limited
    return earned


@dataclass
class World:
    """One program, its promoter chain and buyers; promoters are named by their role."""

    program: Program
    buyers: dict[str, User]
    # buyer kind -> the promoters who earn, by level
    beneficiaries: dict[str, dict[int, int]]
    roles: dict[int, str] = field(default_factory=dict)


async def build_world() -> World:
    program = await shop(
        max_levels=3,
        level_rates=["10", "5", "2.5"],
        self_rebate_enabled=True,
        self_rebate_rate="3",
        auto_approve_rules={"enabled": True},
        withdrawal_rules={"minimum": "1.00", "fee_percent": "1", "tax_withholding_percent": "2"},
    )
    await CommissionRuleRecord.create(
        program=program, kind="fixed", value=FIXED_PER_UNIT, level=1, product_id=FIXED_PRODUCT
    )
    top, middle, nearest = await chain(program, 3)
    own = await promoter(program, nearest)
    own_user = await User.get(id=own.user_id)  # type: ignore[attr-defined]
    bound, stranger = await customer("Bea"), await customer("Sam")
    await bind(program, nearest, user=bound)
    upline = {1: nearest.id, 2: middle.id, 3: top.id}
    # Three places (MAX_COMMISSION_LEVELS=3), the rebate included: top earns on no self purchase.
    own_chain = {0: own.id, 1: nearest.id, 2: middle.id}
    return World(
        program=program,
        buyers={"bound": bound, "self": own_user, "stranger": stranger},
        beneficiaries={"bound": upline, "self": own_chain, "stranger": {}},
        roles={top.id: "top", middle.id: "middle", nearest.id: "nearest", own.id: "own"},
    )


@st.composite
def order_lines(draw: st.DrawFn) -> list[dict[str, Any]]:
    """1-3 lines: amount in cents, quantity, a unit price covering it, a product."""
    lines = []
    for index in range(draw(st.integers(min_value=1, max_value=3))):
        cents = draw(st.integers(min_value=1, max_value=200_000))
        quantity = draw(st.integers(min_value=1, max_value=4))
        lines.append(
            line(
                f"L{index}",
                _money(cents),
                quantity=quantity,
                unit_price=_money(-(-cents // quantity)),
                product_id=draw(st.sampled_from(["SKU-1", FIXED_PRODUCT])),
            )
        )
    return lines


# ---------------------------------------------------------------- invariants (async)


async def check_money_law(world: World) -> None:
    """Every invariant of the module docstring for the world's program."""
    await assert_ledger_reconciles()
    program_id = world.program.id
    orders = {o.id: o for o in await Order.filter(program_id=program_id)}
    lines = {ln.id: ln for ln in await OrderLine.filter(order_id__in=list(orders))}
    commissions = await Commission.filter(program_id=program_id)
    buyer_kind = {user.id: kind for kind, user in world.buyers.items()}
    seen: set[tuple[int, int]] = set()
    for commission in commissions:
        order_line = lines[commission.order_line_id]  # type: ignore[attr-defined]
        order = orders[commission.order_id]  # type: ignore[attr-defined]
        net = order_line.amount - order_line.refunded_amount
        assert D(0) <= commission.amount <= order_line.amount
        kind = buyer_kind[order.buyer_user_id]  # type: ignore[attr-defined]
        assert world.beneficiaries[kind][commission.level] == commission.promoter_id  # type: ignore[attr-defined]
        seen.add((order_line.id, commission.level))
        if commission.status in LIVE_STATUSES or commission.status == "reversed":
            expected = earns(
                levels=world.beneficiaries[kind],
                product_id=order_line.product_id,
                quantity=order_line.quantity,
                amount=order_line.amount,
                net=net,
            )[commission.level]  # type: ignore[attr-defined]
            if order.status == "cancelled":
                expected = D(0) if commission.status == "reversed" else expected
            assert commission.amount == expected, (commission.status, commission.amount, expected)
        if commission.status in {"settled", "paid"}:
            assert commission.settled_amount == commission.amount
    # Every beneficiary the chain names earns on every line worth at least a cent to them.
    for order_line in lines.values():
        order = orders[order_line.order_id]  # type: ignore[attr-defined]
        kind = buyer_kind[order.buyer_user_id]  # type: ignore[attr-defined]
        worth_at = earns(
            levels=world.beneficiaries[kind],
            product_id=order_line.product_id,
            quantity=order_line.quantity,
            amount=order_line.amount,
            net=order_line.amount,
        )
        for level, worth in worth_at.items():
            if worth > 0:
                assert (order_line.id, level) in seen, (order_line.line_ref, level)
    await check_balances(world, commissions)


# Withdrawal statuses whose amount is still reserved on hold.
RESERVING = {"requested", "approved", "paying", "failed"}


def _sum_by(rows: list[tuple[int, Decimal]]) -> dict[int, Decimal]:
    totals: dict[int, Decimal] = {}
    for key, amount in rows:
        totals[key] = totals.get(key, D(0)) + amount
    return totals


async def check_balances(world: World, commissions: list[Commission]) -> None:
    program_id = world.program.id
    settled = _sum_by([(c.promoter_id, c.settled_amount) for c in commissions])  # type: ignore[attr-defined]
    adjusted = _sum_by(
        await Adjustment.filter(program_id=program_id).values_list("promoter_id", "amount")
    )
    withdrawals = await Withdrawal.filter(program_id=program_id)
    held = _sum_by([(w.promoter_id, w.amount) for w in withdrawals if w.status in RESERVING])
    paid = [w for w in withdrawals if w.status == "paid"]
    sent = _sum_by([(w.promoter_id, w.net) for w in paid])
    withheld = _sum_by([(w.promoter_id, w.fee + w.tax) for w in paid])
    for balance in await PromoterBalance.filter(program_id=program_id):
        who = balance.promoter_id
        total = balance.available + balance.on_hold + balance.paid + withheld.get(who, D(0))
        assert total == settled.get(who, D(0)) + adjusted.get(who, D(0)), who
        assert balance.on_hold == held.get(who, D(0))
        assert balance.paid == sent.get(who, D(0))
        assert balance.on_hold >= 0 and balance.paid >= 0
        if balance.available < 0:
            debited = await LedgerEntry.exists(promoter_id=who, kind="clawback") or (
                await Adjustment.exists(promoter_id=who, amount__lt=0)
            )
            assert debited, "a negative balance nothing carried forward"


# ---------------------------------------------------------------- the state machine


@dataclass
class OrderModel:
    external_id: str
    lines: list[dict[str, Any]]


def build_machine(loop: asyncio.AbstractEventLoop) -> type[RuleBasedStateMachine]:
    def run(coroutine: Coroutine[Any, Any, R]) -> R:
        return loop.run_until_complete(coroutine)

    class MoneyMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.world: World | None = None
            self.orders: list[OrderModel] = []
            self.sent: list[tuple[dict[str, Any], RecordedOutcome]] = []
            self.now: datetime = T0
            self.provider = FakeProvider()

        # The program opens with an order paid and completed past its freeze (completed 8
        # days before the machine's clock starts), so that a couple of steps (the jobs, then
        # a refund) reach settlement and clawbacks.
        @initialize(lines=order_lines(), buyer=st.sampled_from(["bound", "self"]))
        def open_program(self, lines: list[dict[str, Any]], buyer: str) -> None:
            self.world = run(build_world())
            self.pay(lines, buyer)
            completed_at = self.now - timedelta(days=8)
            assert self.deliver(completed(self.orders[0].external_id, at=completed_at)) == 200

        @property
        def program(self) -> Program:
            assert self.world is not None
            return self.world.program

        def deliver(self, body: dict[str, Any]) -> int:
            recorded = run(send(self.program, body))
            assert not recorded.replayed
            self.sent.append((body, recorded))
            return recorded.outcome.status_code

        def status_of(self, order: OrderModel) -> str:
            row = run(Order.get(program_id=self.program.id, external_id=order.external_id))
            return str(row.status)

        def left_of(self, order: OrderModel) -> dict[str, int]:
            async def read() -> dict[str, int]:
                rows = await OrderLine.filter(
                    order__program_id=self.program.id, order__external_id=order.external_id
                )
                return {r.line_ref: int((r.amount - r.refunded_amount) * 100) for r in rows}

            return run(read())

        def pick(self, index: int) -> OrderModel:
            return self.orders[index % len(self.orders)]

        # A few orders only, so that later steps keep coming back to them.
        @precondition(lambda self: len(self.orders) < MAX_ORDERS)
        @rule(lines=order_lines(), buyer=st.sampled_from(["bound", "self", "stranger"]))
        def pay(self, lines: list[dict[str, Any]], buyer: str) -> None:
            assert self.world is not None
            order = OrderModel(external_id=unique("SM"), lines=lines)
            body = paid(order.external_id, *lines, buyer=self.world.buyers[buyer])
            assert self.deliver(body) == 200
            self.orders.append(order)

        @precondition(lambda self: self.orders)
        @rule(index=st.integers(0, 50), which=st.integers(0, 2), cents=st.integers(1, 250_000))
        def refund_line(self, index: int, which: int, cents: int) -> None:
            order = self.pick(index)
            ref = order.lines[which % len(order.lines)]["line_ref"]
            status, left = self.status_of(order), self.left_of(order)[ref]
            code = self.deliver(refunded(order.external_id, lines={ref: _money(cents)}))
            if status in CLOSED_TO_REFUNDS:
                assert code == 409
            else:
                assert code == (200 if cents <= left else 422)

        @precondition(lambda self: self.orders)
        @rule(index=st.integers(0, 50), cents=st.integers(1, 600_000))
        def refund_amount(self, index: int, cents: int) -> None:
            order = self.pick(index)
            status, left = self.status_of(order), sum(self.left_of(order).values())
            code = self.deliver(refunded(order.external_id, amount=_money(cents)))
            if status in CLOSED_TO_REFUNDS:
                assert code == 409
            else:
                assert code == (200 if cents <= left else 422)

        @precondition(lambda self: self.orders)
        @rule(index=st.integers(0, 50))
        def refund_full(self, index: int) -> None:
            order = self.pick(index)
            status = self.status_of(order)
            code = self.deliver(refunded(order.external_id, full=True))
            assert code == (409 if status in CLOSED_TO_REFUNDS else 200)

        @precondition(lambda self: self.orders)
        @rule(index=st.integers(0, 50))
        def complete(self, index: int) -> None:
            order = self.pick(index)
            status = self.status_of(order)
            code = self.deliver(completed(order.external_id, at=self.now))
            if status == "paid":
                assert code == 200
            else:
                assert code in {200, 409}

        # A cancellation ends an order's story: the store sends one for a third of the draws,
        # so that most runs also reach settlement and refunds after it.
        @precondition(lambda self: self.orders)
        @rule(index=st.integers(0, 50), sent=st.sampled_from([True, False, False]))
        def cancel(self, index: int, sent: bool) -> None:
            if not sent:
                return
            order = self.pick(index)
            status = self.status_of(order)
            code = self.deliver(cancelled(order.external_id))
            if status == "paid":
                assert code == 200
            elif status == "completed":
                assert code == 409
            else:
                assert code in {200, 409}

        # Past the freeze (7 days) in one step or two, so refunds also meet settled ones;
        # settlement sometimes lags a run behind approval, leaving commissions `approved`.
        @rule(days=st.sampled_from([0, 1, 4, 8]), settle=st.booleans())
        def time_passes_and_the_jobs_run(self, days: int, settle: bool) -> None:
            self.now += timedelta(days=days, seconds=1)
            run(approve_due_commissions(now=self.now))
            if settle:
                run(settle_due_commissions(now=self.now))

        @precondition(lambda self: self.sent)
        @rule(index=st.integers(0, 200))
        def replay(self, index: int) -> None:
            body, first = self.sent[index % len(self.sent)]
            again = run(send(self.program, body))
            assert again.replayed
            assert again.outcome == first.outcome

        def promoter_ids(self) -> list[int]:
            assert self.world is not None
            return sorted(self.world.roles)

        @precondition(lambda self: self.world is not None)
        @rule(who=st.integers(0, 3), cents=st.integers(1, 50_000), credit=st.booleans())
        def staff_adjust(self, who: int, cents: int, credit: bool) -> None:
            promoter_id = self.promoter_ids()[who]
            run(
                create_adjustment(
                    program_id=self.program.id,
                    promoter_id=promoter_id,
                    amount=_money(cents) if credit else f"-{_money(cents)}",
                    currency="CNY",
                    reason_code="bonus" if credit else "penalty",
                    memo="state machine",
                    idempotency_key=unique("adj"),
                    actor=FINANCE,
                )
            )

        @precondition(lambda self: self.world is not None)
        @rule(who=st.integers(0, 3), cents=st.integers(1, 60_000))
        def promoter_withdraws(self, who: int, cents: int) -> None:
            promoter = run(Promoter.get(id=self.promoter_ids()[who]))
            balance = run(PromoterBalance.get_or_none(promoter_id=promoter.id))
            withdrawable = max(balance.available, D(0)) if balance else D(0)
            allowed = cents >= 100 and D(cents) / 100 <= withdrawable
            try:
                run(
                    request_withdrawal(
                        user_id=promoter.user_id,  # type: ignore[attr-defined]
                        program_id=self.program.id,
                        amount=_money(cents),
                        method="wechat",
                        idempotency_key=unique("wd"),
                    )
                )
                assert allowed, (cents, withdrawable)
            except FenxiaoError as refused:
                assert not allowed, refused.code

        @precondition(lambda self: self.world is not None)
        @rule(outcome=st.sampled_from(["succeed", "succeed", "fail"]))
        def finance_pays_what_was_asked(self, outcome: str) -> None:
            asked = run(Withdrawal.filter(program_id=self.program.id, status="requested"))
            self.provider.default = outcome
            with use_provider(self.provider):
                for withdrawal in asked:
                    run(approve_withdrawal(withdrawal_id=withdrawal.id, actor=FINANCE))
                    paid = run(
                        pay_withdrawal(
                            withdrawal_id=withdrawal.id, actor=FINANCE, settings=PAY_SETTINGS
                        )
                    )
                    assert paid["status"] == ("paid" if outcome == "succeed" else "failed")

        @precondition(lambda self: self.world is not None)
        @rule()
        def finance_runs_a_payout_batch(self) -> None:
            self.provider.default = "succeed"
            with use_provider(self.provider):
                try:
                    batch = run(create_manual_batch(program_id=self.program.id, actor=FINANCE))
                except FenxiaoError as nothing_to_pay:
                    assert nothing_to_pay.status_code in {404, 409, 422}
                    return
                run(pay_batch(batch_id=batch["id"], actor=FINANCE, settings=PAY_SETTINGS))

        @invariant()
        def the_money_law_holds(self) -> None:
            if self.world is not None:
                run(check_money_law(self.world))

    return MoneyMachine


def test_any_sequence_of_events_and_jobs_keeps_the_money_law(
    db: str, three_paid_levels: None, session_loop: asyncio.AbstractEventLoop
) -> None:
    run_state_machine_as_test(
        build_machine(session_loop),
        settings=settings(
            max_examples=25,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )


# ---------------------------------------------------------------- order independence


@st.composite
def scenarios(draw: st.DrawFn) -> list[tuple[str, dict[str, Any]]]:
    """(buyer kind, event) in the store's order: 1-2 orders, each paid, then a few partial
    refunds that all fit and leave something of the order, then maybe completed."""
    events: list[tuple[str, dict[str, Any]]] = []
    for number in range(draw(st.integers(min_value=1, max_value=2))):
        external_id = f"SH-{number}"
        lines = draw(order_lines())
        buyer = draw(st.sampled_from(["bound", "self"]))
        events.append((buyer, {"kind": "paid", "external_id": external_id, "lines": lines}))
        for index, body in enumerate(lines):
            # The first line keeps a cent: a refund to zero would close the order to completion.
            left = int(D(body["amount"]) * 100) - (1 if index == 0 else 0)
            for _ in range(draw(st.integers(min_value=0, max_value=2))):
                if left == 0:
                    break
                part = draw(st.integers(min_value=1, max_value=left))
                left -= part
                refund = {"ref": body["line_ref"], "cents": part}
                events.append((buyer, {"kind": "refund", "external_id": external_id, **refund}))
        if draw(st.booleans()):
            events.append((buyer, {"kind": "complete", "external_id": external_id}))
    return events


def _bodies(world: World, scenario: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """The event bodies of a scenario for one world, with event ids fixed by position."""
    bodies = []
    for position, (buyer, step) in enumerate(scenario):
        event_id = f"E-{position}"
        if step["kind"] == "paid":
            bodies.append(
                paid(
                    step["external_id"],
                    *step["lines"],
                    buyer=world.buyers[buyer],
                    event_id=event_id,
                )
            )
        elif step["kind"] == "refund":
            refund = {step["ref"]: _money(step["cents"])}
            bodies.append(
                refunded(
                    step["external_id"],
                    lines=refund,
                    refund_id=f"R-{position}",
                    event_id=event_id,
                )
            )
        else:
            completion = T0 + timedelta(days=1)
            bodies.append(completed(step["external_id"], at=completion, event_id=event_id))
    return bodies


async def _books(world: World) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The world's commissions and ledger, named by roles instead of ids."""
    program_id = world.program.id
    roles = world.roles
    rows = []
    for commission in await Commission.filter(program_id=program_id).select_related(
        "order", "order_line"
    ):
        rows.append(
            (
                commission.order.external_id,
                commission.order_line.line_ref,
                commission.level,
                roles[commission.promoter_id],  # type: ignore[attr-defined]
                commission.status,
                commission.amount,
                commission.settled_amount,
            )
        )
    ledger = [
        (roles[e.promoter_id], e.account, e.kind, e.amount)
        for e in await LedgerEntry.filter(program_id=program_id)
    ]
    balances = [
        (roles[b.promoter_id], "balance", b.available, b.on_hold, b.paid)
        for b in await PromoterBalance.filter(program_id=program_id)
    ]
    return sorted(rows), sorted(ledger) + sorted(balances)


async def _settle_everything() -> None:
    later = T0 + timedelta(days=60)
    await approve_due_commissions(now=later)
    await settle_due_commissions(now=later)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=scenarios(), seed=st.integers(0, 2**32 - 1))
async def test_each_event_three_times_in_any_order_ends_like_each_once_in_order(
    db: str, three_paid_levels: None, scenario: list[tuple[str, dict[str, Any]]], seed: int
) -> None:
    in_order, shuffled = await build_world(), await build_world()
    for body in _bodies(in_order, scenario):
        assert (await send(in_order.program, body)).outcome.status_code == 200
    deliveries = _bodies(shuffled, scenario) * 3
    random.Random(seed).shuffle(deliveries)
    for body in deliveries:
        # 202: a refund or completion kept until its order's paid event arrives.
        assert (await send(shuffled.program, body)).outcome.status_code in {200, 202}

    assert await _books(shuffled) == await _books(in_order)
    await _settle_everything()
    assert await _books(shuffled) == await _books(in_order)
    await check_money_law(in_order)
    await check_money_law(shuffled)
