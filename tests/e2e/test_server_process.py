"""The real server process, started the way `make run` starts it (migrate, then run with the
bundled WeChat stand-in), driven over real HTTP through the whole foundation flow."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import BACKEND, HANG_GUARD_SECONDS, TEST_JWT_SECRET, _mysql_url_for
from tests.migrated_databases import copy_migrated, run_migrate

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
ADMIN_PASSWORD = "e2e-admin-password"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RunningServer:
    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    database_url: str
    # The bundled WeChat stand-in; its /__standin__/… control paths inject faults.
    standin_url: str = ""

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]


def _mysql_admin_sync(sql: str) -> None:
    import asyncio

    from tests.conftest import _mysql_admin

    asyncio.run(_mysql_admin(sql))


def server_environment(database_url: str, tmp_path: Path) -> dict[str, str]:
    """The environment of a development server on `database_url`, its files under tmp_path."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("WECHAT_", "CELERY_"))},
        "FENXIAO_ENV": "development",
        "DATABASE_URL": database_url,
        "JWT_SECRET": TEST_JWT_SECRET,
        "QR_CACHE_DIR": str(tmp_path / "qr"),
        # Its own metrics files, not var/prometheus (another run's servers may be using it).
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
    }


def migrate(env: dict[str, str]) -> None:
    """`server.cli migrate` in `env`, as `make run` does before starting the server (a copy of
    a database migrated the same way: tests/migrated_databases.py)."""
    if env["DATABASE_URL"] == "sqlite://:memory:":
        run_migrate(env)
        return
    copy_migrated(env["DATABASE_URL"], env=env)


