"""Rule-set versions of a program: staff make a draft of the live version, edit, simulate
and publish it; back office reads every version (docs/rule-sets.md)."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic_ext import openapi

from admin_api.commission_rules import CapCreate, CapPatch, RuleCreate, RulePatch
from admin_api.incentives import BonusCreate, BonusPatch, BoostCreate, BoostPatch
from admin_api.tiers import TierCreate, TierPatch
from server.auth import ROLES_BACKOFFICE, ROLES_STAFF, requires
from server.domain.errors import ValidationFailed
from server.http import Body, parse_body, render, validate_body
from server.idempotent import REPLAYED_HEADER, create_once, render_created
from server.services.commissions import simulation as simulation_service
from server.services.programs import rule_sets as rule_sets_service

bp = Blueprint("admin_rule_sets")


class DraftCreate(Body):
    note: str = Field(default="", max_length=255)


class DraftEdit(Body):
    """One record of the draft: `key` null adds one; `changes` as the record's own PATCH
    takes them (`enabled: false` stops a record from being used)."""

    kind: str = Field(description="tier | commission_rule | period_cap | boost | milestone_bonus")
    key: int | None = Field(
        default=None, description="the record's id, or a new record's negative key; null adds"
    )
    changes: dict[str, Any] = Field(default_factory=dict)


class PublishBody(Body):
    pass


class SimulationBody(Body):
    start: date = Field(strict=False, description="first local day (the program's time zone)")
    end: date = Field(strict=False, description="last local day, included")
    top: int = Field(default=20, ge=1, le=simulation_service.MAX_TOP_ORDERS)


# Per kind, what `changes` must look like: the record's own create (key null) and PATCH bodies.
SCHEMAS: dict[str, tuple[type[Body], type[Body]]] = {
    "tier": (TierCreate, TierPatch),
    "commission_rule": (RuleCreate, RulePatch),
    "period_cap": (CapCreate, CapPatch),
    "boost": (BoostCreate, BoostPatch),
    "milestone_bonus": (BonusCreate, BonusPatch),
}


def draft_changes(kind: str, key: int | None, changes: dict[str, Any]) -> dict[str, Any]:
    """`changes` checked by the kind's own API schema (422 naming each field)."""
    if kind not in SCHEMAS:
        raise ValidationFailed(
            "unknown kind of record",
            code="invalid_rule_set_kind",
            fields={"kind": "one of " + ", ".join(SCHEMAS)},
        )
    create, patch = SCHEMAS[kind]
    return validate_body(changes, create if key is None else patch).model_dump(exclude_unset=True)


def _shown(result: tuple[Any, int]) -> dict[str, Any]:
    version, live = result
    return rule_sets_service.serialize_version(version, live=live)


@bp.get("/programs/<program_id:int>/rule-set/versions")
@openapi.definition(summary="A program's rule-set versions, newest first", secured={"bearer": []})
@requires(*ROLES_BACKOFFICE)
async def list_versions(request: Request, program_id: int) -> HTTPResponse:
    return render(await rule_sets_service.list_versions(program_id=program_id))


@bp.post("/programs/<program_id:int>/rule-set/drafts")
@openapi.definition(
    summary="Make a draft of the live rule-set version", body=DraftCreate, secured={"bearer": []}
)
@requires(*ROLES_STAFF)
async def create_draft(request: Request, program_id: int) -> HTTPResponse:
    body = parse_body(request, DraftCreate)
    result, replayed = await create_once(
        request,
        lambda: rule_sets_service.create_draft(
            program_id=program_id,
            note=body.note,
            actor=request.ctx.principal,
            request_id=request.ctx.request_id,
        ),
        replay=lambda version_id: rule_sets_service.get_version(version_id=version_id),
        body=body,
    )
    return render_created(_shown(result), replayed=replayed)


@bp.get("/rule-set-versions/<version_id:int>")
@openapi.definition(
    summary="One rule-set version with its records and what it changes", secured={"bearer": []}
)
@requires(*ROLES_BACKOFFICE)
async def get_version(request: Request, version_id: int) -> HTTPResponse:
    shown = _shown(await rule_sets_service.get_version(version_id=version_id))
    changes = await rule_sets_service.version_changes(version_id=version_id)
    return render({**shown, **changes})


@bp.patch("/rule-set-versions/<version_id:int>")
@openapi.definition(
    summary="Add or change one record of a draft (checked as a direct edit would be)",
    body=DraftEdit,
    secured={"bearer": []},
)
@requires(*ROLES_STAFF)
async def edit_draft(request: Request, version_id: int) -> HTTPResponse:
    body = parse_body(request, DraftEdit)
    result = await rule_sets_service.edit_draft(
        version_id=version_id,
        kind=body.kind,
        key=body.key,
        changes=draft_changes(body.kind, body.key, body.changes),
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return render(_shown(result))


@bp.post("/rule-set-versions/<version_id:int>/discard")
@openapi.definition(summary="Discard a draft (it stays readable)", secured={"bearer": []})
@requires(*ROLES_STAFF)
async def discard_draft(request: Request, version_id: int) -> HTTPResponse:
    result = await rule_sets_service.discard_draft(
        version_id=version_id, actor=request.ctx.principal, request_id=request.ctx.request_id
    )
    return render(_shown(result))


@bp.post("/rule-set-versions/<version_id:int>/publish")
@openapi.definition(
    summary="Publish a draft: new orders are computed under it (409 when another went live)",
    body=PublishBody,
    secured={"bearer": []},
)
@requires(*ROLES_STAFF)
async def publish_draft(request: Request, version_id: int) -> HTTPResponse:
    body = parse_body(request, PublishBody)
    result, replayed = await create_once(
        request,
        lambda: rule_sets_service.publish_draft(
            version_id=version_id,
            actor=request.ctx.principal,
            request_id=request.ctx.request_id,
        ),
        replay=lambda published_id: rule_sets_service.get_version(version_id=published_id),
        body=body,
    )
    response = render(_shown(result))
    if replayed:
        response.headers[REPLAYED_HEADER] = "true"
    return response


@bp.post("/rule-set-versions/<version_id:int>/simulations")
@openapi.definition(
    summary="What a version would have paid on a past range's orders (commissions and"
    " milestone bonus awards), against what was paid",
    body=SimulationBody,
    secured={"bearer": []},
)
@requires(*ROLES_BACKOFFICE)
async def simulate(request: Request, version_id: int) -> HTTPResponse:
    body = parse_body(request, SimulationBody)
    result = await simulation_service.simulate_version(
        version_id=version_id, start=body.start, end=body.end, top=body.top
    )
    return render(result)
