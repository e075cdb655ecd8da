"""Background jobs for admins: recent runs and running a job now."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from sanic import Blueprint, Request
from sanic.response import HTTPResponse
from sanic_ext import openapi

from jobs.runner import dispatcher
from server.auth import ROLES_ADMIN, requires
from server.http import MAX_PAGE_SIZE, Query, parse_query, render
from server.services.operations import jobs as jobs_service

bp = Blueprint("admin_jobs")


class JobRunsQuery(Query):
    name: str | None = Field(default=None, min_length=1, max_length=64)
    status: Literal["running", "succeeded", "failed"] | None = None
    cursor: int | None = Field(default=None, ge=1)
    limit: int = Field(default=50, ge=1, le=MAX_PAGE_SIZE)


@bp.get("/jobs/runs")
@openapi.definition(summary="Recent background job runs, newest first", secured={"bearer": []})
@requires(*ROLES_ADMIN)
async def list_runs(request: Request) -> HTTPResponse:
    query = parse_query(request, JobRunsQuery)
    runs = await jobs_service.list_job_runs(
        name=query.name, status=query.status, cursor=query.cursor, limit=query.limit
    )
    return render(jobs_service.job_runs_page(runs, limit=query.limit))


@bp.post("/jobs/<name:str>/run")
@openapi.definition(summary="Run a background job now", secured={"bearer": []})
@requires(*ROLES_ADMIN)
async def run_now(request: Request, name: str) -> HTTPResponse:
    dispatched = await jobs_service.trigger_job(
        name=name,
        dispatch=dispatcher(request.app.ctx.settings),
        actor=request.ctx.principal,
        request_id=request.ctx.request_id,
    )
    return render(dispatched, status=202)
