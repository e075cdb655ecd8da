"""A program's outgoing webhooks: endpoints (secrets shown once), rotation, the delivery log
and replay. Staff and admins; a scoped account reaches only its programs' endpoints."""

from __future__ import annotations

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, empty
from sanic_ext import openapi

from server.auth import ROLES_STAFF, requires
from server.http import MAX_PAGE_SIZE, Body, Query, parse_body, parse_query, render
from server.idempotent import create_once, render_created
from server.services.webhooks import deliveries as delivery_service
from server.services.webhooks import endpoints as endpoint_service

bp = Blueprint("admin_webhooks")

ENDPOINTS = "/programs/<program_id:int>/webhook-endpoints"
ENDPOINT = ENDPOINTS + "/<endpoint_id:int>"
DELIVERIES = "/programs/<program_id:int>/webhook-deliveries"
URL_FIELD = Field(min_length=1, max_length=1024, description="https URL of the receiver")
TYPES_FIELD = Field(min_length=1, max_length=20, description="event types, e.g. commission.created")


class EndpointCreate(Body):
    url: str = URL_FIELD
    event_types: list[str] = TYPES_FIELD
    description: str | None = Field(default=None, max_length=255)


class EndpointChange(Body):
    url: str | None = Field(default=None, min_length=1, max_length=1024)
    event_types: list[str] | None = Field(default=None, min_length=1, max_length=20)
    description: str | None = Field(default=None, max_length=255)


class RotateBody(Body):
    grace_seconds: int | None = Field(
        default=None, ge=0, description="how long the old secret still signs (default a day)"
    )


class DisableBody(Body):
    reason: str | None = Field(default=None, max_length=255)


class PageQuery(Query):
    cursor: int | None = Field(default=None, ge=1)
    limit: int = Field(default=50, ge=1, le=MAX_PAGE_SIZE)


class DeliveryQuery(PageQuery):
    endpoint_id: int | None = Field(default=None, ge=1)
    status: str | None = Field(default=None, description="pending | succeeded | failed")


@bp.get(ENDPOINTS)
@openapi.definition(summary="A program's webhook endpoints (no secrets)", secured={"bearer": []})
@requires(*ROLES_STAFF)
async def list_endpoints(request: Request, program_id: int) -> HTTPResponse:
    query = parse_query(request, PageQuery)
    endpoints = await endpoint_service.list_endpoints(
        program_id=program_id, cursor=query.cursor, limit=query.limit
    )
    return render(endpoint_service.serialize_endpoint_page(endpoints, limit=query.limit))


@bp.post(ENDPOINTS)
@openapi.definition(
    summary="Add a webhook endpoint; its whsec_ secret is shown in this response only",
    body=EndpointCreate,
    secured={"bearer": []},
)
@requires(*ROLES_STAFF)
async def create_endpoint(request: Request, program_id: int) -> HTTPResponse:
    body = parse_body(request, EndpointCreate)
    issued, replayed = await create_once(
        request,
        lambda: endpoint_service.create_endpoint(
            program_id=program_id,
            url=body.url,
            event_types=body.event_types,
            description=body.description,
            actor=request.ctx.principal,
            settings=request.app.ctx.settings,
            request_id=request.ctx.request_id,
        ),
        replay=lambda endpoint_id: endpoint_service.issued_again(endpoint_id=endpoint_id),
        body=body,
        id_of=lambda issued: issued.endpoint.id,
    )
    return render_created(endpoint_service.serialize_issued(issued), replayed=replayed)


@bp.get(ENDPOINT)
@openapi.definition(summary="One webhook endpoint (no secret)", secured={"bearer": []})
@requires(*ROLES_STAFF)
async def get_endpoint(request: Request, program_id: int, endpoint_id: int) -> HTTPResponse:
    endpoint = await endpoint_service.get_endpoint(program_id=program_id, endpoint_id=endpoint_id)
    return render(endpoint_service.serialize_endpoint(endpoint))


