"""The program agreement: a promoter works (withdraws, makes new share links) only under the
version the program currently asks for; a new version must be accepted first."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from server.domain.errors import Forbidden, ValidationFailed

OUTDATED = "agreement_outdated"


def required_version(requirements: Mapping[str, Any] | None) -> str | None:
    """The agreement version a program's requirements ask for, or None."""
    version = (requirements or {}).get("agreement_version")
    return str(version) if version else None


def agreement_accepted(required: str | None, accepted: str | None) -> bool:
    """Whether a promoter who accepted `accepted` may work under the `required` version."""
    return required is None or accepted == required


def check_agreement_current(*, required: str | None, accepted: str | None) -> None:
    """403 agreement_outdated, naming the version to accept, unless it is accepted."""
    if not agreement_accepted(required, accepted):
        raise Forbidden(
            f"accept agreement version {required} first",
            code=OUTDATED,
            fields={"agreement_version": required},
        )


def check_acceptance(*, required: str | None, offered: str) -> str:
    """The version a promoter accepts: only the program's current one (422 otherwise)."""
    if required is None:
        raise ValidationFailed(
            "this program has no agreement to accept",
            code="no_agreement",
            fields={"version": "the program asks for none"},
        )
    if offered != required:
        raise ValidationFailed(
            f"the current agreement is version {required}",
            code=OUTDATED,
            fields={"version": f"must be {required}", "agreement_version": required},
        )
    return offered
