"""The production-shaped stack on this machine, without containers (`make stack`).

    python deploy/stack.py start    # MariaDB db + users, migrations, stand-in, web, worker, beat
    python deploy/stack.py status
    python deploy/stack.py test     # tests/e2e/test_stack.py against it (the money scenario)
    python deploy/stack.py stop     # SIGTERM each process, wait, SIGKILL only if it hangs

Everything runs as in production (FENXIAO_ENV=production, JSON logs, Celery on Redis, the
DML-only database user from deploy/mariadb/setup.sql) except WeChat, which is the bundled
stand-in: mini-program login and WeChat Pay v3 transfers (the stand-in's merchant keys,
var/wechatpay-standin/keys.json, configured as production would configure real ones). Pid
files, logs and the generated secrets (stack.env, mode 0600, kept across restarts so API keys
stay valid) live in var/stack/.

Time is controllable: every process gets FENXIAO_CLOCK_FILE=var/stack/clock-offset (with
FENXIAO_ALLOW_CLOCK_FILE=1, which production refuses to run without), so a test moves the
clock of the web workers, the Celery worker and beat at once by writing seconds into that
file (server/clock.py); `start` resets it to 0. A running stack whose configuration no longer
matches this script's is restarted by `start`.

Settings (environment): STACK_DATABASE (fenxiao_stack), STACK_MYSQL_ADMIN_URL
(mysql://root:@127.0.0.1:3306), STACK_BROKER_URL (redis://127.0.0.1:6379/2),
STACK_RESULT_BACKEND (redis://127.0.0.1:6379/3), STACK_PORT (18000), STACK_WECHAT_PORT
(18090), STACK_WORKERS (2), STACK_CELERY_CONCURRENCY (2).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
# Run as a script: make the project's packages importable without relying on the install.
sys.path.insert(0, str(ROOT))

from deploy.stack_environment import (  # noqa: E402 (importable only after the line above)
    CLOCK_FILE,
    FINGERPRINT_FILE,
    SECRETS_FILE,
    STATE,
    database_name,
    fingerprint_of,
    load_or_create_secrets,
    mysql_url,
    service_environment,
    setting,
)

PYTHON = sys.executable
START_DEADLINE_SECONDS = 90.0


@dataclass(frozen=True)
class Component:
    """One background process of the stack."""

    name: str
    command: list[str]
    # A fragment of /proc/<pid>/cmdline: a recycled pid is never mistaken for ours.
    marker: str
    stop_timeout: float

    @property
    def pid_file(self) -> Path:
        return STATE / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return STATE / f"{self.name}.log"


def components() -> list[Component]:
    """In start order; stopped in reverse."""
    celery = [PYTHON, "-m", "celery", "-A", "jobs.celery_app"]
    return [
        Component(
            "wechat-standin",
            [
                PYTHON,
                "-m",
                "server.integrations.wechat_standin",
                "--port",
                setting("STACK_WECHAT_PORT", "18090"),
            ],
            "server.integrations.wechat_standin",
            10,
        ),
        Component("web", [PYTHON, "-m", "server.cli", "serve"], "server.cli", 40),
        Component(
            "worker",
            [
                *celery,
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                setting("STACK_CELERY_CONCURRENCY", "2"),
                "--hostname",
                "fenxiao-stack@%h",
            ],
            "worker",
            120,
        ),
        Component(
            "beat",
            [
                *celery,
                "beat",
                "--loglevel",
                "INFO",
                "--schedule",
                str(STATE / "celerybeat-schedule"),
            ],
            "beat",
            20,
        ),
    ]


def running_pid(component: Component) -> int | None:
    """The component's pid when its process is alive and is really the one we started."""
    try:
        pid = int(component.pid_file.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return None
    return pid if component.marker in cmdline and PYTHON in cmdline else None


def _wait_until(
    check: Callable[[], bool], what: str, component: Component, process: subprocess.Popen[bytes]
) -> None:
    deadline = time.monotonic() + START_DEADLINE_SECONDS
    while not check():
        if process.poll() is not None:
            sys.exit(
                f"{component.name} exited ({process.returncode}) while {what}; "
                f"see {component.log_file}"
            )
        if time.monotonic() > deadline:
            sys.exit(
                f"{component.name} not {what} after {START_DEADLINE_SECONDS:.0f}s; "
                f"see {component.log_file}"
            )
        time.sleep(0.3)


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _web_ready(env: dict[str, str]) -> bool:
    import httpx

    try:
        return httpx.get(f"http://127.0.0.1:{env['PORT']}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _worker_answers(env: dict[str, str]) -> bool:
    from jobs.celery_app import create_celery_app
    from server.config import Settings

    app = create_celery_app(Settings.from_env(env))
    try:
        return bool(app.control.ping(timeout=1.0))
    finally:
        app.close()


def _launch(component: Component, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with component.log_file.open("ab") as log:
        process = subprocess.Popen(
            component.command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    component.pid_file.write_text(f"{process.pid}\n")
    return process


def _prepare_database(values: dict[str, str], *, drop_existing: bool) -> None:
    """Run deploy/mariadb/setup.sql with this stack's database, user names and passwords
    (after dropping the stack's database when `drop_existing`)."""
    import pymysql

    database = database_name()
    sql = (ROOT / "deploy" / "mariadb" / "setup.sql").read_text()
    for placeholder, value in (
        ("`fenxiao`", f"`{database}`"),
        ("'fenxiao_app'", f"'{database}_app'"),
        ("'fenxiao_migrate'", f"'{database}_migrate'"),
        ("CHANGE-ME-app-db-password", values["STACK_APP_DB_PASSWORD"]),
        ("CHANGE-ME-migrate-db-password", values["STACK_MIGRATE_DB_PASSWORD"]),
    ):
        sql = sql.replace(placeholder, value)
    statements = [s.strip() for s in re.sub(r"(?m)^--.*$", "", sql).split(";") if s.strip()]
    admin = urlsplit(setting("STACK_MYSQL_ADMIN_URL", "mysql://root:@127.0.0.1:3306"))
    try:
        connection = pymysql.connect(
            host=admin.hostname or "127.0.0.1",
            port=admin.port or 3306,
            user=admin.username or "root",
            password=admin.password or "",
            autocommit=True,
        )
    except pymysql.MySQLError as exc:
        sys.exit(f"MariaDB unreachable at {admin.hostname}:{admin.port}: {exc}")
    with connection, connection.cursor() as cursor:
        if drop_existing:
            cursor.execute(f"DROP DATABASE IF EXISTS `{database}`")
        for statement in statements:
            cursor.execute(statement)


def _check_redis(env: dict[str, str]) -> None:
    import redis

    client = redis.Redis.from_url(env["CELERY_BROKER_URL"], socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        sys.exit(f"Redis unreachable at {env['CELERY_BROKER_URL']}: {exc}")
    finally:
        client.close()


def _run_once(name: str, args: list[str], env: dict[str, str]) -> None:
    log_file = STATE / f"{name}.log"
    with log_file.open("ab") as log:
        done = subprocess.run(
            [PYTHON, "-m", "server.cli", *args],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
            timeout=600,
        )
    if done.returncode != 0:
        sys.exit(f"`server.cli {' '.join(args)}` failed; see {log_file}")


def start() -> None:
    parts = components()
    # A database left by another checkout was made with secrets this one never had (its admin
    # password, the key its API keys are encrypted with): start the stack's database afresh.
    fresh_secrets = not SECRETS_FILE.exists()
    values = load_or_create_secrets()
    fingerprint = fingerprint_of(values)
    if all(running_pid(c) for c in parts):
        if FINGERPRINT_FILE.exists() and FINGERPRINT_FILE.read_text().strip() == fingerprint:
            print("[stack] already running")
            status()
            return
        print("[stack] running with another configuration: restarting")
    stop(quiet=True)
    env = service_environment(values)
    from server.clock import write_clock_file

    write_clock_file(CLOCK_FILE, timedelta(0))
    _prepare_database(values, drop_existing=fresh_secrets)
    _check_redis(env)
    migrate_env = {
        **env,
        "DATABASE_URL": mysql_url(
            f"{database_name()}_migrate", values["STACK_MIGRATE_DB_PASSWORD"], database_name()
        ),
    }
    _run_once("migrate", ["migrate"], migrate_env)
    _run_once("migrate", ["seed"], migrate_env)
    print(f"[stack] database {database_name()} migrated")

    standin, web, worker, beat = parts
    process = _launch(standin, env)
    _wait_until(
        lambda: _port_open(int(setting("STACK_WECHAT_PORT", "18090"))),
        "listening",
        standin,
        process,
    )
    process = _launch(web, env)
    _wait_until(lambda: _web_ready(env), "ready (/readyz)", web, process)
    process = _launch(worker, env)
    _wait_until(lambda: _worker_answers(env), "answering pings", worker, process)
    process = _launch(beat, env)
    time.sleep(2)
    if process.poll() is not None:
        sys.exit(f"beat exited ({process.returncode}); see {beat.log_file}")
    FINGERPRINT_FILE.write_text(f"{fingerprint}\n")
    status()
    print(
        f"[stack] http://127.0.0.1:{env['PORT']}  admin {values['STACK_ADMIN_USERNAME']}"
        f" (password in {SECRETS_FILE.relative_to(ROOT)})  logs in var/stack/"
    )


def status() -> int:
    down = 0
    for component in components():
        pid = running_pid(component)
        down += pid is None
        state = f"running (pid {pid})" if pid else "stopped"
        print(f"[stack] {component.name:15} {state:22} {component.log_file.relative_to(ROOT)}")
    return 1 if down else 0


def stop(*, quiet: bool = False) -> None:
    for component in reversed(components()):
        pid = running_pid(component)
        if pid is None:
            component.pid_file.unlink(missing_ok=True)
            continue
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + component.stop_timeout
        while running_pid(component) == pid and time.monotonic() < deadline:
            time.sleep(0.2)
        if running_pid(component) == pid:
            print(
                f"[stack] {component.name} ignored SIGTERM for {component.stop_timeout:.0f}s:"
                " SIGKILL"
            )
            os.killpg(pid, signal.SIGKILL)
        component.pid_file.unlink(missing_ok=True)
        if not quiet:
            print(f"[stack] stopped {component.name}")


def run_tests(extra: list[str]) -> int:
    """tests/e2e/test_stack.py against the running stack; pytest's exit status."""
    if status() != 0:
        sys.exit("[stack] not running: `make stack` first")
    values = load_or_create_secrets()
    env = service_environment(values)
    test_env = {
        **os.environ,
        "STACK_URL": f"http://127.0.0.1:{env['PORT']}",
        "STACK_ADMIN_USERNAME": values["STACK_ADMIN_USERNAME"],
        "STACK_ADMIN_PASSWORD": values["STACK_ADMIN_PASSWORD"],
        "STACK_LOG_DIR": str(STATE),
        "STACK_CLOCK_FILE": str(CLOCK_FILE),
        "STACK_WECHAT_URL": env["WECHAT_API_BASE"],
    }
    command = [
        PYTHON,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:logging",
        "-m",
        "stack",
        "tests/e2e/test_stack.py",
        *extra,
    ]
    return subprocess.run(command, cwd=ROOT, env=test_env, check=False).returncode


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "status"
    if command == "start":
        start()
    elif command == "stop":
        stop()
    elif command == "status":
        return status()
    elif command == "test":
        return run_tests(argv[1:])
    else:
        sys.exit(f"usage: {Path(__file__).name} start | stop | status | test [pytest args]")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
