"""Self-referral: a beneficiary above level 0 who is the buyer, or shares their identity."""

from __future__ import annotations

from server.domain.fraud.findings import AnomalyKind, SubjectKind
from server.domain.fraud.identity import Identity, shared_signals
from server.domain.fraud.self_referral import Beneficiary, PaidOrderFacts, detect_self_referral

BUYER = Identity(
    user_id=10,
    unionid="union-buyer",
    phone="13800000000",
    payout_accounts=frozenset({"wechat:o-b"}),
)
STRANGER = Identity(
    user_id=20, unionid="union-x", phone="13900000000", payout_accounts=frozenset({"wechat:o-x"})
)


def facts(*beneficiaries: Beneficiary, buyer_promoter_id: int | None = None, rebate: bool = True):
    return PaidOrderFacts(
        order_id=7,
        buyer=BUYER,
        buyer_promoter_id=buyer_promoter_id,
        self_rebate_enabled=rebate,
        beneficiaries=beneficiaries,
    )


def test_a_genuine_self_purchase_rebate_is_not_flagged() -> None:
    found = detect_self_referral(
        facts(
            Beneficiary(promoter_id=1, level=0, identity=BUYER),
            Beneficiary(promoter_id=2, level=1, identity=STRANGER),
            buyer_promoter_id=1,
        )
    )
    assert found == []


def test_an_ordinary_referral_by_a_stranger_is_not_flagged() -> None:
    assert detect_self_referral(facts(Beneficiary(promoter_id=2, level=1, identity=STRANGER))) == []


def test_a_self_purchase_also_paid_as_level_1_is_flagged_as_double_paid() -> None:
    [finding] = detect_self_referral(
        facts(
            Beneficiary(promoter_id=1, level=0, identity=BUYER),
            Beneficiary(promoter_id=1, level=1, identity=BUYER),
            buyer_promoter_id=1,
        )
    )
    assert finding.kind == AnomalyKind.SELF_REFERRAL
    assert finding.score == 100
    assert finding.evidence["beneficiaries"][0]["rule"] == "self_purchase_paid_above_level_0"


def test_a_rebate_paid_while_the_program_disables_it_is_flagged() -> None:
    [finding] = detect_self_referral(
        facts(
            Beneficiary(promoter_id=1, level=0, identity=BUYER), buyer_promoter_id=1, rebate=False
        )
    )
    assert finding.evidence["beneficiaries"][0]["rule"] == "rebate_not_due"


def test_a_level_1_promoter_sharing_the_buyers_unionid_is_flagged() -> None:
    twin = Identity(user_id=30, unionid="union-buyer")
    [finding] = detect_self_referral(facts(Beneficiary(promoter_id=3, level=1, identity=twin)))
    assert finding.subject_kind == SubjectKind.ORDER
    assert finding.subject_id == "7"
    assert finding.promoter_id == 3
    assert finding.order_ids == (7,)
    assert finding.evidence["beneficiaries"][0]["signals"] == ["unionid"]


def test_a_promoter_sharing_the_buyers_phone_device_or_payout_account_is_flagged() -> None:
    for twin, signal in (
        (Identity(user_id=31, phone=" 13800000000 "), "phone"),
        (Identity(user_id=32, devices=frozenset({"dev"})), "device"),
        (Identity(user_id=33, payout_accounts=frozenset({"wechat:o-b"})), "payout_account"),
    ):
        buyer = Identity(**{**BUYER.__dict__, "devices": frozenset({"dev"})})
        order = PaidOrderFacts(
            order_id=8,
            buyer=buyer,
            buyer_promoter_id=None,
            self_rebate_enabled=False,
            beneficiaries=(Beneficiary(promoter_id=9, level=1, identity=twin),),
        )
        [finding] = detect_self_referral(order)
        assert finding.evidence["beneficiaries"][0]["signals"] == [signal]


def test_the_strongest_shared_signal_sets_the_score() -> None:
    device_only = Identity(user_id=40, devices=frozenset({"d"}))
    same_user = Identity(user_id=10)
    buyer = Identity(user_id=10, devices=frozenset({"d"}))
    order = PaidOrderFacts(
        order_id=1,
        buyer=buyer,
        buyer_promoter_id=None,
        self_rebate_enabled=False,
        beneficiaries=(
            Beneficiary(promoter_id=4, level=2, identity=device_only),
            Beneficiary(promoter_id=5, level=1, identity=same_user),
        ),
    )
    [finding] = detect_self_referral(order)
    assert finding.score == 100
    assert finding.promoter_id == 5


def test_empty_identity_values_never_match() -> None:
    assert shared_signals(Identity(phone="", unionid=None), Identity(phone="", unionid=None)) == ()
