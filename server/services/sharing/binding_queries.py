"""Reading bindings for staff: a program's binding history, newest first, and the
serializers of bindings and binding decisions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from server import clock
from server.domain.pagination import check_page_limit, next_cursor
from server.domain.sharing.attribution import BindingDecision
from server.models import Binding
from server.services.programs.settings import get_program
from server.services.sharing.bindings import customer_keys


async def list_bindings(
    *,
    program_id: int,
    customer_user_id: int | None = None,
    customer_external_id: str | None = None,
    promoter_id: int | None = None,
    cursor: int | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """A page of the program's bindings, ended ones included, newest first."""
    check_page_limit(limit)
    await get_program(program_id=program_id)
    query = Binding.filter(program_id=program_id)
    if customer_user_id is not None:
        query = query.filter(customer_user_id=customer_user_id)
    if customer_external_id is not None:
        keys = customer_keys(customer_user_id=None, customer_external_id=customer_external_id)
        query = query.filter(customer_key=keys[0])
    if promoter_id is not None:
        query = query.filter(promoter_id=promoter_id)
    if cursor is not None:
        query = query.filter(id__lt=cursor)
    bindings = await query.order_by("-id").limit(limit)
    return {
        "items": [serialize_binding_for_staff(binding) for binding in bindings],
        "next_cursor": next_cursor([row.id for row in bindings], limit),
    }


def _state(binding: Binding, now: datetime) -> str:
    if binding.ended_at is not None:
        return "ended"
    if binding.expires_at is not None and binding.expires_at <= now:
        return "expired"
    return "active"


def serialize_binding_for_staff(binding: Binding) -> dict[str, Any]:
    """A binding with its full provenance and history fields, for staff and finance."""
    return {
        "id": binding.id,
        "program_id": binding.program_id,
        "promoter_id": binding.promoter_id,
        "customer_user_id": binding.customer_user_id,
        "customer_external_id": binding.customer_external_id,
        "state": _state(binding, clock.now()),
        "source": binding.source,
        "bind_mode": binding.bind_mode,
        "channel_id": binding.channel_id,
        "code_id": binding.code_id,
        "visit_id": binding.visit_id,
        "share_link_id": binding.share_link_id,
        "reached_by": binding.reached_by,
        "bound_at": binding.bound_at,
        "expires_at": binding.expires_at,
        "ended_at": binding.ended_at,
        "end_reason": binding.end_reason,
        "replaced_by_id": binding.replaced_by_id,
    }


def serialize_decision(decision: BindingDecision) -> dict[str, Any]:
    """What a customer learns of a binding decision (no promoter identity)."""
    return {
        "action": decision.action.value,
        "reason": decision.reason,
        "bound": decision.promoter_id is not None,
        "bound_at": decision.bound_at,
        "expires_at": decision.expires_at,
    }
