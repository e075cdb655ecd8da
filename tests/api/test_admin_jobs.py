from __future__ import annotations

from datetime import timedelta

from jobs.runner import wait_for_inprocess_jobs
from server import clock
from server.models import AuditLog, JobRun, Program, Promoter, User
from server.services.operations.jobs import start_job_run
from tests.api.conftest import Api

EXPIRY = "expire_stale_applications"


async def test_an_admin_runs_a_job_now_and_sees_it_in_the_recent_runs(api: Api) -> None:
    program = await Program.create(name="Spring", currency="CNY")
    user = await User.create(appid="wx-app", openid="o-1")
    stale = await Promoter.create(
        program=program, user=user, status="applied", applied_at=clock.now() - timedelta(days=60)
    )
    token = await api.staff_token("admin", username="root1")

    response = await api.post(f"/admin/v1/jobs/{EXPIRY}/run", token=token)
    assert response.status == 202, response.text
    assert response.json["runner"] == "inprocess"
    await wait_for_inprocess_jobs()

    assert (await Promoter.get(id=stale.id)).status == "expired"
    runs = await api.get("/admin/v1/jobs/runs", token=token, params={"name": EXPIRY})
    assert runs.status == 200
    (run,) = runs.json["items"]
    assert (run["status"], run["runner"], run["result"]["expired"]) == ("succeeded", "inprocess", 1)
    (entry,) = await AuditLog.filter(action="job.trigger")
    assert entry.details["name"] == EXPIRY


async def test_an_unknown_job_is_a_404_and_nothing_is_audited(api: Api) -> None:
    token = await api.staff_token("admin", username="root2")

    response = await api.post("/admin/v1/jobs/reticulate_splines/run", token=token)

    assert response.status == 404
    assert response.json["error"]["code"] == "job_not_found"
    assert await AuditLog.filter(action="job.trigger").count() == 0
    assert await JobRun.all().count() == 0


async def test_staff_and_finance_may_neither_list_nor_run_jobs(api: Api) -> None:
    for role in ("staff", "finance"):
        token = await api.staff_token(role, username=f"not_admin_{role}")
        listed = await api.get("/admin/v1/jobs/runs", token=token)
        ran = await api.post(f"/admin/v1/jobs/{EXPIRY}/run", token=token)
        assert (listed.status, ran.status) == (403, 403)
    assert await JobRun.all().count() == 0


async def test_recent_runs_page_with_a_cursor_and_filter_by_status(api: Api) -> None:
    for _ in range(3):
        await start_job_run(name=EXPIRY, runner="celery")
    token = await api.staff_token("admin", username="root3")

    first = await api.get("/admin/v1/jobs/runs", token=token, params={"limit": 2})
    assert len(first.json["items"]) == 2
    second = await api.get(
        "/admin/v1/jobs/runs",
        token=token,
        params={"limit": 2, "cursor": first.json["next_cursor"]},
    )
    assert len(second.json["items"]) == 1
    assert second.json["next_cursor"] is None
    none_failed = await api.get("/admin/v1/jobs/runs", token=token, params={"status": "failed"})
    assert none_failed.json["items"] == []


async def test_a_page_larger_than_the_maximum_is_refused(api: Api) -> None:
    token = await api.staff_token("admin", username="root4")

    response = await api.get("/admin/v1/jobs/runs", token=token, params={"limit": 101})

    assert response.status == 422
    assert "limit" in response.json["error"]["fields"]
