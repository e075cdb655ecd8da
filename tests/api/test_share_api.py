from __future__ import annotations

import io

from PIL import Image

from server.integrations.wechat_standin import WeChatStandIn
from server.models import Program, QrImage, User
from tests.api.conftest import Api
from tests.service.sharing.test_share_support import (
    approve_pending_codes,
    make_program,
    make_promoter,
)
from tests.wechat_fixtures import promoter_login

WXACODE_PATH = "/wxa/getwxacodeunlimit"


async def _promoter(
    api: Api, identity: str, program: Program, *, status: str = "approved", invite: str = ""
) -> str:
    """Log `identity` in through WeChat and make them a promoter of `program`; their token."""
    login = await promoter_login(api, identity, nickname=identity.title())
    user_id = login["user"]["id"]
    await make_promoter(
        program, user=await User.get(id=user_id), status=status, invite_code=invite or None
    )
    return login["access_token"]


async def test_a_promoter_shares_a_coded_link_and_gets_both_qr_pictures(
    mp_api: Api, standin: WeChatStandIn
) -> None:
    program = await make_program()
    token = await _promoter(mp_api, "alice", program)
    base = f"/mp/v1/programs/{program.id}"

    channel = await mp_api.post(f"{base}/channels", token=token, json={"name": "Douyin"})
    assert channel.status == 201, channel.text
    code = await mp_api.post(
        f"{base}/codes",
        token=token,
        json={"kind": "voucher", "code": "Alice-Spring", "channel_id": channel.json["id"]},
    )
    assert code.status == 201, code.text
    assert code.json["code"] == "Alice-Spring" and code.json["aliases"] == []
    alias = await mp_api.post(
        f"{base}/codes/{code.json['id']}/aliases", token=token, json={"alias": "alicesp"}
    )
    assert alias.status == 201 and alias.json["alias_of_id"] == code.json["id"]
    # Chosen text counts once staff approve it (the program's custom codes are reviewed).
    assert code.json["review_status"] == "pending"
    staff = await mp_api.staff_token("staff", username="reviewer")
    approved = await mp_api.post(f"/admin/v1/codes/{code.json['id']}/approve", token=staff)
    assert approved.status == 200 and approved.json["review_status"] == "approved"

    request = {"channel_id": channel.json["id"], "code_id": code.json["id"], "utm_source": "dy"}
    link = await mp_api.post(f"{base}/links", token=token, json=request)
    assert link.status == 201, link.text
    assert "code=Alice-Spring" in link.json["h5_url"] and "utm_source=dy" in link.json["h5_url"]
    again = await mp_api.post(f"{base}/links", token=token, json=request)
    assert again.status == 200 and again.json["id"] == link.json["id"]

    picture_path = f"{base}/links/{link.json['id']}/wxacode"
    first = await mp_api.get(picture_path, token=token, params={"width": 280})
    assert first.status == 200, first.text
    assert first.headers["content-type"] == "image/png"
    assert "max-age" in first.headers["cache-control"]
    assert Image.open(io.BytesIO(first.body)).size == (280, 280)
    second = await mp_api.get(picture_path, token=token, params={"width": 280})
    assert second.body == first.body
    assert standin.calls.count(WXACODE_PATH) == 1

    plain = await mp_api.get(f"{base}/links/{link.json['id']}/qr.png", token=token)
    assert plain.status == 200 and plain.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(plain.body)).size == (430, 430)

    listed = await mp_api.get(f"{base}/codes", token=token)
    assert [a["code"] for a in listed.json["items"][0]["aliases"]] == ["alicesp"]


async def test_taken_names_and_codes_answer_409(mp_api: Api) -> None:
    program = await make_program()
    alice = await _promoter(mp_api, "alice", program, invite="ALICEINV")
    bob = await _promoter(mp_api, "bob", program)
    base = f"/mp/v1/programs/{program.id}"
    await mp_api.post(f"{base}/channels", token=alice, json={"name": "video"})
    dup = await mp_api.post(f"{base}/channels", token=alice, json={"name": "VIDEO"})
    assert dup.status == 409 and dup.json["error"]["code"] == "channel_exists"
    await mp_api.post(f"{base}/codes", token=alice, json={"code": "SHARED"})
    for text in ("shared", "aliceinv"):
        taken = await mp_api.post(f"{base}/codes", token=bob, json={"code": text})
        assert taken.status == 409 and taken.json["error"]["code"] == "code_taken"


async def test_bad_widths_unknown_fields_and_bad_codes_answer_422(mp_api: Api) -> None:
    program = await make_program()
    token = await _promoter(mp_api, "alice", program)
    base = f"/mp/v1/programs/{program.id}"
    link = await mp_api.post(f"{base}/links", token=token, json={})
    assert link.status == 201
    for path, width in (("wxacode", 100), ("wxacode", 2000), ("qr.png", 5000), ("wxacode", "x")):
        bad = await mp_api.get(
            f"{base}/links/{link.json['id']}/{path}", token=token, params={"width": width}
        )
        assert bad.status == 422, (path, width)
        assert "width" in bad.json["error"]["fields"]
    unknown = await mp_api.post(f"{base}/links", token=token, json={"utm_term": "x"})
    assert unknown.status == 422 and unknown.json["error"]["fields"]["utm_term"] == "unknown field"
    malformed = await mp_api.post(f"{base}/codes", token=token, json={"code": "a b"})
    assert malformed.status == 422 and malformed.json["error"]["code"] == "invalid_code"
    kind = await mp_api.post(f"{base}/codes", token=token, json={"kind": "coupon"})
    assert kind.status == 422


