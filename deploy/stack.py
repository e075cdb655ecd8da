"""The production-shaped stack on this machine, without containers (`make stack`).

    python deploy/stack.py start    # MariaDB db + users, migrations, stand-in, web, worker, beat
    python deploy/stack.py status
    python deploy/stack.py test     # the end-to-end smoke (tests/e2e/test_stack.py) against it
    python deploy/stack.py stop     # SIGTERM each process, wait, SIGKILL only if it hangs

Everything runs as in production (FENXIAO_ENV=production, JSON logs, Celery on Redis, the
DML-only database user from deploy/mariadb/setup.sql) except WeChat, which is the bundled
stand-in. Pid files, logs and the generated secrets (stack.env, mode 0600, kept across
restarts so API keys stay valid) live in var/stack/.

Settings (environment): STACK_DATABASE (fenxiao_stack), STACK_MYSQL_ADMIN_URL
(mysql://root:@127.0.0.1:3306), STACK_BROKER_URL (redis://127.0.0.1:6379/2),
STACK_RESULT_BACKEND (redis://127.0.0.1:6379/3), STACK_PORT (18000), STACK_WECHAT_PORT
(18090), STACK_WORKERS (2), STACK_CELERY_CONCURRENCY (2).
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
# Run as a script: make the project's packages importable without relying on the install.
sys.path.insert(0, str(ROOT))
STATE = ROOT / "var" / "stack"
SECRETS_FILE = STATE / "stack.env"
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


def _setting(name: str, default: str) -> str:
    return os.environ.get(name) or default


def _database_name() -> str:
    name = _setting("STACK_DATABASE", "fenxiao_stack")
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,40}", name):
        sys.exit(f"STACK_DATABASE must be lower-case letters, digits and _: {name!r}")
    return name


def _load_or_create_secrets() -> dict[str, str]:
    """Secrets generated once per machine, so restarts keep tokens and API keys valid."""
    from cryptography.fernet import Fernet

    STATE.mkdir(parents=True, exist_ok=True)
    values: dict[str, str] = {}
    if SECRETS_FILE.exists():
        for line in SECRETS_FILE.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep and not key.startswith("#"):
                values[key] = value
    wanted = {
        "JWT_SECRET": lambda: secrets.token_urlsafe(48),
        "VISITOR_HASH_SALT": lambda: secrets.token_hex(16),
        "S2S_KEY_ENCRYPTION_KEY": lambda: Fernet.generate_key().decode(),
        "STACK_APP_DB_PASSWORD": lambda: secrets.token_urlsafe(24),
        "STACK_MIGRATE_DB_PASSWORD": lambda: secrets.token_urlsafe(24),
        "STACK_ADMIN_USERNAME": lambda: "stack-admin",
        "STACK_ADMIN_PASSWORD": lambda: secrets.token_urlsafe(18),
    }
    missing = {key: make() for key, make in wanted.items() if key not in values}
    if missing:
        values.update(missing)
        SECRETS_FILE.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
        SECRETS_FILE.chmod(0o600)
    return values


def _mysql_url(user: str, password: str, database: str) -> str:
    admin = urlsplit(_setting("STACK_MYSQL_ADMIN_URL", "mysql://root:@127.0.0.1:3306"))
    return f"mysql://{user}:{password}@{admin.hostname}:{admin.port or 3306}/{database}"


def service_environment(values: dict[str, str]) -> dict[str, str]:
    """What every process of the stack gets, on top of this process's environment."""
    database = _database_name()
    port = _setting("STACK_PORT", "18000")
    return {
        **os.environ,
        "FENXIAO_ENV": "production",
        "HOST": "127.0.0.1",
        "PORT": port,
        "WORKERS": _setting("STACK_WORKERS", "2"),
        "DATABASE_URL": _mysql_url(f"{database}_app", values["STACK_APP_DB_PASSWORD"], database),
        "JWT_SECRET": values["JWT_SECRET"],
        "VISITOR_HASH_SALT": values["VISITOR_HASH_SALT"],
        "S2S_KEY_ENCRYPTION_KEY": values["S2S_KEY_ENCRYPTION_KEY"],
        "WECHAT_API_BASE": f"http://127.0.0.1:{_setting('STACK_WECHAT_PORT', '18090')}",
        "WECHAT_APPID": "wx-standin-appid",
        "WECHAT_SECRET": "standin-secret",
        "CELERY_BROKER_URL": _setting("STACK_BROKER_URL", "redis://127.0.0.1:6379/2"),
        "CELERY_RESULT_BACKEND": _setting("STACK_RESULT_BACKEND", "redis://127.0.0.1:6379/3"),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "QR_CACHE_DIR": str(STATE / "qr-cache"),
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
        "PROMETHEUS_MULTIPROC_DIR": str(STATE / "metrics"),
        "BOOTSTRAP_ADMIN_USERNAME": values["STACK_ADMIN_USERNAME"],
        "BOOTSTRAP_ADMIN_PASSWORD": values["STACK_ADMIN_PASSWORD"],
    }


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
                _setting("STACK_WECHAT_PORT", "18090"),
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
                _setting("STACK_CELERY_CONCURRENCY", "2"),
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


def _prepare_database(values: dict[str, str]) -> None:
    """Run deploy/mariadb/setup.sql with this stack's database, user names and passwords."""
    import pymysql

    database = _database_name()
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
    admin = urlsplit(_setting("STACK_MYSQL_ADMIN_URL", "mysql://root:@127.0.0.1:3306"))
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
    if all(running_pid(c) for c in parts):
        print("[stack] already running")
        status()
        return
    stop(quiet=True)
    values = _load_or_create_secrets()
    env = service_environment(values)
    _prepare_database(values)
    _check_redis(env)
    migrate_env = {
        **env,
        "DATABASE_URL": _mysql_url(
            f"{_database_name()}_migrate", values["STACK_MIGRATE_DB_PASSWORD"], _database_name()
        ),
    }
    _run_once("migrate", ["migrate"], migrate_env)
    _run_once("migrate", ["seed"], migrate_env)
    print(f"[stack] database {_database_name()} migrated")

    standin, web, worker, beat = parts
    process = _launch(standin, env)
    _wait_until(
        lambda: _port_open(int(_setting("STACK_WECHAT_PORT", "18090"))),
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
    """The end-to-end smoke against the running stack."""
    if status() != 0:
        sys.exit("[stack] not running: `make stack` first")
    values = _load_or_create_secrets()
    env = service_environment(values)
    test_env = {
        **os.environ,
        "STACK_URL": f"http://127.0.0.1:{env['PORT']}",
        "STACK_ADMIN_USERNAME": values["STACK_ADMIN_USERNAME"],
        "STACK_ADMIN_PASSWORD": values["STACK_ADMIN_PASSWORD"],
        "STACK_LOG_DIR": str(STATE),
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
