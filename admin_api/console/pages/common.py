"""What many console pages share: the chosen program and list filters from the query string."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel
from sanic import Request

from server.domain.errors import NotFound
from server.http import validate_body
from server.models import Program
from server.services.programs import settings as program_service

M = TypeVar("M", bound=BaseModel)
PROGRAM_CHOICES = 100


def filters(request: Request, schema: type[M], **fixed: Any) -> M:
    """The query string validated by the API's own schema; empty form fields mean "any"."""
    data = {key: values[-1] for key, values in request.args.items() if values[-1] != ""}
    data.update(fixed)
    return validate_body(data, schema)


async def chosen_program(request: Request) -> tuple[Program, list[Program]]:
    """The program a page shows (`program_id`, else the first one) and the others to pick."""
    programs = await program_service.list_programs(limit=PROGRAM_CHOICES)
    raw = request.args.get("program_id", "")
    if raw.isdigit():
        program = await program_service.get_program(program_id=int(raw))
    elif programs:
        program = programs[0]
    else:
        raise NotFound("no program yet: create one first", code="program_not_found")
    return program, programs
