"""Staff find a promoter by a name's start, a phone's start or its last digits (four or more),
each an indexed lookup (EXPLAIN on MariaDB), newest first, in keyset pages."""

from __future__ import annotations

from typing import Any

import pytest

from server.auth import Principal
from server.db import connection
from server.domain.promoters.search import name_key, phone_digits, phone_reversed
from server.models import Program, Promoter, User
from server.services.promoters.queries import list_promoters, search_queries
from tests.service.promoters.test_promoters import apply, new_program

ADMIN = Principal(kind="staff", id=1, roles=frozenset({"admin"}))
PEOPLE = [
    ("张伟", "13800138000"),
    ("张 小 伟", "+8613900001234"),
    ("李娜", "13912348000"),
    ("Ｌｉ Ｌｅｉ", "+862162345678"),
    ("王芳", None),
]


async def _people(program: Program) -> dict[str, int]:
    ids = {}
    for name, phone in PEOPLE:
        applied = await apply(program, real_name=name, phone=phone)
        ids[name] = applied["promoter"]["id"]
    return ids


async def _found(program: Program, q: str, **filters: Any) -> list[int]:
    page = await list_promoters(program_id=program.id, viewer=ADMIN, q=q, **filters)
    return [item["id"] for item in page["items"]]


async def test_a_name_start_finds_every_promoter_whose_name_begins_so_newest_first(
    db: str,
) -> None:
    program = await new_program("review")
    ids = await _people(program)
    assert await _found(program, "张") == [ids["张 小 伟"], ids["张伟"]]
    assert await _found(program, "张伟") == [ids["张伟"]]
    assert await _found(program, "张小") == [ids["张 小 伟"]]
    assert await _found(program, "li lei") == [ids["Ｌｉ Ｌｅｉ"]]
    assert await _found(program, "伟") == []  # the middle of a name is not searched


async def test_a_phone_is_found_by_its_start_or_its_last_digits(db: str) -> None:
    program = await new_program("review")
    ids = await _people(program)
    assert await _found(program, "1234") == [ids["张 小 伟"]]
    assert await _found(program, "8000") == [ids["李娜"], ids["张伟"]]
    assert await _found(program, "139 1234") == [ids["李娜"]]
    assert await _found(program, "+86 13900001234") == [ids["张 小 伟"]]
    assert await _found(program, "01234") == [ids["张 小 伟"]]
    assert await _found(program, "6234") == []  # the middle of a number is not searched


async def test_a_search_keeps_the_other_filters_and_its_keyset_pages(db: str) -> None:
    program = await new_program("review")
    other = await new_program("review")
    ids = await _people(program)
    await _people(other)
    assert await _found(program, "张", status="approved") == []
    first = await list_promoters(program_id=program.id, viewer=ADMIN, q="张", limit=1)
    assert [item["id"] for item in first["items"]] == [ids["张 小 伟"]]
    rest = await _found(program, "张", cursor=first["next_cursor"], limit=1)
    assert rest == [ids["张伟"]]


async def test_a_changed_name_or_phone_is_searched_as_changed(db: str) -> None:
    program = await new_program("review")
    ids = await _people(program)
    promoter = await Promoter.get(id=ids["王芳"])
    promoter.real_name, promoter.phone = "赵敏", "13700009999"
    await promoter.save(update_fields=["real_name", "phone"])
    assert await _found(program, "赵") == [promoter.id]
    assert await _found(program, "9999") == [promoter.id]
    assert await _found(program, "王") == []


@pytest.mark.mysql
async def test_every_search_lookup_reads_an_index_on_mariadb(db: str) -> None:
    program = await Program.create(name="many", currency="CNY")
    await User.bulk_create([User(appid="wx", openid=f"search-{n}") for n in range(2000)])
    names = "张王李赵刘陈杨黄"
    rows = []
    for n, user in enumerate(await User.filter(openid__startswith="search-").order_by("id")):
        name, phone = f"{names[n % len(names)]}{n}", f"139{n:08d}"
        rows.append(
            Promoter(
                program_id=program.id,
                user_id=user.id,
                status="approved",
                real_name=name,
                phone=phone,
                name_key=name_key(name),
                phone_digits=phone_digits(phone),
                phone_reversed=phone_reversed(phone),
            )
        )
    await Promoter.bulk_create(rows, batch_size=500)
    await connection().execute_query("ANALYZE TABLE promoters")
    base = Promoter.filter(program_id=program.id)
    for text in ("张", "张1", "0012", "1390000012"):
        for lookup in search_queries(base, text, 50):
            [plan] = await connection().execute_query_dict(
                "EXPLAIN " + lookup.sql(params_inline=True)
            )
            assert plan["type"] in {"range", "ref"}, (text, plan)
            assert plan["key"] != "PRIMARY" and plan["key"] is not None, (text, plan)
