"""Applying to a program: what its requirements ask of an applicant and what its
recruitment mode does with the application."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from server.domain.errors import ValidationFailed

MAINLAND_MOBILE = re.compile(r"1[3-9]\d{9}")
E164_PHONE = re.compile(r"\+\d{6,15}")
MAX_REAL_NAME_LENGTH = 64


class RecruitmentMode(StrEnum):
    OPEN = "open"
    REVIEW = "review"
    INVITE_ONLY = "invite_only"


@dataclass(frozen=True, kw_only=True)
class ApplicationRequirements:
    """A program's `requirements` JSON, read strictly. There is no fee or deposit: an entry
    fee is one of the forms 《禁止传销条例》第七条 forbids (docs/program-settings.md)."""

    real_name: bool = False
    phone: bool = False
    agreement_version: str | None = None

    @classmethod
    def from_program(cls, raw: Mapping[str, Any] | None) -> ApplicationRequirements:
        raw = raw or {}
        version = raw.get("agreement_version")
        return cls(
            real_name=bool(raw.get("real_name")),
            phone=bool(raw.get("phone")),
            agreement_version=str(version) if version else None,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "real_name": self.real_name,
            "phone": self.phone,
            "agreement_version": self.agreement_version,
        }


def is_valid_phone(phone: str) -> bool:
    """A mainland mobile number (1[3-9] + 9 digits) or an E.164 number (+ and 6–15 digits)."""
    return bool(MAINLAND_MOBILE.fullmatch(phone) or E164_PHONE.fullmatch(phone))


def phone_variants(phone: str | None) -> frozenset[str]:
    """The spellings one mainland number is stored under: '13812345678' and '+8613812345678'."""
    if not phone:
        return frozenset()
    if MAINLAND_MOBILE.fullmatch(phone):
        return frozenset({phone, "+86" + phone})
    if phone.startswith("+86") and MAINLAND_MOBILE.fullmatch(phone[3:]):
        return frozenset({phone, phone[3:]})
    return frozenset({phone})


def check_applicant(
    requirements: ApplicationRequirements,
    *,
    real_name: str | None,
    phone: str | None,
    agreement_version: str | None,
) -> None:
    """Refuse an application that does not meet the program's requirements."""
    # An outdated agreement is its own code, so the mini-program can show the new text.
    fields: dict[str, str] = {}
    if requirements.real_name and not real_name:
        fields["real_name"] = "required"
    elif real_name and len(real_name) > MAX_REAL_NAME_LENGTH:
        fields["real_name"] = f"at most {MAX_REAL_NAME_LENGTH} characters"
    if requirements.phone and not phone:
        fields["phone"] = "required"
    elif phone and not is_valid_phone(phone):
        fields["phone"] = "must be a mainland mobile (1[3-9] + 9 digits) or E.164 (+ 6–15 digits)"
    if fields:
        raise ValidationFailed(
            "the application does not meet the program's requirements",
            code="validation_failed",
            fields=fields,
        )
    expected = requirements.agreement_version
    if expected is not None and agreement_version != expected:
        raise ValidationFailed(
            f"the current agreement is version {expected}",
            code="agreement_outdated",
            fields={"agreement_version": f"must accept version {expected}"},
        )


def approves_at_once(mode: str, *, invited: bool) -> bool:
    """Whether an application is approved on the spot (else it waits for staff review)."""
    # invite_only approves at once because the inviter's code is the gate; a mode this code does
    # not know queues: never auto-approve a misconfiguration.
    try:
        recruitment = RecruitmentMode(mode)
    except ValueError:
        return False
    if recruitment is RecruitmentMode.INVITE_ONLY and not invited:
        raise ValidationFailed(
            "this program accepts invited applicants only",
            code="invite_required",
            fields={"invite_code": "required"},
        )
    return recruitment in (RecruitmentMode.OPEN, RecruitmentMode.INVITE_ONLY)
