"""The exact request schemas of each route, for the served OpenAPI documents, read from the
models its handler parses (docs/design/platform.md).
"""

from __future__ import annotations

import copy
import inspect
import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sanic import Sanic

_PARSE_CALL = re.compile(r"parse_(body|query)\(\s*request\s*,\s*([A-Za-z_]\w*)")
_DECLARED_BODY = re.compile(r"@openapi\.definition\((?:[^@]*?)\bbody=([A-Za-z_]\w*)")
_HELPER_CALL = re.compile(r"\b(_[a-z]\w*)\(")
_PATH_PARAMETER = re.compile(r"<(\w+)(?::[^>]*)?>")
_REF_TEMPLATE = "#/components/schemas/{model}"


@dataclass(frozen=True)
class RouteModels:
    body: type[BaseModel] | None
    query: type[BaseModel] | None


def _model_named(namespace: dict[str, Any], name: str) -> type[BaseModel] | None:
    model = namespace.get(name)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _models_in(function: Any, *, depth: int = 1) -> dict[str, type[BaseModel]]:
    """`{"body"|"query": Model}` parsed by `function` or by a module helper it calls."""
    function = inspect.unwrap(function)
    try:
        source = inspect.getsource(function)
    except (OSError, TypeError):
        return {}
    namespace = function.__globals__
    found: dict[str, type[BaseModel]] = {}
    for kind, name in _PARSE_CALL.findall(source):
        if model := _model_named(namespace, name):
            found.setdefault(kind, model)
    if depth > 0:
        for helper_name in _HELPER_CALL.findall(source):
            helper = namespace.get(helper_name)
            if inspect.isfunction(helper):
                for kind, model in _models_in(helper, depth=depth - 1).items():
                    found.setdefault(kind, model)
    # The decorators come before the function's own `def`.
    declared = _DECLARED_BODY.search(source.split("def ", 1)[0])
    if declared and "body" not in found and (model := _model_named(namespace, declared[1])):
        found["body"] = model
    return found


def route_models(app: Sanic) -> dict[tuple[str, str], RouteModels]:
    """`(METHOD, /openapi/{path})` → the body and query models its handler parses."""
    models: dict[tuple[str, str], RouteModels] = {}
    for route in app.router.routes:
        path = "/" + _PATH_PARAMETER.sub(r"{\1}", route.path).lstrip("/")
        found = _models_in(route.handler)
        for method in route.methods:
            models[(method.upper(), path)] = RouteModels(found.get("body"), found.get("query"))
    return models


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query value is text or absent, never JSON null: drop the null branch pydantic adds."""
    options = schema.get("anyOf")
    if options:
        kept = [option for option in options if option.get("type") != "null"]
        if len(kept) == 1:
            rest = {key: value for key, value in schema.items() if key != "anyOf"}
            return {**rest, **kept[0]}
    return schema


def _model_schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template=_REF_TEMPLATE)
    components.update(schema.pop("$defs", {}))
    return schema


def _query_parameters(
    model: type[BaseModel], components: dict[str, Any], others: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    query_schema = _model_schema(model, components)
    required = set(query_schema.get("required", []))
    return [parameter for parameter in others if parameter.get("in") != "query"] + [
        {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": _without_null(field_schema),
            **(
                {"description": field_schema["description"]}
                if "description" in field_schema
                else {}
            ),
        }
        for name, field_schema in query_schema.get("properties", {}).items()
    ]


def with_exact_schemas(
    served: dict[str, Any], models: dict[tuple[str, str], RouteModels]
) -> dict[str, Any]:
    """`served` with each operation's exact body schema and query parameters (OpenAPI 3.1)."""
    spec = copy.deepcopy(served)
    # pydantic's JSON Schema (2020-12, `type: null`) is OpenAPI 3.1's dialect.
    spec["openapi"] = "3.1.0"
    components = spec.setdefault("components", {}).setdefault("schemas", {})
    for path, item in spec.get("paths", {}).items():
        for method, operation in item.items():
            found = models.get((method.upper(), path)) if isinstance(operation, dict) else None
            if found is None:
                continue
            if found.body is not None:
                operation["requestBody"] = {
                    "required": True,
                    "content": {
                        "application/json": {"schema": _model_schema(found.body, components)}
                    },
                }
            if found.query is not None:
                operation["parameters"] = _query_parameters(
                    found.query, components, operation.get("parameters", [])
                )
    return spec