async def test_another_promoters_channel_code_or_link_is_not_mine(mp_api: Api) -> None:
    program = await make_program()
    alice = await _promoter(mp_api, "alice", program)
    bob = await _promoter(mp_api, "bob", program)
    base = f"/mp/v1/programs/{program.id}"
    channel = await mp_api.post(f"{base}/channels", token=bob, json={"name": "bob"})
    code = await mp_api.post(f"{base}/codes", token=bob, json={"code": "BOBS"})
    link = await mp_api.post(f"{base}/links", token=bob, json={})
    by_channel = await mp_api.post(
        f"{base}/links", token=alice, json={"channel_id": channel.json["id"]}
    )
    assert by_channel.status == 404 and by_channel.json["error"]["code"] == "channel_not_found"
    by_code = await mp_api.post(f"{base}/links", token=alice, json={"code_id": code.json["id"]})
    assert by_code.status == 404 and by_code.json["error"]["code"] == "code_not_found"
    rename = await mp_api.patch(
        f"{base}/channels/{channel.json['id']}", token=alice, json={"name": "mine"}
    )
    assert rename.status == 404
    pulled = await mp_api.post(f"{base}/codes/{code.json['id']}/deactivate", token=alice)
    assert pulled.status == 404
    picture = await mp_api.get(f"{base}/links/{link.json['id']}/qr.png", token=alice)
    assert picture.status == 404
    mine = await mp_api.get(f"{base}/channels", token=alice)
    assert mine.json["items"] == []


async def test_only_approved_promoters_of_the_program_may_share(mp_api: Api) -> None:
    program = await make_program()
    suspended = await _promoter(mp_api, "sus", program, status="suspended")
    refused = await mp_api.post(
        f"/mp/v1/programs/{program.id}/codes", token=suspended, json={"kind": "referral"}
    )
    assert refused.status == 403 and refused.json["error"]["code"] == "promoter_not_active"
    elsewhere = await make_program("Elsewhere")
    missing = await mp_api.post(
        f"/mp/v1/programs/{elsewhere.id}/channels", token=suspended, json={"name": "x"}
    )
    assert missing.status == 404 and missing.json["error"]["code"] == "promoter_not_found"
    anonymous = await mp_api.post(f"/mp/v1/programs/{program.id}/links", json={})
    assert anonymous.status == 401


async def test_a_wechat_failure_answers_502_and_caches_nothing(
    mp_api: Api, standin: WeChatStandIn
) -> None:
    program = await make_program()
    token = await _promoter(mp_api, "alice", program)
    base = f"/mp/v1/programs/{program.id}"
    link = await mp_api.post(f"{base}/links", token=token, json={})
    standin.inject_fault("busy", path=WXACODE_PATH)
    failed = await mp_api.get(f"{base}/links/{link.json['id']}/wxacode", token=token)
    assert failed.status == 502 and failed.json["error"]["code"] == "wechat_unavailable"
    assert await QrImage.all().count() == 0
    retried = await mp_api.get(f"{base}/links/{link.json['id']}/wxacode", token=token)
    assert retried.status == 200 and retried.headers["content-type"] == "image/png"


async def test_anyone_may_resolve_a_short_code_and_sees_only_invite_code_and_masked_name(
    mp_api: Api,
) -> None:
    program = await make_program()
    token = await _promoter(mp_api, "alice", program, invite="ALICE777")
    base = f"/mp/v1/programs/{program.id}"
    code = await mp_api.post(f"{base}/codes", token=token, json={"code": "ALICE-GO"})
    await approve_pending_codes(program.id)
    link = await mp_api.post(
        f"{base}/links", token=token, json={"code_id": code.json["id"], "utm_campaign": "may"}
    )
    found = await mp_api.get(f"/mp/v1/s/{link.json['short_code']}")
    assert found.status == 200, found.text
    assert found.json["promoter"] == {"invite_code": "ALICE777", "nickname": "A****"}
    assert found.json["code"] == "ALICE-GO" and found.json["utm"]["campaign"] == "may"
    missing = await mp_api.get("/mp/v1/s/doesnotexist")
    assert missing.status == 404 and missing.json["error"]["code"] == "link_not_found"


async def test_staff_list_and_deactivate_codes_and_finance_may_only_look(mp_api: Api) -> None:
    program = await make_program()
    alice = await _promoter(mp_api, "alice", program)
    created = await mp_api.post(
        f"/mp/v1/programs/{program.id}/codes", token=alice, json={"code": "STAFF-SEE"}
    )
    staff = await mp_api.staff_token("staff", username="ops")
    finance = await mp_api.staff_token("finance", username="money")
    listed = await mp_api.get(
        f"/admin/v1/programs/{program.id}/codes", token=finance, params={"q": "see"}
    )
    assert listed.status == 200 and [c["code"] for c in listed.json["items"]] == ["STAFF-SEE"]
    path = f"/admin/v1/codes/{created.json['id']}/deactivate"
    forbidden = await mp_api.post(path, token=finance)
    assert forbidden.status == 403
    done = await mp_api.post(path, token=staff)
    assert done.status == 200 and done.json["is_active"] is False
    by_promoter = await mp_api.get(f"/admin/v1/programs/{program.id}/codes", token=alice)
    assert by_promoter.status == 403


async def test_resolving_a_short_code_longer_than_any_link_is_a_404_not_a_500(
    mp_api: Api,
) -> None:
    response = await mp_api.get("/mp/v1/s/" + "x" * 40)
    assert (response.status, response.json["error"]["code"]) == (404, "link_not_found")
