"""A new agreement version makes existing promoters accept it before their next withdrawal or
new share link (403 agreement_outdated naming the version); accepting it in the mini-program
records the acceptance with its time."""

from __future__ import annotations

from server.config import Settings
from server.models import AgreementAcceptance, AuditLog, Program, Promoter
from tests.api.conftest import Api
from tests.api.test_admin_programs import _promoter_token
from tests.api.test_team_api import promoter_token
from tests.withdrawal_builders import funded_promoter, rules_program


async def test_a_new_agreement_version_must_be_accepted_before_withdrawing_or_sharing(
    api: Api, settings: Settings
) -> None:
    program = await rules_program(fee_percent="0")
    await Program.filter(id=program.id).update(requirements={"agreement_version": "v1"})
    me = await funded_promoter(program, "50.00")
    await Promoter.filter(id=me.id).update(agreement_version="v1")
    token = promoter_token(settings, me.user_id)  # type: ignore[attr-defined]
    base = f"/mp/v1/programs/{program.id}"
    admin = await api.staff_token("admin")
    changed = await api.patch(
        f"/admin/v1/programs/{program.id}",
        token=admin,
        json={"requirements": {"agreement_version": "v2"}},
    )
    assert changed.status == 200, changed.text

    ask = {"amount": "10.00", "method": "offline", "idempotency_key": "agree-0001"}
    withdraw = await api.post(f"{base}/withdrawals", token=token, json=ask)
    link = await api.post(f"{base}/links", token=token, json={"utm_source": "wx"})
    status = await api.get(f"{base}/agreement", token=token)
    old = await api.post(f"{base}/agreement", token=token, json={"version": "v1"})

    for refused in (withdraw, link):
        assert (refused.status, refused.json["error"]["code"]) == (403, "agreement_outdated")
        assert refused.json["error"]["fields"] == {"agreement_version": "v2"}
    assert (status.json["current_version"], status.json["accepted_version"]) == ("v2", "v1")
    assert status.json["up_to_date"] is False
    assert (old.status, old.json["error"]["code"]) == (422, "agreement_outdated")

    accepted = await api.post(f"{base}/agreement", token=token, json={"version": "v2"})
    again = await api.post(f"{base}/agreement", token=token, json={"version": "v2"})
    withdraw = await api.post(f"{base}/withdrawals", token=token, json=ask)
    link = await api.post(f"{base}/links", token=token, json={"utm_source": "wx"})

    assert accepted.status == 200, accepted.text
    assert accepted.json["up_to_date"] is True and accepted.json["accepted_at"]
    assert again.json["accepted_at"] == accepted.json["accepted_at"]
    assert (withdraw.status, link.status) == (201, 201), (withdraw.text, link.text)
    rows = await AgreementAcceptance.filter(promoter_id=me.id).values_list("version", flat=True)
    assert rows == ["v2"]
    assert await AuditLog.filter(action="promoter.agreement_accept", target_id=me.id).count() == 1


async def test_an_applicant_accepting_the_agreement_is_recorded_with_the_time(
    api: Api, settings: Settings
) -> None:
    program = await rules_program()
    await Program.filter(id=program.id).update(
        requirements={"agreement_version": "2026-12"}, recruitment_mode="open"
    )
    _, token = await _promoter_token(settings, openid="o-agree")
    applied = await api.post(
        f"/mp/v1/programs/{program.id}/applications",
        token=token,
        json={"agreement_version": "2026-12"},
    )
    status = await api.get(f"/mp/v1/programs/{program.id}/agreement", token=token)

    assert applied.status == 201, applied.text
    assert (status.json["accepted_version"], status.json["up_to_date"]) == ("2026-12", True)
    assert status.json["accepted_at"] is not None
