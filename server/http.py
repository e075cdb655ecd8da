"""Helpers the blueprints share: strict body/query parsing and JSON rendering."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from sanic import Request
from sanic.response import HTTPResponse
from sanic.response import json as sanic_json

from server.domain.errors import BadRequest, ValidationFailed
from server.domain.pagination import MAX_PAGE_SIZE

__all__ = ["MAX_PAGE_SIZE", "Body", "Query", "parse_body", "parse_query", "render"]

M = TypeVar("M", bound=BaseModel)

# The widest integer a column holds (SQLite INTEGER, MySQL BIGINT). A larger one in a body or
# query could only fail at the driver, as a 500 (SQLite: "Python int too large").
DB_INTEGER_MAX = 2**63 - 1


def _integers_in_range(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        if not -DB_INTEGER_MAX - 1 <= value <= DB_INTEGER_MAX:
            raise ValueError("integer out of range")
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _integers_in_range(item)
    elif isinstance(value, dict):
        for item in value.values():
            _integers_in_range(item)
    return value


class Body(BaseModel):
    """Base of every request schema: unknown fields and loose types are refused."""

    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_integer_out_of_range(cls, value: Any) -> Any:
        return _integers_in_range(value)


class Query(BaseModel):
    """Base of query-string schemas: values arrive as text, so types are coerced."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_integer_out_of_range(cls, value: Any) -> Any:
        return _integers_in_range(value)


def _fields_from(error: ValidationError) -> dict[str, str]:
    fields: dict[str, str] = {}
    for item in error.errors():
        path = ".".join(str(p) for p in item["loc"]) or "body"
        if item["type"] == "extra_forbidden":
            message = "unknown field"
        elif item["type"] == "missing":
            message = "required"
        else:
            message = item["msg"]
        fields.setdefault(path, message)
    return fields


def parse_body(request: Request, schema: type[M]) -> M:
    """The request's JSON body validated against `schema`, or a coded 400/422."""
    raw = request.body
    if not raw:
        raise BadRequest("a JSON body is required", code="body_required")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("the body is not valid JSON", code="malformed_json") from None
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object", code="body_not_object")
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(
            "the body does not match the schema", code="validation_failed", fields=_fields_from(exc)
        ) from None


def parse_query(request: Request, schema: type[M]) -> M:
    """The query string validated against `schema` (single-valued parameters)."""
    data = {key: values[-1] for key, values in request.args.items()}
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(
            "invalid query parameters", code="invalid_query", fields=_fields_from(exc)
        ) from None


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"cannot render {type(value).__name__}")


# One encoder for every response: json.dumps with options builds a new one per call.
_ENCODER = json.JSONEncoder(default=_default, ensure_ascii=False, separators=(",", ":"))


def _dumps(obj: Any, **kwargs: Any) -> str:
    if kwargs:
        return json.dumps(
            obj, default=_default, ensure_ascii=False, separators=(",", ":"), **kwargs
        )
    return _ENCODER.encode(obj)


def render(data: Any, *, status: int = 200) -> HTTPResponse:
    """JSON response; Decimals become strings, datetimes ISO-8601."""
    return sanic_json(data, status=status, dumps=_dumps)
