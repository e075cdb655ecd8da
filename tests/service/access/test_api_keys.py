"""S2S API keys: lifecycle, encryption at rest, signed-request verification, nonces."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime, timedelta
from typing import Any

import pytest
from cryptography.fernet import Fernet

from jobs.tasks import run_s2s_nonce_purge
from server import clock
from server.auth import Principal
from server.config import Settings
from server.db import connection
from server.domain.access.signatures import S2SCaller, SignedHeaders, read_signed_headers
from server.domain.errors import (
    Conflict,
    FenxiaoError,
    Forbidden,
    NotFound,
    Unauthorized,
    ValidationFailed,
)
from server.models import ApiKey, AuditLog, Program, S2SNonce
from server.services.access import api_keys as api_key_service
from server.services.access import signed_requests
from server.services.programs import settings as program_service
from tests.s2s_client import sign_request

ADMIN = Principal(kind="staff", id=7, roles=frozenset({"admin"}))
SHOP: dict[str, Any] = {
    "name": "Spring shop",
    "currency": "CNY",
    "max_levels": 2,
    "level_rates": ["10", "5"],
}
PATH = "/admin/v1/programs/1/orders/events"
BODY = b'{"event_id":"e-1"}'


async def _program(name: str = "Spring shop") -> Program:
    return await program_service.create_program(document={**SHOP, "name": name}, actor=ADMIN)


async def _issue(
    settings: Settings, program: Program, name: str = "store"
) -> api_key_service.IssuedApiKey:
    return await api_key_service.create_api_key(
        program_id=program.id, name=name, actor=ADMIN, settings=settings
    )


def _signed(issued: api_key_service.IssuedApiKey, **overrides: Any) -> SignedHeaders:
    arguments: dict[str, Any] = {
        "key_id": issued.api_key.key_id,
        "secret": issued.secret,
        "method": "POST",
        "path": PATH,
        "body": BODY,
    }
    arguments.update(overrides)
    return read_signed_headers(dict(sign_request(**arguments)))  # type: ignore[arg-type]


async def _verify(
    settings: Settings,
    headers: SignedHeaders,
    *,
    path: str = PATH,
    body: bytes = BODY,
    program_id: int | None = None,
) -> S2SCaller:
    return await signed_requests.authenticate_signed_request(
        headers=headers,
        method="POST",
        path=path,
        body=body,
        program_id=program_id,
        settings=settings,
    )


async def test_a_new_key_has_a_public_id_a_one_time_secret_and_an_audit_entry(
    db: str, settings: Settings
) -> None:
    program = await _program()
    issued = await _issue(settings, program)
    assert issued.api_key.key_id.startswith("fxk_")
    assert issued.secret.startswith("fxs_") and len(issued.secret) >= 40
    shown = api_key_service.serialize_issued_api_key(issued)
    assert shown["secret"] == issued.secret
    assert shown["status"] == "active" and shown["last_used_at"] is None
    listed = await api_key_service.list_api_keys(program_id=program.id)
    assert [api_key_service.serialize_api_key(k) for k in listed] == [
        {key: value for key, value in shown.items() if key != "secret"}
    ]
    entry = await AuditLog.get(action="api_key.create")
    assert (entry.actor_id, entry.program_id, entry.target_id) == (7, program.id, shown["id"])
    assert entry.details == {
        "key_id": issued.api_key.key_id,
        "name": "store",
        "scopes": ["events:write", "clicks:write", "catalog:write"],
    }


async def test_the_database_never_holds_the_plaintext_secret(db: str, settings: Settings) -> None:
    program = await _program()
    issued = await _issue(settings, program)
    rows = await connection().execute_query_dict("SELECT * FROM api_keys")
    audit_rows = await connection().execute_query_dict("SELECT * FROM audit_log")
    stored_text = repr(rows) + repr(audit_rows)
    assert issued.secret not in stored_text
    assert issued.secret.removeprefix("fxs_") not in stored_text
    # …yet it is recoverable with the configured encryption key, which verification needs.
    cipher = Fernet(settings.s2s_key_encryption_key)
    assert cipher.decrypt(rows[0]["secret_encrypted"].encode()).decode() == issued.secret


async def test_a_correctly_signed_request_names_its_program_and_key_and_marks_the_key_used(
    db: str, settings: Settings
) -> None:
    program = await _program()
    issued = await _issue(settings, program)
    caller = await _verify(settings, _signed(issued), program_id=program.id)
    assert caller == S2SCaller(program_id=program.id, key_id=issued.api_key.key_id)
    assert (await ApiKey.get(id=issued.api_key.id)).last_used_at is not None
    assert await S2SNonce.filter(api_key_id=issued.api_key.id).count() == 1


async def test_a_key_encrypted_under_another_encryption_key_is_refused_not_crashed(
    db: str, settings: Settings
) -> None:
    program = await _program()
    issued = await _issue(settings, program)
    moved = dataclasses.replace(settings, s2s_key_encryption_key=Fernet.generate_key().decode())
    with pytest.raises(Unauthorized) as refused:
        await _verify(moved, _signed(issued))
    assert refused.value.code == "s2s_key_invalid"


async def test_keys_still_verify_after_the_encryption_key_is_rotated_in_front(
    db: str, settings: Settings
) -> None:
    program = await _program()
    issued = await _issue(settings, program)
    rotated = dataclasses.replace(
        settings,
        s2s_key_encryption_key=f"{Fernet.generate_key().decode()},{settings.s2s_key_encryption_key}",
    )
    caller = await _verify(rotated, _signed(issued))
    assert caller.key_id == issued.api_key.key_id


async def test_a_revoked_key_is_refused_and_revoking_again_changes_nothing(
    db: str, settings: Settings
) -> None:
    program = await _program()
    issued = await _issue(settings, program)
    for _ in range(2):
        revoked = await api_key_service.revoke_api_key(
            program_id=program.id, key_id=issued.api_key.key_id, actor=ADMIN
        )
        assert api_key_service.serialize_api_key(revoked)["status"] == "revoked"
    assert await AuditLog.filter(action="api_key.revoke").count() == 1
    with pytest.raises(Unauthorized) as refused:
        await _verify(settings, _signed(issued))
    assert refused.value.code == "s2s_key_invalid"


async def test_an_unknown_key_is_refused(db: str, settings: Settings) -> None:
    program = await _program()
    issued = await _issue(settings, program)
    with pytest.raises(Unauthorized) as refused:
        await _verify(settings, _signed(issued, key_id="fxk_doesnotexist"))
    assert refused.value.code == "s2s_key_invalid"


async def test_rotation_issues_a_second_key_and_the_old_one_works_until_revoked(
    db: str, settings: Settings
) -> None:
    program = await _program()
    old = await _issue(settings, program, name="crm")
    new = await api_key_service.rotate_api_key(
        program_id=program.id, key_id=old.api_key.key_id, actor=ADMIN, settings=settings
    )
    assert new.api_key.name == "crm" and new.api_key.rotated_from == old.api_key.key_id
    assert new.secret != old.secret
    await _verify(settings, _signed(old))
    await _verify(settings, _signed(new))
    rotation = await AuditLog.get(action="api_key.rotate")
    assert rotation.details["rotated_from"] == old.api_key.key_id
    await api_key_service.revoke_api_key(
        program_id=program.id, key_id=old.api_key.key_id, actor=ADMIN
    )
    with pytest.raises(Unauthorized):
        await _verify(settings, _signed(old))
    await _verify(settings, _signed(new))
    with pytest.raises(Conflict) as refused:
        await api_key_service.rotate_api_key(
            program_id=program.id, key_id=old.api_key.key_id, actor=ADMIN, settings=settings
        )
    assert refused.value.code == "api_key_revoked"


async def test_keys_are_managed_only_within_their_own_program(db: str, settings: Settings) -> None:
    mine, theirs = await _program("Mine"), await _program("Theirs")
    issued = await _issue(settings, theirs)
    with pytest.raises(NotFound) as missing:
        await api_key_service.revoke_api_key(
            program_id=mine.id, key_id=issued.api_key.key_id, actor=ADMIN
        )
    assert missing.value.code == "api_key_not_found"
    assert await api_key_service.list_api_keys(program_id=mine.id) == []
    with pytest.raises(NotFound) as no_program:
        await api_key_service.create_api_key(
            program_id=999_999, name="x", actor=ADMIN, settings=settings
        )
    assert no_program.value.code == "program_not_found"


async def test_an_archived_program_gets_no_new_keys(db: str, settings: Settings) -> None:
    program = await _program()
    await program_service.archive_program(program_id=program.id, actor=ADMIN)
    with pytest.raises(Conflict) as refused:
        await _issue(settings, program)
    assert refused.value.code == "program_archived"
    assert await ApiKey.all().count() == 0


async def test_a_blank_key_name_is_refused(db: str, settings: Settings) -> None:
    program = await _program()
    with pytest.raises(ValidationFailed) as refused:
        await _issue(settings, program, name="   ")
    assert refused.value.code == "invalid_key_name"


async def test_keys_list_by_status_a_page_at_a_time(db: str, settings: Settings) -> None:
    program = await _program()
    issued = [await _issue(settings, program, name=f"k{i}") for i in range(3)]
    await api_key_service.revoke_api_key(
        program_id=program.id, key_id=issued[1].api_key.key_id, actor=ADMIN
    )
    active = await api_key_service.list_api_keys(program_id=program.id, status="active")
    assert [k.name for k in active] == ["k0", "k2"]
    revoked = await api_key_service.list_api_keys(program_id=program.id, status="revoked")
    assert [k.name for k in revoked] == ["k1"]
    first = await api_key_service.list_api_keys(program_id=program.id, limit=2)
    page = api_key_service.serialize_api_key_page(first, limit=2)
    rest = await api_key_service.list_api_keys(
        program_id=program.id, cursor=page["next_cursor"], limit=2
    )
    assert [k.name for k in first + rest] == ["k0", "k1", "k2"]
    with pytest.raises(ValidationFailed):
        await api_key_service.list_api_keys(program_id=program.id, status="expired")


async def test_a_key_of_another_program_than_the_routes_is_forbidden_and_spends_no_nonce(
    db: str, settings: Settings
) -> None:
    mine, theirs = await _program("Mine"), await _program("Theirs")
    issued = await _issue(settings, theirs)
    headers = _signed(issued)
    with pytest.raises(Forbidden) as refused:
        await _verify(settings, headers, program_id=mine.id)
    assert refused.value.code == "s2s_wrong_program"
    assert await S2SNonce.all().count() == 0


async def test_a_nonce_is_accepted_once_per_key(db: str, settings: Settings) -> None:
    program = await _program()
    first, second = await _issue(settings, program), await _issue(settings, program)
    await _verify(settings, _signed(first, nonce="n" * 20))
    with pytest.raises(Conflict) as replayed:
        await _verify(settings, _signed(first, nonce="n" * 20))
    assert replayed.value.code == "s2s_replayed"
    await _verify(settings, _signed(second, nonce="n" * 20))


async def test_a_stale_timestamp_is_refused_against_the_servers_clock(
    db: str, settings: Settings
) -> None:
    program = await _program()
    issued = await _issue(settings, program)
    headers = _signed(issued)
    clock.advance(timedelta(seconds=settings.s2s_replay_window_seconds + 2))
    with pytest.raises(Unauthorized) as refused:
        await _verify(settings, headers)
    assert refused.value.code == "s2s_timestamp_out_of_window"
    assert await S2SNonce.all().count() == 0


async def test_a_tampered_body_or_another_path_breaks_the_signature(
    db: str, settings: Settings
) -> None:
    program = await _program()
    issued = await _issue(settings, program)
    for path, body in ((PATH, b'{"event_id":"e-2"}'), ("/admin/v1/s2s/ping", BODY)):
        with pytest.raises(Unauthorized) as refused:
            await _verify(settings, _signed(issued), path=path, body=body)
        assert refused.value.code == "s2s_signature_invalid"
    assert await S2SNonce.all().count() == 0


async def test_the_purge_forgets_only_nonces_whose_timestamp_left_the_window(
    db: str, settings: Settings
) -> None:
    program = await _program()
    issued = await _issue(settings, program)
    now = int(clock.now().timestamp())
    window = settings.s2s_replay_window_seconds
    await _verify(settings, _signed(issued, nonce="old-nonce-000000", timestamp=now - window))
    await _verify(settings, _signed(issued, nonce="new-nonce-000000", timestamp=now))
    clock.advance(timedelta(seconds=window // 2))

    summary = await run_s2s_nonce_purge(settings)

    assert summary["purged"] == 1
    assert await S2SNonce.all().values_list("nonce", flat=True) == ["new-nonce-000000"]
    # The forgotten nonce cannot be replayed anyway: its timestamp is outside the window.
    with pytest.raises(Unauthorized) as refused:
        await _verify(settings, _signed(issued, nonce="old-nonce-000000", timestamp=now - window))
    assert refused.value.code == "s2s_timestamp_out_of_window"


async def test_a_purge_cutoff_without_a_timezone_is_refused(db: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        await signed_requests.purge_expired_nonces(older_than=datetime(2026, 1, 1))
    assert refused.value.code == "naive_datetime"


@pytest.mark.mysql
async def test_twenty_concurrent_requests_with_one_nonce_are_accepted_exactly_once(
    db: str, settings: Settings
) -> None:
    program = await _program()
    issued = await _issue(settings, program)
    headers = _signed(issued)
    outcomes = await asyncio.gather(
        *(_verify(settings, headers) for _ in range(20)), return_exceptions=True
    )
    accepted = [o for o in outcomes if isinstance(o, S2SCaller)]
    refused = [o for o in outcomes if not isinstance(o, S2SCaller)]
    assert len(accepted) == 1
    assert all(isinstance(o, FenxiaoError) and o.code == "s2s_replayed" for o in refused), refused
    assert await S2SNonce.all().count() == 1
    assert connection().capabilities.dialect == "mysql"
