"""The leaderboard as staff see it: the promoters' ranks with full names, opted-out promoters
left out as in the mini-program; admins show or hide it, staff may not."""

from __future__ import annotations

from datetime import timedelta

from sanic import Sanic

from server import clock
from server.models import Program
from tests.api.console.client import signed_in
from tests.order_builders import promoter, shop
from tests.service.tiers.builders import sale


async def test_staff_see_the_ranks_without_opted_out_promoters(app: Sanic) -> None:
    program = await shop()
    shy, proud, small = await promoter(program), await promoter(program), await promoter(program)
    for who, name in ((shy, "害羞"), (proud, "骄傲"), (small, "小")):
        who.real_name = name
    shy.leaderboard_opt_out = True
    for who in (shy, proud, small):
        await who.save()
    now = clock.now() - timedelta(minutes=5)
    await sale(program, shy, "900.00", placed_at=now)
    await sale(program, proud, "300.00", placed_at=now)
    await sale(program, small, "100.00", placed_at=now)

    console = await signed_in(app, "staff", username="board_staff")
    board = await console.get(f"/console/leaderboard?program_id={program.id}")
    assert board.status_code == 200
    assert "害羞" not in board.text
    assert board.text.index("骄傲") < board.text.index("小</a>")
    assert 'id="switch-leaderboard"' not in board.text  # a setting: admins only
    assert (await console.post(f"/console/leaderboard?program_id={program.id}",
                               {"enabled": "1"})).status_code == 403  # fmt: skip
    await console.close()


async def test_an_admin_shows_the_leaderboard_to_promoters(app: Sanic) -> None:
    program = await shop()
    console = await signed_in(app, "admin", username="board_admin")
    await console.get(f"/console/leaderboard?program_id={program.id}")
    shown = await console.post(f"/console/leaderboard?program_id={program.id}", {"enabled": "1"})
    assert shown.status_code == 303
    assert (await Program.get(id=program.id)).leaderboard_enabled
    hidden = await console.post(f"/console/leaderboard?program_id={program.id}", {})
    assert hidden.status_code == 303
    assert not (await Program.get(id=program.id)).leaderboard_enabled
    await console.close()
