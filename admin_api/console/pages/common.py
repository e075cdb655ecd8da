"""What many console pages share: the chosen program and list filters from the query string."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import BaseModel
from sanic import Request
from sanic.response import HTTPResponse, redirect

from admin_api.console.views import page
from server.domain.errors import BadRequest, FenxiaoError, NotFound, ValidationFailed
from server.http import validate_body
from server.models import Program
from server.services.programs import settings as program_service

M = TypeVar("M", bound=BaseModel)
PROGRAM_CHOICES = 100
# Query parameters of the page itself, not filters of the list.
PAGE_PARAMETERS = frozenset({"notice"})


def filters(request: Request, schema: type[M], **fixed: Any) -> M:
    """The query string validated by the API's own schema; empty form fields mean "any"."""
    data = {
        key: values[-1]
        for key, values in request.args.items()
        if values[-1] != "" and key not in PAGE_PARAMETERS
    }
    if "program_id" not in schema.model_fields:
        data.pop("program_id", None)  # the program is the page's, passed to the service apart
    data.update(fixed)
    return validate_body(data, schema)


async def chosen_program(request: Request) -> tuple[Program, list[Program]]:
    """The program a page shows (`program_id`, else the first one) and the others to pick,
    among the programs the account may see (the guard has checked `program_id`)."""
    programs = await program_service.list_programs(
        programs=request.ctx.principal.programs, limit=PROGRAM_CHOICES
    )
    raw = request.args.get("program_id", "")
    if raw.isdigit():
        program = await program_service.get_program(program_id=int(raw))
    elif programs:
        program = programs[0]
    else:
        raise NotFound("no program yet: create one first", code="program_not_found")
    return program, programs


def form_text(request: Request, name: str, *, max_length: int = 512) -> str | None:
    """A form field, stripped; None when left empty."""
    value = ((request.form or {}).get(name) or "").strip()
    if len(value) > max_length:
        raise ValidationFailed("too long", code="validation_failed", fields={name: "too long"})
    return value or None


def uploaded_file(request: Request, name: str = "file") -> Any:
    """The form's uploaded file, else 400 file_required."""
    upload = request.files.get(name) if request.files else None
    if upload is None or not upload.body:
        raise BadRequest("a CSV file is required", code="file_required")
    return upload


def form_ids(request: Request) -> list[int]:
    """The ticked rows of a bulk form (checkboxes named `ids`)."""
    raw = (request.form.getlist("ids") if request.form else None) or []
    if not raw or not all(value.isdigit() and len(value) < 19 for value in raw):
        raise ValidationFailed("tick at least one row", code="no_rows_chosen", fields={"ids": ""})
    return [int(value) for value in raw]


def fields_beside(error: FenxiaoError) -> dict[str, Any]:
    """A refusal's problems by form field (`level_rates.1` is shown beside `level_rates`)."""
    return {str(key).partition(".")[0]: problem for key, problem in (error.fields or {}).items()}


def done(path: str, notice: str = "done") -> HTTPResponse:
    """After a change: back to a page (303, so a reload does not post again) with a notice."""
    separator = "&" if "?" in path else "?"
    return redirect(f"{path}{separator}notice={notice}", status=303)


async def list_page(
    request: Request,
    schema: type[M],
    fetch: Callable[[M, int], Awaitable[dict[str, Any]]],
    *,
    heading: str,
    template: str,
    rows: str,
    selectable: bool = False,
    context: dict[str, Any] | None = None,
    **fixed: Any,
) -> HTTPResponse:
    """A list page of the chosen program: the API's filters, and for htmx's "load more" only
    the next rows."""
    program, programs = await chosen_program(request)
    # A schema without program_id is the API's for a route with the program in its path.
    if "program_id" in schema.model_fields:
        fixed = {"program_id": program.id, **fixed}
    query = filters(request, schema, **fixed)
    result = await fetch(query, program.id)
    more = bool(getattr(query, "cursor", None) and request.headers.get("hx-request"))
    return await page(
        request,
        rows if more else template,
        heading=heading,
        program=program,
        programs=programs,
        query=query,
        result=result,
        selectable=selectable,
        **(context or {}),
    )
