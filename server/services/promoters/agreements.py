"""Promoters accepting the program agreement, and the check that guards withdrawals and new
share links until the current version is accepted (docs/program-settings.md)."""

from __future__ import annotations

from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from server import clock
from server.auth import Principal
from server.domain.promoters.agreements import (
    check_acceptance,
    check_agreement_current,
    required_version,
)
from server.models import AgreementAcceptance, Program, Promoter
from server.services.access.audit import record_action
from server.services.promoters.queries import get_active_promoter


async def _required(program_id: int, conn: BaseDBAsyncClient | None) -> str | None:
    program = await Program.filter(id=program_id).using_db(conn).only("id", "requirements").first()
    return required_version(program.requirements if program else None)


async def require_current_agreement(
    *, promoter: Promoter, conn: BaseDBAsyncClient | None = None
) -> None:
    """403 agreement_outdated (with the version to accept) when the promoter has not accepted
    the agreement version their program asks for now."""
    required = await _required(promoter.program_id, conn)  # type: ignore[attr-defined]
    check_agreement_current(required=required, accepted=promoter.agreement_version)


async def record_acceptance(
    *, promoter: Promoter, version: str, conn: BaseDBAsyncClient
) -> AgreementAcceptance:
    """The promoter's acceptance of `version`: recorded once, with its time."""
    existing = (
        await AgreementAcceptance.filter(promoter_id=promoter.id, version=version)
        .using_db(conn)
        .first()
    )
    if existing is not None:
        return existing
    return await AgreementAcceptance.create(
        program_id=promoter.program_id,  # type: ignore[attr-defined]
        promoter_id=promoter.id,
        version=version,
        accepted_at=clock.now(),
        using_db=conn,
    )


def _status(
    required: str | None, promoter: Promoter, accepted: AgreementAcceptance | None
) -> dict[str, Any]:
    return {
        "promoter_id": promoter.id,
        "current_version": required,
        "accepted_version": promoter.agreement_version,
        "accepted_at": accepted.accepted_at if accepted else None,
        "up_to_date": required is None or promoter.agreement_version == required,
    }


async def agreement_status(*, user_id: int, program_id: int) -> dict[str, Any]:
    """Which agreement version the program asks for and which the caller accepted, when."""
    promoter = await get_active_promoter(user_id=user_id, program_id=program_id)
    accepted = None
    if promoter.agreement_version:
        accepted = await AgreementAcceptance.get_or_none(
            promoter_id=promoter.id, version=promoter.agreement_version
        )
    return _status(await _required(program_id, None), promoter, accepted)


async def accept_agreement(
    *, user_id: int, program_id: int, version: str, request_id: str | None = None
) -> dict[str, Any]:
    """The calling promoter accepts the program's current agreement version (audited)."""
    async with in_transaction() as conn:
        found = await get_active_promoter(user_id=user_id, program_id=program_id, using_db=conn)
        # The row lock makes two acceptances of one promoter run one after the other.
        promoter = await Promoter.filter(id=found.id).using_db(conn).select_for_update().get()
        required = await _required(program_id, conn)
        accepted_version = check_acceptance(required=required, offered=version)
        acceptance = await record_acceptance(promoter=promoter, version=accepted_version, conn=conn)
        if promoter.agreement_version != accepted_version:
            before = promoter.agreement_version
            promoter.agreement_version = accepted_version
            await promoter.save(using_db=conn, update_fields=["agreement_version", "updated_at"])
            await record_action(
                actor=Principal(kind="user", id=user_id, roles=frozenset({"promoter"})),
                action="promoter.agreement_accept",
                target_kind="promoter",
                target_id=promoter.id,
                program_id=program_id,
                details={"changes": {"agreement_version": {"before": before, "after": version}}},
                request_id=request_id,
                using_db=conn,
            )
    return _status(required, promoter, acceptance)
