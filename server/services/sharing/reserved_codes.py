"""The store's own coupon codes, registered over S2S as reserved: no promoter may create a code
or alias with that text, and a promoter's code with that text credits nobody."""

from __future__ import annotations

from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from server.domain.sharing.codes import normalize_code
from server.models import ReservedCode, ShareCode
from server.services.access.audit import record_action
from server.services.sharing.codes import page_by_text

MAX_RESERVED_BATCH = 500
# One retry covers a concurrent registration of the same text.
RESERVE_ATTEMPTS = 2


def _unique_texts(codes: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The batch by normalized text; a text sent twice counts once (its first spelling)."""
    unique: dict[str, dict[str, Any]] = {}
    for entry in codes:
        unique.setdefault(normalize_code(entry["code"]), entry)
    return unique


async def _held_by_promoters(program_id: int, normalized: list[str], conn: Any) -> dict[str, int]:
    rows = (
        await ShareCode.filter(program_id=program_id, normalized__in=normalized)
        .using_db(conn)
        .values_list("normalized", "id")
    )
    return {text: code_id for text, code_id in rows}


async def _reserve_once(
    *, program_id: int, codes: list[dict[str, Any]], key_id: str
) -> list[dict[str, Any]]:
    unique = _unique_texts(codes)
    texts = list(unique)
    async with in_transaction() as conn:
        already = set(
            await ReservedCode.filter(program_id=program_id, normalized__in=texts)
            .using_db(conn)
            .values_list("normalized", flat=True)
        )
        new = [
            ReservedCode(
                program_id=program_id,
                code=unique[text]["code"].strip(),
                normalized=text,
                note=unique[text].get("note"),
                registered_by=key_id,
            )
            # In one order for every request, so concurrent batches lock keys alike.
            for text in sorted(texts)
            if text not in already
        ]
        if new:
            await ReservedCode.bulk_create(new, using_db=conn)
        held = await _held_by_promoters(program_id, texts, conn)
        await record_action(
            actor=None,
            action="reserved_code.register",
            target_kind="program",
            target_id=program_id,
            program_id=program_id,
            details={"key_id": key_id, "registered": [r.normalized for r in new]},
            using_db=conn,
        )
    return [
        {
            "code": unique[text]["code"].strip(),
            "normalized": text,
            "status": "already_reserved" if text in already else "reserved",
            # A promoter's code with this text now credits nobody (the store's coupon wins).
            "promoter_code_id": held.get(text),
        }
        for text in texts
    ]


async def reserve_codes(
    *, program_id: int, codes: list[dict[str, Any]], key_id: str
) -> list[dict[str, Any]]:
    """Reserve the store's coupon codes (idempotent: a reserved text stays as it is)."""
    for attempt in range(RESERVE_ATTEMPTS):
        try:
            return await _reserve_once(program_id=program_id, codes=codes, key_id=key_id)
        except IntegrityError:
            # Another request reserved one of these texts between our read and our insert;
            # the next pass sees it as already reserved.
            if attempt == RESERVE_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


async def release_codes(*, program_id: int, codes: list[str], key_id: str) -> list[dict[str, Any]]:
    """Release reserved texts (idempotent); a promoter's code with the text credits again."""
    texts = list(dict.fromkeys(normalize_code(code) for code in codes))
    async with in_transaction() as conn:
        reserved = set(
            await ReservedCode.filter(program_id=program_id, normalized__in=texts)
            .using_db(conn)
            .values_list("normalized", flat=True)
        )
        if reserved:
            await (
                ReservedCode.filter(program_id=program_id, normalized__in=list(reserved))
                .using_db(conn)
                .delete()
            )
            await record_action(
                actor=None,
                action="reserved_code.release",
                target_kind="program",
                target_id=program_id,
                program_id=program_id,
                details={"key_id": key_id, "released": sorted(reserved)},
                using_db=conn,
            )
    return [
        {"normalized": text, "status": "released" if text in reserved else "not_reserved"}
        for text in texts
    ]


async def list_reserved_codes(
    *, program_id: int, q: str | None = None, cursor: int | None = None, limit: int = 50
) -> list[ReservedCode]:
    """A program's reserved codes by id, optionally those containing `q`."""
    return await page_by_text(
        ReservedCode.filter(program_id=program_id), q=q, cursor=cursor, limit=limit
    )


def serialize_reserved_code(code: ReservedCode) -> dict[str, Any]:
    return {
        "id": code.id,
        "code": code.code,
        "normalized": code.normalized,
        "note": code.note,
        "registered_by": code.registered_by,
        "created_at": code.created_at,
    }
