"""One OpenAPI document per surface, cut from the spec sanic-ext builds for the whole app,
with the exact request schemas the handlers parse (server/openapi_schemas.py)."""

from __future__ import annotations

from typing import Any

from sanic import Request, Sanic
from sanic.response import HTTPResponse
from sanic_ext.extensions.openapi.builders import SpecificationBuilder

from server.auth import public
from server.http import render
from server.openapi_schemas import route_models, with_exact_schemas

SURFACES = {
    "mp": ("/mp/v1", "fenxiao mini-program API", "Promoters and customers in the mini-program."),
    "admin": (
        "/admin/v1",
        "fenxiao admin API",
        "Merchant staff, finance and admin; server-to-server endpoints for the store.",
    ),
}


def whole_spec(app: Sanic) -> dict[str, Any]:
    """The document sanic-ext builds for the whole app."""
    # Valid only while this app is the last one started in the process: sanic-ext marks each
    # route's description with the app that started last (several in the test suite).
    return with_exact_schemas(SpecificationBuilder().build(app).serialize(), route_models(app))


def surface_spec(whole: dict[str, Any], surface: str) -> dict[str, Any]:
    """One surface's document, cut from the whole app's."""
    prefix, title, description = SURFACES[surface]
    components = whole.get("components", {})
    bearer = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    return {
        **whole,
        "paths": {
            path: item for path, item in whole.get("paths", {}).items() if path.startswith(prefix)
        },
        "info": {**whole.get("info", {}), "title": title, "description": description},
        "components": {
            **components,
            "securitySchemes": {**components.get("securitySchemes", {}), "bearer": bearer},
        },
    }


def install_openapi(app: Sanic) -> None:
    async def build_documents(app: Sanic) -> None:
        # Routes are fixed once the server runs, and sanic-ext described them as it started
        # (before_server_start); building takes ~0.3 s, once per worker.
        whole = whole_spec(app)
        app.ctx.openapi_documents = {surface: surface_spec(whole, surface) for surface in SURFACES}

    app.after_server_start(build_documents)

    for surface, (prefix, _, _) in SURFACES.items():

        @public
        async def spec(request: Request, surface: str = surface) -> HTTPResponse:
            return render(request.app.ctx.openapi_documents[surface])

        app.add_route(spec, f"{prefix}/openapi.json", name=f"openapi_{surface}", methods=["GET"])
