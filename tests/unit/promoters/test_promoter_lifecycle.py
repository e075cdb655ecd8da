"""The promoter life cycle table and the application rules, as pure functions."""

from __future__ import annotations

import itertools

import pytest

from server.domain.errors import IllegalTransition, ValidationFailed
from server.domain.promoters.application import (
    ApplicationRequirements,
    approves_at_once,
    check_applicant,
    is_valid_phone,
)
from server.domain.promoters.status import (
    ACTIVE_STATUSES,
    LIVE_STATUSES,
    PROMOTER_LIFECYCLE,
    PromoterStatus,
)

S = PromoterStatus
LEGAL_MOVES = {
    (S.APPLIED, "approve"): S.APPROVED,
    (S.APPLIED, "reject"): S.REJECTED,
    (S.APPLIED, "expire"): S.EXPIRED,
    (S.APPLIED, "disable"): S.DISABLED,
    (S.APPROVED, "suspend"): S.SUSPENDED,
    (S.APPROVED, "disable"): S.DISABLED,
    (S.SUSPENDED, "reinstate"): S.APPROVED,
    (S.SUSPENDED, "disable"): S.DISABLED,
}
ACTIONS = sorted({action for _, action in LEGAL_MOVES})
ILLEGAL_MOVES = [pair for pair in itertools.product(list(S), ACTIONS) if pair not in LEGAL_MOVES]


@pytest.mark.parametrize(("source", "action"), list(LEGAL_MOVES))
def test_every_legal_move_leads_to_its_status(source: PromoterStatus, action: str) -> None:
    assert PROMOTER_LIFECYCLE.target(source, action) is LEGAL_MOVES[(source, action)]


@pytest.mark.parametrize(("source", "action"), ILLEGAL_MOVES)
def test_every_other_move_is_refused_with_a_coded_conflict(
    source: PromoterStatus, action: str
) -> None:
    with pytest.raises(IllegalTransition) as err:
        PROMOTER_LIFECYCLE.target(source, action)
    assert err.value.status_code == 409
    assert err.value.code == "promoter_illegal_transition"


@pytest.mark.parametrize("final", [S.REJECTED, S.EXPIRED, S.DISABLED])
def test_rejected_expired_and_disabled_profiles_are_final(final: PromoterStatus) -> None:
    assert PROMOTER_LIFECYCLE.allowed_actions(final) == []


def test_only_approved_promoters_are_active_and_only_decided_ends_free_the_slot() -> None:
    assert {S.APPROVED} == ACTIVE_STATUSES
    assert {S.APPLIED, S.APPROVED, S.SUSPENDED} == LIVE_STATUSES


@pytest.mark.parametrize(
    "phone", ["13812345678", "19912345678", "+8613812345678", "+441234567890", "+123456"]
)
def test_mainland_mobiles_and_e164_numbers_are_valid_phones(phone: str) -> None:
    assert is_valid_phone(phone)


@pytest.mark.parametrize(
    "phone",
    [
        "12812345678",
        "1381234567",
        "138123456789",
        "8613812345678",
        "+12345",
        "+1234567890123456",
        "138-1234-5678",
        "abc",
    ],
)
def test_other_phone_shapes_are_refused(phone: str) -> None:
    assert not is_valid_phone(phone)


def _requirements(**raw: object) -> ApplicationRequirements:
    return ApplicationRequirements.from_program(raw)


def test_required_real_name_and_phone_are_reported_together() -> None:
    with pytest.raises(ValidationFailed) as err:
        check_applicant(
            _requirements(real_name=True, phone=True),
            real_name=None,
            phone=None,
            agreement_version=None,
        )
    assert err.value.fields == {"real_name": "required", "phone": "required"}


def test_an_optional_phone_is_still_checked_when_given() -> None:
    with pytest.raises(ValidationFailed) as err:
        check_applicant(_requirements(), real_name=None, phone="12345", agreement_version=None)
    assert set(err.value.fields) == {"phone"}


@pytest.mark.parametrize("accepted", [None, "v1"])
def test_accepting_anything_but_the_current_agreement_is_outdated(accepted: str | None) -> None:
    with pytest.raises(ValidationFailed) as err:
        check_applicant(
            _requirements(agreement_version="v2"),
            real_name=None,
            phone=None,
            agreement_version=accepted,
        )
    assert err.value.code == "agreement_outdated"


def test_an_applicant_meeting_every_requirement_passes() -> None:
    check_applicant(
        _requirements(real_name=True, phone=True, agreement_version="v2"),
        real_name="张三",
        phone="13812345678",
        agreement_version="v2",
    )


def test_an_applicant_is_never_told_of_a_fee_or_deposit() -> None:
    # An entry fee is one of the forms 《禁止传销条例》第七条 forbids: a stored one is ignored.
    requirements = _requirements(real_name=True, deposit="99.00")
    assert requirements.to_dict() == {
        "real_name": True,
        "phone": False,
        "agreement_version": None,
    }


@pytest.mark.parametrize(
    ("mode", "invited", "at_once"),
    [
        ("open", False, True),
        ("open", True, True),
        ("review", False, False),
        ("review", True, False),
        ("invite_only", True, True),
        ("something-new", True, False),
    ],
)
def test_recruitment_mode_decides_whether_approval_is_immediate(
    mode: str, invited: bool, at_once: bool
) -> None:
    assert approves_at_once(mode, invited=invited) is at_once


def test_an_invite_only_program_refuses_an_uninvited_applicant() -> None:
    with pytest.raises(ValidationFailed) as err:
        approves_at_once("invite_only", invited=False)
    assert err.value.code == "invite_required"
