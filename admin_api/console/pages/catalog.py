"""The store's catalog for staff: product ids orders named that the catalog does not know
(first and last seen, orders), and the products as last pushed."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from admin_api.catalog import ProductFilter, UnknownFilter
from admin_api.console.guard import console_route
from admin_api.console.labels import N_
from admin_api.console.pages.common import list_page
from server.auth import ROLES_BACKOFFICE
from server.services.catalog import reads as catalog_reads

bp = Blueprint("console_catalog")


@bp.get("/catalog/unknown-products")
@console_route(*ROLES_BACKOFFICE)
async def unknown_products(request: Request) -> HTTPResponse:
    return await list_page(
        request,
        UnknownFilter,
        lambda query, program_id: catalog_reads.unknown_products(
            program_id=program_id, cursor=query.cursor, limit=query.limit
        ),
        heading=N_("Unknown products"),
        template="catalog/unknown.html",
        rows="catalog/_unknown_rows.html",
    )


@bp.get("/catalog/products")
@console_route(*ROLES_BACKOFFICE)
async def products(request: Request) -> HTTPResponse:
    return await list_page(
        request,
        ProductFilter,
        lambda query, program_id: catalog_reads.list_products(
            program_id=program_id, q=query.q, cursor=query.cursor, limit=query.limit
        ),
        heading=N_("Catalog"),
        template="catalog/products.html",
        rows="catalog/_product_rows.html",
    )
