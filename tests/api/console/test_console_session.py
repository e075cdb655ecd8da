"""Console sign-in: the API's accounts, lockout and roles, held in a safe session cookie."""

from __future__ import annotations

from sanic import Sanic

from server.models import StaffUser
from server.services.access.staff import update_staff_user
from tests.api.console.client import Console, signed_in
from tests.order_builders import ADMIN, shop
from tests.scope_world import build_world, limited_account


async def test_signing_in_sets_an_httponly_samesite_session_cookie_that_expires(
    app: Sanic,
) -> None:
    await shop()
    console = await signed_in(app, "staff", username="cookie_staff")
    await console.get("/console/login")
    response = await console.post(
        "/console/login", {"username": "cookie_staff", "password": "correct horse battery"}
    )
    cookie = next(
        v for k, v in response.headers.multi_items() if k == "set-cookie" and "fx_console=" in v
    ).lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/console" in cookie
    assert "max-age=28800" in cookie
    assert "secure" not in cookie  # plain http on the test client; https adds it
    await console.close()


async def test_a_page_without_a_session_sends_the_browser_to_sign_in(app: Sanic) -> None:
    console = Console(app)
    response = await console.get("/console/promoters?status=applied")
    assert response.status_code == 303
    assert response.headers["location"] == (
        "/console/login?next=%2Fconsole%2Fpromoters%3Fstatus%3Dapplied"
    )
    await console.close()


async def test_a_wrong_password_is_refused_in_chinese_by_default(app: Sanic) -> None:
    await signed_in(app, "staff", username="typo_staff")
    console = Console(app)
    await console.get("/console/login")
    response = await console.post("/console/login", {"username": "typo_staff", "password": "x"})
    assert response.status_code == 401
    assert "用户名或密码错误" in response.text
    await console.close()


async def test_sign_in_refuses_a_form_without_its_token(app: Sanic) -> None:
    await signed_in(app, "staff", username="nocsrf_staff")
    console = Console(app)
    response = await console.post(
        "/console/login",
        {"username": "nocsrf_staff", "password": "correct horse battery"},
        csrf=False,
    )
    assert response.status_code == 403
    assert "fx_console" not in response.headers.get("set-cookie", "")
    await console.close()


async def test_sign_in_never_returns_to_another_site(app: Sanic) -> None:
    await shop()
    await signed_in(app, "staff", username="next_staff")
    console = Console(app)
    await console.get("/console/login")
    response = await console.post(
        "/console/login",
        {
            "username": "next_staff",
            "password": "correct horse battery",
            "next": "//evil.example/console",
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/console/dashboard"
    await console.close()


async def test_a_post_without_the_csrf_token_changes_nothing(app: Sanic) -> None:
    await shop()
    console = await signed_in(app, "staff", username="csrf_staff")
    response = await console.post("/console/logout", csrf=False)
    assert response.status_code == 403
    # Still signed in: the logout did not happen.
    assert (await console.get("/console/promoters")).status_code == 200
    await console.close()


async def test_signing_out_ends_the_session_even_for_a_copied_cookie(app: Sanic) -> None:
    await shop()
    console = await signed_in(app, "staff", username="bye_staff")
    stolen = console.http.cookies.get("fx_console")
    response = await console.post("/console/logout")
    assert response.status_code == 303
    thief = Console(app)
    thief.http.cookies.set("fx_console", stolen, domain="testserver", path="/console")
    assert (await thief.get("/console/promoters")).status_code == 303
    await console.close()
    await thief.close()


async def test_a_disabled_account_is_signed_out_on_its_next_click(app: Sanic) -> None:
    await shop()
    console = await signed_in(app, "staff", username="gone_staff")
    assert (await console.get("/console/promoters")).status_code == 200
    staff = await StaffUser.get(username="gone_staff")
    await update_staff_user(staff_id=staff.id, roles=None, is_active=False, actor=ADMIN)
    response = await console.get("/console/promoters")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/console/login")
    await console.close()


async def test_console_pages_forbid_framing_inline_scripts_and_referrers(app: Sanic) -> None:
    await shop()
    console = await signed_in(app, "staff", username="headers_staff")
    for path in ("/console/promoters", "/console/login", "/console/static/console.css"):
        response = await console.get(path)
        assert response.status_code == 200, path
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "same-origin"
    await console.close()


async def test_htmx_is_served_from_the_installed_package(app: Sanic) -> None:
    console = Console(app)
    response = await console.get("/console/static/htmx.min.js")
    assert response.status_code == 200
    assert "htmx" in response.text[:200]
    await console.close()


async def test_a_limited_account_sees_only_its_programs_promoters_commissions_withdrawals(
    app: Sanic,
) -> None:
    mine, theirs = await build_world(), await build_world()
    await limited_account("limited_lists", mine.program, roles=("staff", "finance"))
    console = Console(app)
    assert (await console.sign_in("limited_lists")).status_code == 303
    for path, record, kind in (
        ("/console/promoters", 'href="/console/promoters/{}"', "promoter_id"),
        ("/console/commissions", "#commission-{}", "commission_id"),
        ("/console/withdrawals", 'href="/console/withdrawals/{}"', "withdrawal_id"),
    ):
        response = await console.get(path)
        assert response.status_code == 200, path
        assert record.format(mine.ids[kind]) in response.text, path
        assert record.format(theirs.ids[kind]) not in response.text, path
        # The program picker offers only the account's programs.
        assert f'<option value="{mine.program.id}"' in response.text
        assert f'<option value="{theirs.program.id}"' not in response.text
        other = await console.get(f"{path}?program_id={theirs.program.id}")
        assert other.status_code == 404, path
    await console.close()


async def test_a_limited_account_gets_the_missing_page_for_another_programs_promoter(
    app: Sanic,
) -> None:
    mine, theirs = await build_world(), await build_world()
    await limited_account("limited_detail", mine.program, roles=("staff",))
    console = Console(app)
    await console.sign_in("limited_detail")
    own = await console.get(f"/console/promoters/{mine.ids['promoter_id']}")
    assert own.status_code == 200
    other = await console.get(f"/console/promoters/{theirs.ids['promoter_id']}")
    missing = await console.get("/console/promoters/999999999")
    assert other.status_code == missing.status_code == 404
    assert "promoter_not_found" in other.text
    # The same page but for the address it links back to (the language switch).
    assert other.text.replace(f"/{theirs.ids['promoter_id']}", "/…") == missing.text.replace(
        "/999999999", "/…"
    )
    await console.close()
