"""The store's catalog pushed over signed S2S (scope catalog:write): categories and products,
upserted together; the program comes from the signing key."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic_ext import openapi

from server.domain.access.scopes import CATALOG_WRITE
from server.domain.catalog.sync import MAX_PUSH_ROWS
from server.http import Body, parse_body
from server.idempotent import create_once, render_created
from server.s2s_auth import S2S_OPENAPI_HEADERS, s2s_signed
from server.services.catalog import sync

bp = Blueprint("admin_s2s_catalog")

StoreId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:/\-]+$")]
UPDATED_AT = "ISO-8601 with offset: the store's time of this change (a later one wins)"


class CategoryEntry(Body):
    id: StoreId = Field(description="the store's category id, as order lines name it")
    name: str = Field(min_length=1, max_length=128, pattern=r"\S")
    updated_at: str = Field(min_length=10, max_length=40, description=UPDATED_AT)


class ProductEntry(Body):
    id: StoreId = Field(description="the store's product id, as order lines name it")
    name: str = Field(min_length=1, max_length=255, pattern=r"\S")
    category_id: StoreId | None = None
    price: str = Field(min_length=1, max_length=24, description="a decimal string, e.g. '39.90'")
    currency: str = Field(min_length=3, max_length=3, description="the program's currency")
    status: str = Field(description="active | inactive")
    updated_at: str = Field(min_length=10, max_length=40, description=UPDATED_AT)


class CatalogPushBody(Body):
    categories: list[CategoryEntry] = Field(default_factory=list, max_length=MAX_PUSH_ROWS)
    products: list[ProductEntry] = Field(default_factory=list, max_length=MAX_PUSH_ROWS)


@bp.post("/s2s/catalog")
@openapi.definition(
    summary=f"Upsert up to {MAX_PUSH_ROWS} categories and products (idempotent; later wins)",
    body=CatalogPushBody,
    parameter=S2S_OPENAPI_HEADERS,
)
@s2s_signed(scope=CATALOG_WRITE)
async def push_catalog(request: Request) -> HTTPResponse:
    body = parse_body(request, CatalogPushBody)
    caller = request.ctx.s2s
    push, replayed = await create_once(
        request,
        lambda: sync.push_catalog(
            program_id=caller.program_id,
            categories=[entry.model_dump() for entry in body.categories],
            products=[entry.model_dump() for entry in body.products],
            key_id=caller.key_id,
        ),
        replay=lambda push_id: sync.catalog_push(push_id=push_id),
        body=body,
    )
    return render_created(sync.serialize_push(push), replayed=replayed)
