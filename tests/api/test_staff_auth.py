from __future__ import annotations

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