@bp.patch(ENDPOINT)
@openapi.definition(
    summary="Change an endpoint's URL, event types or description",
    body=EndpointChange,
    secured={"bearer": []},
)
@requires(*ROLES_STAFF)
async def update_endpoint(request: Request, program_id: int, endpoint_id: int) -> HTTPResponse:
    body = parse_body(request, EndpointChange)
    endpoint = await endpoint_service.update_endpoint(
        program_id=program_id,
        endpoint_id=endpoint_id,
        url=body.url,
        event_types=body.event_types,
        description=body.description,
        actor=request.ctx.principal,
        settings=request.app.ctx.settings,
        request_id=request.ctx.request_id,
    )
    return render(endpoint_service.serialize_endpoint(endpoint))


@bp.delete(ENDPOINT)
@openapi.definition(summary="Remove an endpoint (its delivery log stays)", secured={"bearer": []})
@requires(*ROLES_STAFF)
async def delete_endpoint(request: Request, program_id: int, endpoint_id: int) -> HTTPResponse:
    await endpoint_service.delete_endpoint(
        program_id=program_id,
        endpoint_id=endpoint_id,
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return empty()


@bp.post(ENDPOINT + "/rotate-secret")
@openapi.definition(
    summary="New secret (shown once); the old one also signs during the grace period",
    body=RotateBody,
    secured={"bearer": []},
)
@requires(*ROLES_STAFF)
async def rotate_secret(request: Request, program_id: int, endpoint_id: int) -> HTTPResponse:
    body = parse_body(request, RotateBody)
    issued = await endpoint_service.rotate_secret(
        program_id=program_id,
        endpoint_id=endpoint_id,
        grace_seconds=body.grace_seconds,
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return render(endpoint_service.serialize_issued(issued))


async def _switch(
    request: Request, program_id: int, endpoint_id: int, *, enabled: bool, reason: str | None
) -> HTTPResponse:
    endpoint = await endpoint_service.set_endpoint_status(
        program_id=program_id,
        endpoint_id=endpoint_id,
        enabled=enabled,
        reason=reason,
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return render(endpoint_service.serialize_endpoint(endpoint))


@bp.post(ENDPOINT + "/disable")
@openapi.definition(summary="Stop sending to an endpoint", body=DisableBody, secured={"bearer": []})
@requires(*ROLES_STAFF)
async def disable_endpoint(request: Request, program_id: int, endpoint_id: int) -> HTTPResponse:
    reason = parse_body(request, DisableBody).reason
    return await _switch(request, program_id, endpoint_id, enabled=False, reason=reason)


@bp.post(ENDPOINT + "/enable")
@openapi.definition(summary="Send to an endpoint again", secured={"bearer": []})
@requires(*ROLES_STAFF)
async def enable_endpoint(request: Request, program_id: int, endpoint_id: int) -> HTTPResponse:
    return await _switch(request, program_id, endpoint_id, enabled=True, reason=None)


@bp.get(DELIVERIES)
@openapi.definition(summary="The delivery log, newest first", secured={"bearer": []})
@requires(*ROLES_STAFF)
async def list_deliveries(request: Request, program_id: int) -> HTTPResponse:
    query = parse_query(request, DeliveryQuery)
    page = await delivery_service.list_deliveries(program_id=program_id, **query.model_dump())
    return render(page)


@bp.get(DELIVERIES + "/<delivery_id:int>")
@openapi.definition(summary="One delivery, its payload and attempts", secured={"bearer": []})
@requires(*ROLES_STAFF)
async def delivery_detail(request: Request, program_id: int, delivery_id: int) -> HTTPResponse:
    detail = await delivery_service.delivery_detail(program_id=program_id, delivery_id=delivery_id)
    return render(detail)


@bp.post(DELIVERIES + "/<delivery_id:int>/replay")
@openapi.definition(
    summary="Send a delivery again now (fresh retry schedule); its attempts after",
    secured={"bearer": []},
)
@requires(*ROLES_STAFF)
async def replay_delivery(request: Request, program_id: int, delivery_id: int) -> HTTPResponse:
    detail = await delivery_service.replay_delivery(
        program_id=program_id,
        delivery_id=delivery_id,
        actor=request.ctx.principal,
        settings=request.app.ctx.settings,
        request_id=request.ctx.request_id,
    )
    return render(detail)
