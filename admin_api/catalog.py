"""The store's catalog as staff see it: its products, and the product ids orders named that
the catalog does not know (such orders are accepted; these ids want a catalog push)."""

from __future__ import annotations

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic_ext import openapi

from server.auth import ROLES_BACKOFFICE, requires
from server.http import Query, parse_query, render
from server.services.catalog import reads as catalog_reads

bp = Blueprint("admin_catalog")


class ProductFilter(Query):
    q: str | None = Field(default=None, min_length=1, max_length=64, description="name or id")
    cursor: int | None = Field(default=None, ge=0)
    limit: int = Field(default=50, ge=1, le=100)


class UnknownFilter(Query):
    cursor: str | None = Field(default=None, min_length=1, max_length=64)
    limit: int = Field(default=50, ge=1, le=100)


@bp.get("/programs/<program_id:int>/catalog/products")
@openapi.definition(summary="The store's products as last pushed, by id", secured={"bearer": []})
@requires(*ROLES_BACKOFFICE)
async def list_products(request: Request, program_id: int) -> HTTPResponse:
    query = parse_query(request, ProductFilter)
    return render(
        await catalog_reads.list_products(
            program_id=program_id, q=query.q, cursor=query.cursor, limit=query.limit
        )
    )


@bp.get("/programs/<program_id:int>/catalog/unknown-products")
@openapi.definition(
    summary="Product ids of orders the catalog does not know: first and last seen, orders",
    secured={"bearer": []},
)
@requires(*ROLES_BACKOFFICE)
async def list_unknown_products(request: Request, program_id: int) -> HTTPResponse:
    query = parse_query(request, UnknownFilter)
    return render(
        await catalog_reads.unknown_products(
            program_id=program_id, cursor=query.cursor, limit=query.limit
        )
    )
