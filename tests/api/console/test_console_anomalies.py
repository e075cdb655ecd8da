"""The anomaly queue in the console: evidence shown, bulk confirm or dismiss by staff only."""

from __future__ import annotations

from sanic import Sanic

from server.models import Anomaly
from tests.api.console.client import signed_in
from tests.api.test_anomalies_api import new_program, new_promoter, open_anomaly


async def test_staff_confirm_ticked_anomalies_with_a_note(app: Sanic) -> None:
    program = await new_program()
    first, _ = await open_anomaly(program, await new_promoter(program))
    second, _ = await open_anomaly(program, await new_promoter(program))
    console = await signed_in(app, "staff", username="fraud_staff")
    queue = await console.get(f"/console/anomalies?program_id={program.id}")
    assert "退款率过高" in queue.text
    detail = await console.get(f"/console/anomalies/{first.id}")
    assert "refund_rate" in detail.text  # the evidence
    form = {"action": "confirm", "ids": [str(first.id), str(second.id)], "program_id": program.id}
    refused = await console.post("/console/anomalies", form)
    assert refused.status_code == 422 and "必须填写备注" in refused.text
    done = await console.post("/console/anomalies", {**form, "note": "same device, 40 orders"})
    assert done.status_code == 303
    assert {a.status for a in await Anomaly.filter(id__in=[first.id, second.id])} == {"confirmed"}
    await console.close()


async def test_finance_reads_the_queue_but_cannot_decide(app: Sanic) -> None:
    program = await new_program()
    anomaly, _ = await open_anomaly(program, await new_promoter(program))
    console = await signed_in(app, "finance", username="fraud_reader")
    detail = await console.get(f"/console/anomalies/{anomaly.id}")
    assert detail.status_code == 200 and 'value="confirm"' not in detail.text
    response = await console.post(
        "/console/anomalies", {"action": "dismiss", "ids": str(anomaly.id), "note": "no"}
    )
    assert response.status_code == 403
    assert (await Anomaly.get(id=anomaly.id)).status == "open"
    await console.close()
