"""POST /mp/v1/auth/login end to end: HTTP → service → wechatpy → the WeChat stand-in."""

from __future__ import annotations

import pytest

from server.config import Settings
from server.integrations.wechat_standin import WeChatStandIn
from server.models import User
from tests.api.conftest import Api
from tests.wechat_fixtures import expected_openid, login_code, promoter_login, promoter_token

LOGIN = "/mp/v1/auth/login"


async def test_the_first_login_creates_the_user_and_later_logins_find_the_same_one(
    mp_api: Api, wechat_settings: Settings
) -> None:
    first = await promoter_login(mp_api, "alice", nickname="Alice")
    second = await promoter_login(mp_api, "alice")

    assert first["user"]["id"] == second["user"]["id"]
    assert second["user"]["nickname"] == "Alice"
    users = await User.filter(openid=expected_openid("alice", wechat_settings))
    assert len(users) == 1
    assert users[0].appid == wechat_settings.wechat_appid


async def test_different_wechat_users_become_different_users(mp_api: Api) -> None:
    alice = await promoter_login(mp_api, "alice")
    bob = await promoter_login(mp_api, "bob")
    assert alice["user"]["id"] != bob["user"]["id"]


async def test_login_returns_an_access_and_refresh_pair_and_never_the_openid(
    mp_api: Api,
) -> None:
    body = await promoter_login(mp_api, "carol", avatar_url="https://img.example/c.png")

    assert body["access_token"] and body["refresh_token"]
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] > 0
    assert body["user"]["avatar_url"] == "https://img.example/c.png"
    assert "openid" not in body["user"] and "session_key" not in str(body)


async def test_the_access_token_opens_promoter_routes_and_not_admin_ones(mp_api: Api) -> None:
    login = await promoter_login(mp_api, "dan")

    mine = await mp_api.get("/mp/v1/me/promoters", token=login["access_token"])
    assert mine.status == 200
    assert mine.json == {"items": []}
    admin = await mp_api.get("/admin/v1/auth/me", token=login["access_token"])
    assert admin.status == 403
    assert admin.json["error"]["code"] == "role_forbidden"
    anonymous = await mp_api.get("/mp/v1/me/promoters")
    assert anonymous.status == 401


async def test_the_refresh_token_rotates_and_a_reused_one_is_refused(mp_api: Api) -> None:
    login = await promoter_login(mp_api, "erin")

    rotated = await mp_api.post(
        "/mp/v1/auth/refresh", json={"refresh_token": login["refresh_token"]}
    )
    assert rotated.status == 200
    assert rotated.json["access_token"] != login["access_token"]
    reused = await mp_api.post(
        "/mp/v1/auth/refresh", json={"refresh_token": login["refresh_token"]}
    )
    assert reused.status == 401
    assert reused.json["error"]["code"] == "token_reused"


async def test_promoter_token_helper_logs_the_same_person_in_each_time(mp_api: Api) -> None:
    assert await promoter_token(mp_api, "fay") != await promoter_token(mp_api, "fay")
    assert await User.all().count() == 1


async def test_an_invalid_code_is_a_401_invalid_wechat_code(mp_api: Api) -> None:
    response = await mp_api.post(LOGIN, json={"code": "invalid-from-a-forger"})
    assert response.status == 401
    assert response.json["error"]["code"] == "invalid_wechat_code"
    assert response.json["error"]["message"]
    assert await User.all().count() == 0


async def test_a_replayed_code_is_refused(mp_api: Api) -> None:
    code = login_code("gus")
    assert (await mp_api.post(LOGIN, json={"code": code})).status == 200
    replay = await mp_api.post(LOGIN, json={"code": code})
    assert replay.status == 401
    assert replay.json["error"]["code"] == "invalid_wechat_code"


@pytest.mark.parametrize("fault", ["server_error", "garbage", "disconnect"])
async def test_wechat_down_is_a_502_and_no_user_is_created(
    mp_api: Api, standin: WeChatStandIn, fault: str
) -> None:
    standin.inject_fault(fault, path="/sns/jscode2session")  # type: ignore[arg-type]
    response = await mp_api.post(LOGIN, json={"code": login_code("hal")})
    assert response.status == 502
    assert response.json["error"]["code"] == "wechat_unavailable"
    assert await User.all().count() == 0


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"code": login_code("ivy"), "is_admin": True}, "is_admin", "unknown field"),
        ({"code": 12345}, "code", None),
        ({"code": login_code("ivy"), "nickname": ["not", "text"]}, "nickname", None),
        ({"nickname": "no code"}, "code", "required"),
        ({"code": ""}, "code", None),
        ({"code": "x" * 129}, "code", None),
    ],
)
async def test_a_malformed_login_body_is_a_422_naming_the_field(
    mp_api: Api, standin: WeChatStandIn, body: dict[str, object], field: str, message: str | None
) -> None:
    response = await mp_api.post(LOGIN, json=body)

    assert response.status == 422
    error = response.json["error"]
    assert error["code"] == "validation_failed"
    assert error["message"]
    assert field in error["fields"]
    if message is not None:
        assert error["fields"][field] == message
    # Refused before WeChat was asked: the code is not spent.
    assert "/sns/jscode2session" not in standin.calls


async def test_a_login_without_a_json_object_body_is_a_400(mp_api: Api) -> None:
    empty = await mp_api.post(LOGIN)
    assert empty.status == 400
    assert empty.json["error"]["code"] == "body_required"
    array = await mp_api.post(LOGIN, json=[login_code("jo")])
    assert array.status == 400
    assert array.json["error"]["code"] == "body_not_object"