@contextmanager
def running_server(tmp_path: Path, **extra_env: str) -> Iterator[RunningServer]:
    """The server as `make run` starts it, on free ports and its own database; stopped after."""
    port, standin_port = _free_port(), _free_port()
    database = ""
    if BACKEND == "mysql":
        database = f"fenxiao_e_{secrets.token_hex(6)}"
        _mysql_admin_sync(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4")
        database_url = _mysql_url_for(database)
    else:
        database_url = f"sqlite://{tmp_path / 'e2e.sqlite3'}"
    env = {
        **server_environment(database_url, tmp_path),
        "PORT": str(port),
        "WECHAT_STANDIN_PORT": str(standin_port),
        "BOOTSTRAP_ADMIN_USERNAME": "root",
        "BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD,
        **extra_env,
    }
    migrate(env)
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "run"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    running = RunningServer(
        f"http://127.0.0.1:{port}",
        process,
        log_path,
        database_url,
        standin_url=f"http://127.0.0.1:{standin_port}",
    )
    try:
        # A hang guard only: on a 2-core machine running both passes at once (and more),
        # migrate + start was seen to take over 60 s.
        deadline = time.monotonic() + HANG_GUARD_SECONDS
        while True:
            assert process.poll() is None, f"server exited early:\n{running.log()}"
            try:
                if httpx.get(f"{running.base_url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"server never became healthy:\n{running.log()}"
            time.sleep(0.2)
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if database:
            _mysql_admin_sync(f"DROP DATABASE IF EXISTS `{database}`")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    with running_server(tmp_path) as running:
        yield running


def _ok(response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, f"{response.request.url}: {response.text}"
    return response.json()


def root_program(http: httpx.Client, name: str) -> tuple[dict[str, str], dict]:
    """Log in as the bootstrap admin and create an open 2-level program (10%, 5%): the
    admin's headers and the program."""
    admin = _ok(
        http.post("/admin/v1/auth/login", json={"username": "root", "password": ADMIN_PASSWORD})
    )
    staff = {"authorization": f"Bearer {admin['access_token']}"}
    program = _ok(
        http.post(
            "/admin/v1/programs",
            headers=staff,
            json={
                "name": name,
                "currency": "CNY",
                "recruitment_mode": "open",
                "max_levels": 2,
                "level_rates": ["10", "5"],
            },
        ),
        201,
    )
    return staff, program


def test_the_foundation_flow_over_real_http(server: RunningServer) -> None:
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        admin = _ok(
            http.post("/admin/v1/auth/login", json={"username": "root", "password": ADMIN_PASSWORD})
        )
        staff = {"authorization": f"Bearer {admin['access_token']}"}

        program = _ok(
            http.post(
                "/admin/v1/programs",
                headers=staff,
                json={
                    "name": "E2E shop",
                    "currency": "CNY",
                    "recruitment_mode": "review",
                    "max_levels": 2,
                    "level_rates": ["10", "5"],
                },
            ),
            201,
        )
        program_id = program["id"]

        def promoter(identity: str, invite: str | None) -> tuple[dict, dict]:
            login = _ok(http.post("/mp/v1/auth/login", json={"code": f"{identity}#1"}))
            headers = {"authorization": f"Bearer {login['access_token']}"}
            body = {"real_name": identity.title(), "phone": "13800138000"}
            if invite:
                body["invite_code"] = invite
            application = _ok(
                http.post(f"/mp/v1/programs/{program_id}/applications", headers=headers, json=body),
                201,
            )
            promoter_id = application["promoter"]["id"]
            assert application["promoter"]["status"] == "applied"
            _ok(http.post(f"/admin/v1/promoters/{promoter_id}/approve", headers=staff, json={}))
            me = _ok(http.get(f"/mp/v1/programs/{program_id}/me", headers=headers))
            assert me["status"] == "approved"
            return headers, me

        alice, alice_me = promoter("alice", None)
        _, bob_me = promoter("bob", alice_me["invite_code"])
        _, carol_me = promoter("carol", bob_me["invite_code"])

        team = _ok(http.get(f"/mp/v1/programs/{program_id}/team", headers=alice))
        assert team["total"] == 2
        assert team["levels"] == [{"depth": 1, "members": 1}, {"depth": 2, "members": 1}]
        members = _ok(http.get(f"/mp/v1/programs/{program_id}/team/levels/2", headers=alice))
        assert [m["id"] for m in members["items"]] == [carol_me["id"]]
        assert "phone" not in members["items"][0] and "real_name" not in members["items"][0]

        link = _ok(
            http.post(
                f"/mp/v1/programs/{program_id}/links", headers=alice, json={"utm_source": "poster"}
            ),
            201,
        )
        wxacode = http.get(
            f"/mp/v1/programs/{program_id}/links/{link['id']}/wxacode", headers=alice
        )
        assert wxacode.status_code == 200 and wxacode.content.startswith(PNG_SIGNATURE)
        plain = http.get(f"/mp/v1/programs/{program_id}/links/{link['id']}/qr.png", headers=alice)
        assert plain.status_code == 200 and plain.content.startswith(PNG_SIGNATURE)
        resolved = _ok(http.get(f"/mp/v1/s/{link['short_code']}"))
        assert resolved["promoter"]["invite_code"] == alice_me["invite_code"]
        # The H5 URL itself opens the landing page, with a URL Link from the stand-in.
        landing = http.get(f"/s/{link['short_code']}", headers={"user-agent": "MicroMessenger"})
        assert landing.status_code == 200 and "https://wxaurl.cn/" in landing.text

        _ok(
            http.post(
                f"/admin/v1/promoters/{carol_me['id']}/move",
                headers=staff,
                json={"new_parent_id": alice_me["id"], "reason": "e2e re-parent"},
            )
        )
        team = _ok(http.get(f"/mp/v1/programs/{program_id}/team", headers=alice))
        assert team["levels"] == [{"depth": 1, "members": 2}]
        audit = _ok(http.get("/admin/v1/audit", headers=staff, params={"program_id": program_id}))
        actions = [entry["action"] for entry in audit["items"]]
        assert actions.count("promoter.approve") == 3
        assert "hierarchy.move" in actions

    server.process.send_signal(signal.SIGINT)
    assert server.process.wait(timeout=15) == 0, server.log()


def test_a_client_that_leaves_mid_body_is_a_499_not_a_server_error(
    server: RunningServer,
) -> None:
    host, port = server.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(
            b"POST /admin/v1/auth/login HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
            b'{"username": "ro'
        )
        time.sleep(0.3)
    deadline = time.monotonic() + 10
    while True:
        metrics = httpx.get(f"{server.base_url}/metrics", timeout=5).text
        login = [
            line
            for line in metrics.splitlines()
            if line.startswith("fenxiao_http_requests_total{")
            and 'route="/admin/v1/auth/login"' in line
        ]
        if login or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert any('status="499"' in line for line in login), login
    assert not any('status="5' in line for line in login), login
    assert "Traceback" not in server.log()
