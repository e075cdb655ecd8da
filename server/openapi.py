"""One OpenAPI document per surface, cut from the spec sanic-ext builds for the whole app."""

from __future__ import annotations

from typing import Any

from sanic import Request, Sanic
from sanic.response import HTTPResponse
from sanic_ext.extensions.openapi.builders import SpecificationBuilder

from server.auth import public
from server.http import render

SURFACES = {
    "mp": ("/mp/v1", "fenxiao mini-program API", "Promoters and customers in the mini-program."),
    "admin": (
        "/admin/v1",
        "fenxiao admin API",
        "Merchant staff, finance and admin; server-to-server endpoints for the store.",
    ),
}


def surface_spec(app: Sanic, surface: str) -> dict[str, Any]:
    prefix, title, description = SURFACES[surface]
    spec = SpecificationBuilder().build(app).serialize()
    spec["paths"] = {
        path: item for path, item in spec.get("paths", {}).items() if path.startswith(prefix)
    }
    spec["info"] = {**spec.get("info", {}), "title": title, "description": description}
    components = spec.setdefault("components", {})
    components.setdefault("securitySchemes", {})["bearer"] = {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    return spec


def install_openapi(app: Sanic) -> None:
    for surface, (prefix, _, _) in SURFACES.items():

        @public
        async def spec(request: Request, surface: str = surface) -> HTTPResponse:
            # Routes are fixed once the server runs; building the document takes ~0.3 s.
            cache: dict[str, dict[str, Any]] = request.app.ctx.__dict__.setdefault(
                "openapi_cache", {}
            )
            if surface not in cache:
                cache[surface] = surface_spec(request.app, surface)
            return render(cache[surface])

        app.add_route(spec, f"{prefix}/openapi.json", name=f"openapi_{surface}", methods=["GET"])
