from __future__ import annotations

import asyncio

from tests.api.conftest import STAFF_PASSWORD, Api


async def test_staff_login_returns_tokens_carrying_the_accounts_roles(api: Api) -> None:
    token = await api.staff_token("finance", username="fin1")
    response = await api.get("/admin/v1/auth/me", token=token)
    assert response.status == 200
    assert response.json["roles"] == ["finance"]


async def test_wrong_password_is_refused_with_a_stable_code(api: Api) -> None:
    await api.staff_token("staff", username="alice")
    response = await api.post(
        "/admin/v1/auth/login", json={"username": "alice", "password": "nope-nope-nope"}
    )
    assert response.status == 401
    assert response.json["error"]["code"] == "invalid_credentials"


async def test_refresh_token_rotates_and_a_reused_one_is_refused(api: Api) -> None:
    await api.staff_token("staff", username="bob")
    login = await api.post(
        "/admin/v1/auth/login", json={"username": "bob", "password": STAFF_PASSWORD}
    )
    refresh = login.json["refresh_token"]
    first = await api.post("/admin/v1/auth/refresh", json={"refresh_token": refresh})
    assert first.status == 200
    again = await api.post("/admin/v1/auth/refresh", json={"refresh_token": refresh})
    assert again.status == 401
    assert again.json["error"]["code"] == "token_reused"
    # Reuse revokes the family: the token issued by the first refresh is dead too.
    later = await api.post(
        "/admin/v1/auth/refresh", json={"refresh_token": first.json["refresh_token"]}
    )
    assert later.status == 401


async def _login(api: Api, username: str) -> dict[str, str]:
    response = await api.post(
        "/admin/v1/auth/login", json={"username": username, "password": STAFF_PASSWORD}
    )
    assert response.status == 200, response.text
    return response.json


async def _staff_id(api: Api, admin: str, username: str) -> int:
    listed = await api.get("/admin/v1/staff", token=admin)
    return next(u["id"] for u in listed.json["items"] if u["username"] == username)


async def test_a_disabled_admin_is_refused_on_the_next_request(api: Api) -> None:
    boss = await api.staff_token("admin", username="boss")
    rogue = await api.staff_token("admin", username="rogue")
    rogue_id = await _staff_id(api, boss, "rogue")

    disabled = await api.patch(f"/admin/v1/staff/{rogue_id}", token=boss, json={"is_active": False})
    assert disabled.status == 200, disabled.text

    me = await api.get("/admin/v1/auth/me", token=rogue)
    assert (me.status, me.json["error"]["code"]) == (401, "account_disabled")
    created = await api.post(
        "/admin/v1/staff",
        token=rogue,
        json={"username": "backdoor", "password": "pw-backdoor-1", "roles": ["admin"]},
    )
    assert created.status == 401
    assert "backdoor" not in {
        u["username"] for u in (await api.get("/admin/v1/staff", token=boss)).json["items"]
    }


async def test_a_demoted_admin_acts_with_the_new_roles_on_the_next_request(api: Api) -> None:
    boss = await api.staff_token("admin", username="boss2")
    demoted = await api.staff_token("admin", username="demoted")
    demoted_id = await _staff_id(api, boss, "demoted")

    await api.patch(f"/admin/v1/staff/{demoted_id}", token=boss, json={"roles": ["staff"]})

    me = await api.get("/admin/v1/auth/me", token=demoted)
    assert (me.status, me.json["roles"]) == (200, ["staff"])
    created = await api.post(
        "/admin/v1/staff",
        token=demoted,
        json={"username": "newadmin", "password": "pw-newadmin-1", "roles": ["admin"]},
    )
    assert (created.status, created.json["error"]["code"]) == (403, "role_forbidden")


async def test_a_disabled_account_cannot_refresh(api: Api) -> None:
    boss = await api.staff_token("admin", username="boss3")
    await api.staff_token("finance", username="leaver")
    tokens = await _login(api, "leaver")
    leaver_id = await _staff_id(api, boss, "leaver")
    await api.patch(f"/admin/v1/staff/{leaver_id}", token=boss, json={"is_active": False})

    refreshed = await api.post(
        "/admin/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert (refreshed.status, refreshed.json["error"]["code"]) == (401, "account_disabled")


async def test_logout_revokes_the_sessions_refresh_tokens_and_no_other(api: Api) -> None:
    await api.staff_token("staff", username="twodevices")
    laptop = await _login(api, "twodevices")
    phone = await _login(api, "twodevices")
    rotated = await api.post(
        "/admin/v1/auth/refresh", json={"refresh_token": laptop["refresh_token"]}
    )

    out = await api.post(
        "/admin/v1/auth/logout",
        token=laptop["access_token"],
        json={"refresh_token": rotated.json["refresh_token"]},
    )
    assert out.status == 204

    after = await api.post(
        "/admin/v1/auth/refresh", json={"refresh_token": rotated.json["refresh_token"]}
    )
    assert (after.status, after.json["error"]["code"]) == (401, "token_revoked")
    other = await api.post("/admin/v1/auth/refresh", json={"refresh_token": phone["refresh_token"]})
    assert other.status == 200


async def test_concurrent_refreshes_of_one_token_leave_no_refresh_token_alive(api: Api) -> None:
    await api.staff_token("staff", username="racer")
    for _trial in range(20):
        start = await _login(api, "racer")
        answers = await asyncio.gather(
            *(
                api.post("/admin/v1/auth/refresh", json={"refresh_token": start["refresh_token"]})
                for _ in range(8)
            )
        )
        issued = [a.json["refresh_token"] for a in answers if a.status == 200]
        assert len(issued) <= 1
        assert any(a.status == 401 for a in answers)
        for token in issued:
            survivor = await api.post("/admin/v1/auth/refresh", json={"refresh_token": token})
            assert survivor.status == 401, "a token issued in the race outlived the reuse"
