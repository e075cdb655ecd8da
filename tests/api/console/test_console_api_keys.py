"""An admin rotates a store's API key in the console (the new secret shown once, the old key
working until revoked), revokes a key and archives a program; staff cannot."""

from __future__ import annotations

import re

from sanic import Sanic

from server.models import Program
from tests.api.console.client import Console, signed_in
from tests.order_builders import shop

_KEY = re.compile(r"<code>([^<]+)</code> · <code>([^<]+)</code>")


async def _issued(console: Console, program: Program) -> tuple[str, str]:
    page = await console.post(f"/console/programs/{program.id}/api-keys", {"name": "store"})
    found = _KEY.search(page.text)
    assert found, page.text
    return found.group(1), found.group(2)


async def test_an_admin_rotates_a_key_and_the_old_one_works_until_revoked(app: Sanic) -> None:
    program = await shop()
    console = await signed_in(app, "admin", username="rotate_admin")
    await console.get(f"/console/programs/{program.id}")
    old_key, old_secret = await _issued(console, program)
    rotated = await console.post(f"/console/programs/{program.id}/api-keys/{old_key}/rotate")
    assert rotated.status_code == 200 and 'id="issued-key"' in rotated.text
    found = _KEY.search(rotated.text)
    assert found and found.group(1) != old_key and found.group(2) != old_secret
    keys = rotated.text.split('id="api-keys"', 1)[1]
    assert keys.count(">active<") == 2  # the old key keeps working until it is revoked
    revoked = await console.post(f"/console/programs/{program.id}/api-keys/{old_key}/revoke")
    assert revoked.status_code == 303
    after = await console.get(f"/console/programs/{program.id}")
    listed = after.text.split('id="api-keys"', 1)[1]
    assert ">revoked<" in listed and listed.count(">active<") == 1
    assert f"api-keys/{old_key}/rotate" not in listed  # a revoked key offers nothing
    await console.close()


async def test_staff_see_no_keys_and_are_refused_if_they_post(app: Sanic) -> None:
    program = await shop()
    admin = await signed_in(app, "admin", username="rotate_owner")
    await admin.get(f"/console/programs/{program.id}")
    key, _ = await _issued(admin, program)
    staff = await signed_in(app, "staff", username="rotate_staff")
    page = await staff.get(f"/console/programs/{program.id}")
    assert key not in page.text
    for action in ("rotate", "revoke"):
        response = await staff.post(f"/console/programs/{program.id}/api-keys/{key}/{action}")
        assert response.status_code == 403
    await admin.close()
    await staff.close()


async def test_an_admin_archives_a_program_and_it_takes_no_new_applications(app: Sanic) -> None:
    program = await shop()
    staff = await signed_in(app, "staff", username="archive_staff")
    page = await staff.get(f"/console/programs/{program.id}")
    assert 'id="archive"' not in page.text
    assert (await staff.post(f"/console/programs/{program.id}/archive")).status_code == 403
    admin = await signed_in(app, "admin", username="archive_admin")
    await admin.get(f"/console/programs/{program.id}")
    archived = await admin.post(f"/console/programs/{program.id}/archive")
    assert archived.status_code == 303
    assert (await Program.get(id=program.id)).status == "archived"
    after = await admin.get(f"/console/programs/{program.id}")
    assert 'id="archive"' not in after.text
    await admin.close()
    await staff.close()
