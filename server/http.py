"""Helpers the blueprints share: strict body/query parsing and JSON rendering."""

from __future__ import annotations

import json
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from types import NoneType
from typing import Annotated, Any, ClassVar, Literal, TypeVar, get_args, get_origin

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError
from sanic import Request
from sanic.response import HTTPResponse
from sanic.response import json as sanic_json

from server.domain.errors import BadRequest, ValidationFailed
from server.domain.instants import utc, utc_assumed
from server.domain.pagination import MAX_PAGE_SIZE

__all__ = [
    "MAX_PAGE_SIZE",
    "Body",
    "Moment",
    "Query",
    "QueryMoment",
    "json_body",
    "parse_body",
    "parse_query",
    "render",
    "validate_body",
]

M = TypeVar("M", bound=BaseModel)


def _utc_when_aware(moment: datetime) -> datetime:
    return utc(moment) if moment.utcoffset() is not None else moment


# Times are converted to UTC where they enter (server/domain/instants.py). In a body, a time
# without an offset is left for the domain's checks to refuse with their own coded error.
Moment = Annotated[
    datetime,
    Field(strict=False, description="ISO-8601 with a time zone"),
    AfterValidator(_utc_when_aware),
]
# In a query filter, a time without an offset is read as UTC.
QueryMoment = Annotated[
    datetime,
    Field(description="ISO-8601; without a time zone, UTC"),
    AfterValidator(utc_assumed),
]

# The widest integer a column holds (SQLite INTEGER, MySQL BIGINT). A larger one in a body or
# query could only fail at the driver, as a 500 (SQLite: "Python int too large").
DB_INTEGER_MAX = 2**63 - 1
# The error type of such an integer: its context names the field (`_fields_from`).
OUT_OF_RANGE = "integer_out_of_range"


def _integers_in_range(value: Any) -> bool:
    if isinstance(value, int) and not isinstance(value, bool):
        return -DB_INTEGER_MAX - 1 <= value <= DB_INTEGER_MAX
    if isinstance(value, list | tuple | set | frozenset):
        return all(_integers_in_range(item) for item in value)
    if isinstance(value, dict):
        return all(_integers_in_range(item) for item in value.values())
    return True


def _may_hold_an_integer(annotation: Any) -> bool:
    """Whether a field of this type can hold an int, itself or inside a list or dict."""
    if annotation is Any:
        return True
    if isinstance(annotation, type):
        return not issubclass(
            annotation, BaseModel | bool | str | Decimal | Enum | date | time | NoneType
        )
    origin = get_origin(annotation)
    if origin is Literal:
        return any(type(value) is int for value in get_args(annotation))
    if origin is Annotated:
        return _may_hold_an_integer(get_args(annotation)[0])
    return any(_may_hold_an_integer(argument) for argument in get_args(annotation))


# Only fields whose type can hold an int are looked at: a validator on every field cost
# an order event two thirds of its validation time.
class _IntegersInRange(BaseModel):
    """Refuses an integer wider than the database holds, naming the field."""

    _integer_fields: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls._integer_fields = tuple(
            name
            for name, field in cls.model_fields.items()
            if _may_hold_an_integer(field.annotation)
        )

    @model_validator(mode="after")
    def _no_integer_out_of_range(self) -> Any:
        for name in self._integer_fields:
            if not _integers_in_range(getattr(self, name)):
                raise PydanticCustomError(
                    OUT_OF_RANGE, "Value error, integer out of range", {"field": name}
                )
        return self


class Body(_IntegersInRange):
    """Base of every request schema: unknown fields and loose types are refused."""

    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True)


class Query(_IntegersInRange):
    """Base of query-string schemas: values arrive as text, so types are coerced."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _fields_from(error: ValidationError) -> dict[str, str]:
    fields: dict[str, str] = {}
    for item in error.errors():
        location = item["loc"]
        if item["type"] == OUT_OF_RANGE:
            location = (*location, item["ctx"]["field"])
        path = ".".join(str(p) for p in location) or "body"
        if item["type"] == "extra_forbidden":
            message = "unknown field"
        elif item["type"] == "missing":
            message = "required"
        else:
            message = item["msg"]
        fields.setdefault(path, message)
    return fields


def json_body(request: Request) -> dict[str, Any]:
    """The request's body as a JSON object, or a coded 400."""
    raw = request.body
    if not raw:
        raise BadRequest("a JSON body is required", code="body_required")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        # RecursionError: nesting deeper than the decoder's stack (`[` × 1000) is malformed too.
        raise BadRequest("the body is not valid JSON", code="malformed_json") from None
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object", code="body_not_object")
    return data


def validate_body(data: dict[str, Any], schema: type[M]) -> M:
    """A body read by `json_body` validated against `schema`, or a coded 422."""
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed(
            "the body does not match the schema", code="validation_failed", fields=_fields_from(exc)
        ) from None


def parse_body(request: Request, schema: type[M]) -> M:
    """The request's JSON body validated against `schema`, or a coded 400/422."""
    return validate_body(json_body(request), schema)


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
