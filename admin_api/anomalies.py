"""The anomaly review queue: list, detail with evidence, confirm or dismiss (audited), and a
promoter's behaviour page. Staff and admin decide; finance reads.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic_ext import openapi

from server.auth import ROLES_BACKOFFICE, ROLES_STAFF, requires
from server.domain.fraud.findings import MAX_SCORE, AnomalyKind
from server.http import MAX_PAGE_SIZE, Body, Query, parse_body, parse_query, render
from server.services.fraud import decisions as anomaly_decisions
from server.services.fraud import queries as anomaly_queries
from server.services.promoters import behaviour as promoter_behaviour

bp = Blueprint("admin_anomalies")


class AnomalyQueueQuery(Query):
    program_id: int | None = Field(default=None, ge=1)
    kind: AnomalyKind | None = None
    status: Literal["open", "confirmed", "dismissed", "any"] = "open"
    min_score: int | None = Field(default=None, ge=0, le=MAX_SCORE)
    max_score: int | None = Field(default=None, ge=0, le=MAX_SCORE)
    promoter_id: int | None = Field(default=None, ge=1)
    cursor: int | None = Field(default=None, ge=1)
    limit: int = Field(default=50, ge=1, le=MAX_PAGE_SIZE)


class ConfirmBody(Body):
    note: str = Field(min_length=1, max_length=512)
    suspend_promoter: bool = False


class DismissBody(Body):
    note: str = Field(min_length=1, max_length=512)


class DecisionBody(Body):
    ids: list[int] = Field(min_length=1, max_length=anomaly_decisions.MAX_DECISION_SIZE)
    action: Literal["confirm", "dismiss"]
    note: str = Field(min_length=1, max_length=512)
    suspend_promoter: bool = False


class BehaviourQuery(Query):
    days: int = Field(default=30, ge=1, le=promoter_behaviour.MAX_DAYS)


async def anomaly_page(
    query: AnomalyQueueQuery, *, programs: frozenset[int] | None = None
) -> dict[str, Any]:
    """The queue the API and the console show for the same filters."""
    return await anomaly_queries.anomaly_queue(
        program_id=query.program_id,
        programs=programs,
        kind=query.kind.value if query.kind else None,
        status=None if query.status == "any" else query.status,
        min_score=query.min_score,
        max_score=query.max_score,
        promoter_id=query.promoter_id,
        cursor=query.cursor,
        limit=query.limit,
    )


@bp.get("/anomalies")
@openapi.definition(summary="The anomaly review queue, newest first", secured={"bearer": []})
@requires(*ROLES_BACKOFFICE)
async def list_anomalies(request: Request) -> HTTPResponse:
    query = parse_query(request, AnomalyQueueQuery)
    return render(await anomaly_page(query, programs=request.ctx.principal.programs))


@bp.get("/anomalies/<anomaly_id:int>")
@openapi.definition(
    summary="One anomaly with its evidence and linked orders, commissions and visits",
    secured={"bearer": []},
)
@requires(*ROLES_BACKOFFICE)
async def get_anomaly(request: Request, anomaly_id: int) -> HTTPResponse:
    return render(await anomaly_queries.anomaly_detail(anomaly_id=anomaly_id))


async def _decide(
    request: Request, ids: list[int], action: str, note: str, suspend: bool
) -> HTTPResponse:
    outcomes = await anomaly_decisions.decide_anomalies(
        ids=ids,
        action=action,
        note=note,
        suspend_promoter=suspend,
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return render({"items": outcomes})


@bp.post("/anomalies/<anomaly_id:int>/confirm")
@openapi.definition(
    summary="Confirm an anomaly: reject or reverse its commissions, optionally suspend",
    body=ConfirmBody,
    secured={"bearer": []},
)
@requires(*ROLES_STAFF)
async def confirm_anomaly(request: Request, anomaly_id: int) -> HTTPResponse:
    body = parse_body(request, ConfirmBody)
    return await _decide(request, [anomaly_id], "confirm", body.note, body.suspend_promoter)


@bp.post("/anomalies/<anomaly_id:int>/dismiss")
@openapi.definition(
    summary="Dismiss an anomaly: release the holds it placed",
    body=DismissBody,
    secured={"bearer": []},
)
@requires(*ROLES_STAFF)
async def dismiss_anomaly(request: Request, anomaly_id: int) -> HTTPResponse:
    body = parse_body(request, DismissBody)
    return await _decide(request, [anomaly_id], "dismiss", body.note, False)


@bp.post("/anomalies/decisions")
@openapi.definition(
    summary="Confirm or dismiss many anomalies, all or none",
    body=DecisionBody,
    secured={"bearer": []},
)
@requires(*ROLES_STAFF, body={"ids": "anomaly"})
async def decide_anomalies(request: Request) -> HTTPResponse:
    body = parse_body(request, DecisionBody)
    return await _decide(request, body.ids, body.action, body.note, body.suspend_promoter)


@bp.get("/promoters/<promoter_id:int>/behaviour")
@openapi.definition(
    summary="A promoter's shares, visits, conversion and refund rates per day, open anomalies",
    secured={"bearer": []},
)
@requires(*ROLES_BACKOFFICE)
async def promoter_behaviour_page(request: Request, promoter_id: int) -> HTTPResponse:
    query = parse_query(request, BehaviourQuery)
    return render(
        await promoter_behaviour.promoter_behaviour(promoter_id=promoter_id, days=query.days)
    )
