"""The fuzz suite drives the API tests' app (tests/api/conftest.py) over a little seeded data."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest
from sanic import Sanic

from server.app import create_app
from server.config import Settings
from server.integrations.wechat_standin import WeChatStandIn
from server.models import Commission
from tests.api.conftest import (  # noqa: F401  (fixtures shared with the API tests)
    Api,
    api,
    api_settings,
    app,
)
from tests.api.test_team_api import promoter_token
from tests.withdrawal_builders import funded_promoter, rules_program, withdraw


@pytest.fixture(scope="session")
async def started_app(database_url: str, wechat_standin: WeChatStandIn) -> AsyncIterator[Sanic]:
    """The fuzz suite's own app, started once; tests/api's, when both run, is another.

    Sanic rewrites its hot paths (TouchUp, a speed-up only) when an app starts, and a second
    rewrite in the same process fails: this app never does it, whichever starts first.
    """
    registry = dict(Sanic._app_registry)
    Sanic._app_registry.clear()
    settings = Settings(
        environment="test", database_url=database_url, wechat_api_base=wechat_standin.base_url
    )
    application = create_app(settings=settings, manage_db=False)
    application.asgi = True
    application.config.TOUCHUP = False
    await application._startup()
    await application._server_event("init", "before")
    await application._server_event("init", "after")
    try:
        yield application
    finally:
        await application._server_event("shutdown", "before")
        await application._server_event("shutdown", "after")
        Sanic._app_registry.clear()
        Sanic._app_registry.update(registry)


@dataclass(frozen=True)
class World:
    """Seeded rows the fuzzer aims some path ids at, and a token per caller."""

    path_ids: dict[str, int]
    tokens: dict[str, str]


@pytest.fixture
async def world(
    api: Api,  # noqa: F811  (the imported fixture)
    settings: Settings,
    standin: WeChatStandIn,  # the calls the fuzzer makes to WeChat are forgotten after it
) -> World:
    program = await rules_program()
    promoter = await funded_promoter(program, "100.00")
    withdrawal = await withdraw(promoter, "10.00")
    commission = await Commission.filter(promoter_id=promoter.id).first()
    assert commission is not None
    return World(
        path_ids={
            "program_id": program.id,
            "promoter_id": promoter.id,
            "withdrawal_id": withdrawal["id"],
            "commission_id": commission.id,
            "order_id": commission.order_id,  # type: ignore[attr-defined]
        },
        tokens={
            "admin": await api.staff_token("admin", username="fuzz_admin"),
            "finance": await api.staff_token("finance", username="fuzz_finance"),
            "staff": await api.staff_token("staff", username="fuzz_staff"),
            "promoter": promoter_token(settings, promoter.user_id),  # type: ignore[attr-defined]
        },
    )


@pytest.fixture(autouse=True)
def quiet_request_logs() -> Iterator[None]:
    """Thousands of requests: per-request INFO lines would cost more than the requests."""
    loggers = [logging.getLogger(name) for name in ("fenxiao.access", "httpx")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    yield
    for logger, level in zip(loggers, levels, strict=True):
        logger.setLevel(level)
