"""Command line: `python -m server.cli migrate | seed | run | serve | create-staff`
(`run` is the development all-in-one; `serve` only serves).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import secrets
import sys
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING

from server import clean_stop

if TYPE_CHECKING:
    from server.config import Settings

log = logging.getLogger("fenxiao.cli")


DEV_SECRETS_FILE = "var/dev-secrets.json"
# Kept across runs in development: API-key secrets, tax ids and bank account numbers are
# encrypted with a key derived from them, so a secret made up per run would leave them unreadable.
DEV_SECRET_NAMES = ("JWT_SECRET", "VISITOR_HASH_SALT", "S2S_KEY_ENCRYPTION_KEY")


def _new_dev_secret(name: str) -> str:
    if name == "S2S_KEY_ENCRYPTION_KEY":
        from cryptography.fernet import Fernet

        return Fernet.generate_key().decode()
    return secrets.token_urlsafe(48)


def _kept_secrets(path: str) -> dict[str, str]:
    try:
        with open(path, encoding="utf-8") as file:
            return json.load(file)
    except FileNotFoundError:
        return {}


def _keep_secrets(path: str, secrets_by_name: dict[str, str]) -> dict[str, str]:
    """Write the file whole under a temporary name, then link it into place; when another
    process (a concurrent `server.cli`) linked one first, theirs is what everyone uses."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    temporary = f"{path}.{os.getpid()}.{secrets.token_hex(4)}"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        json.dump(secrets_by_name, file)
    try:
        if os.path.exists(path):
            os.replace(temporary, path)  # an older file missing a name: completed, not raced
        else:
            os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return _kept_secrets(path)


def _prepare_environment(path: str = DEV_SECRETS_FILE) -> None:
    """Give development defaults to secrets every worker must share (they read os.environ),
    made once and kept in `path` (mode 0600) so that a restart can read what it stored."""
    if os.environ.get("FENXIAO_ENV", "development") == "production":
        return
    missing = [name for name in DEV_SECRET_NAMES if not os.environ.get(name)]
    if not missing:
        return
    kept = _kept_secrets(path)
    # Twice at most: a concurrent run may have linked a file holding fewer names first.
    for _ in range(2):
        made = [name for name in missing if not kept.get(name)]
        if not made:
            break
        kept = _keep_secrets(path, {**{n: _new_dev_secret(n) for n in made}, **kept})
        print(f"[fenxiao] {', '.join(made)} not set: generated, kept in {path} (development)")
    for name in missing:
        os.environ[name] = kept[name]


async def _migrate(settings: Settings, target: str | None) -> None:
    from server import db

    await db.migrate(settings.database_url, target=target)


async def _seed(settings: Settings) -> list[str]:
    """Bootstrap admin and demo program; returns the lines to print."""
    from server import db
    from server.services.access.staff import ensure_bootstrap_admin
    from server.services.programs.settings import ensure_demo_program, serialize_program

    lines: list[str] = []
    await db.init_db(settings.database_url)
    try:
        username = settings.bootstrap_admin_username
        password = settings.bootstrap_admin_password
        if username and password:
            await ensure_bootstrap_admin(username=username, password=password)
            lines.append(f"admin account: {username} (password from BOOTSTRAP_ADMIN_PASSWORD)")
        elif not settings.is_production:
            username = "admin"
            password = secrets.token_urlsafe(12)
            from server.models import StaffUser

            if await StaffUser.exists(username=username):
                lines.append("admin account: admin (already created; password shown at first run)")
            else:
                await ensure_bootstrap_admin(username=username, password=password)
                lines.append(f"admin account: {username} / {password}")
        if not settings.is_production:
            program = await ensure_demo_program()
            data = serialize_program(program)
            lines.append(
                f"demo program: id={data['id']} name={data['name']!r} currency={data['currency']}"
            )
    finally:
        await db.close_db()
    return lines


DEFAULT_METRICS_DIR = "var/prometheus"
WORKER_START_DEADLINE_TENTHS = 1200


def _prepare_metrics_directory(settings: Settings) -> None:
    """Point every worker at one prometheus_client multiprocess directory."""
    # Cleared of the files of processes that are gone: a new run must not add up an old run's
    # samples.
    directory = os.path.abspath(settings.prometheus_multiproc_dir or DEFAULT_METRICS_DIR)
    os.makedirs(directory, exist_ok=True)
    # Before prometheus_client is imported anywhere: it picks multiprocess mode at import.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    from server.metrics import prune_dead_process_files

    removed = prune_dead_process_files(directory)
    log.info("metrics directory %s (%s stale files removed)", directory, removed)


def _serve(settings: Settings) -> None:
    if clean_stop.stop_requested():
        print("[fenxiao] stopped before serving")
        return
    from sanic import Sanic
    from sanic.worker.loader import AppLoader
    from sanic.worker.manager import WorkerManager
    from sanic.worker.process import WorkerProcess

    from server.app import create_app

    settings.require_payout_config()
    standin = None
    pays_through_standin = (
        settings.pays_through_standin and settings.wechat_pay_api_version != "none"
    )
    if settings.wechat_api_base is None or pays_through_standin:
        from server.integrations.wechat_standin import WeChatStandIn

        standin = WeChatStandIn.for_settings(settings)
        standin.start()
        print(f"[fenxiao] WeChat stand-in on {standin.base_url}")
    # Sanic kills every worker when one has not acknowledged its start within 30 s; a loaded
    # host importing the app in N fresh processes can take longer. The maintainers' advice is
    # to raise the class attribute (sanic-org/sanic#2629); tenths of a second.
    WorkerManager.THRESHOLD = WorkerProcess.THRESHOLD = WORKER_START_DEADLINE_TENTHS
    loader = AppLoader(factory=partial(create_app))
    app = loader.load()
    app.prepare(
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        # server.observability writes the (structured) access log; Sanic's would repeat it.
        access_log=False,
    )
    print(f"[fenxiao] serving on http://{settings.host}:{settings.port}")
    print("[fenxiao] OpenAPI: /mp/v1/openapi.json, /admin/v1/openapi.json, Swagger UI at /docs")
    clean_stop.install_clean_stop()
    print(f"[fenxiao] admin console: http://{settings.host}:{settings.port}/console")
    try:
        if not clean_stop.serve_unless_stopped(
            partial(Sanic.serve, primary=app, app_loader=loader)
        ):
            print("[fenxiao] stopped before serving")
    finally:
        if standin is not None:
            standin.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m server.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    migrate = sub.add_parser("migrate", help="apply pending schema migrations")
    migrate.add_argument(
        "--target",
        help="migrate (forwards or back) to this migration, e.g. 0001_initial; default: latest",
    )
    sub.add_parser("seed", help="create the bootstrap admin and the demo program")
    sub.add_parser("run", help="seed and serve (starts the WeChat stand-in if unconfigured)")
    sub.add_parser("serve", help="serve only, no seeding (what production units run)")
    create = sub.add_parser("create-staff", help="create a staff account")
    create.add_argument("username")
    create.add_argument("--roles", default="staff", help="comma-separated: staff,finance,admin")
    rebuild = sub.add_parser(
        "rebuild-reports", help="recompute report rollups from raw rows (idempotent)"
    )
    rebuild.add_argument("--from", dest="start", required=True, help="ISO instant or date (UTC)")
    rebuild.add_argument("--to", dest="end", required=True, help="ISO instant or date (UTC)")
    rebuild.add_argument("--program", type=int, default=None, help="one program id; default all")
    args = parser.parse_args(argv)
    if args.command in ("run", "serve"):
        # Before the slow imports: a stop signal from now on ends the server with status 0.
        clean_stop.catch_stop_signals()
    from server.config import ConfigError, Settings
    from server.logging_setup import configure_logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    _prepare_environment()
    try:
        settings = Settings.from_env()
    except ConfigError as refused:
        print(f"[fenxiao] refusing to start: {refused}", file=sys.stderr)
        return 2
    configure_logging(log_format=settings.log_format, level=settings.log_level)

    if args.command == "migrate":
        asyncio.run(_migrate(settings, args.target))
        print("[fenxiao] migrations applied")
    elif args.command == "seed":
        for line in asyncio.run(_seed(settings)):
            print(f"[fenxiao] {line}")
    elif args.command == "run":
        for line in asyncio.run(_seed(settings)):
            print(f"[fenxiao] {line}")
        _prepare_metrics_directory(settings)
        _serve(settings)
    elif args.command == "serve":
        _prepare_metrics_directory(settings)
        _serve(settings)
    elif args.command == "rebuild-reports":
        done = asyncio.run(_rebuild_reports(settings, args.start, args.end, args.program))
        print(f"[fenxiao] report rollups rebuilt: {done['spans']} spans")
    elif args.command == "create-staff":
        given = os.environ.get("STAFF_PASSWORD")
        password = given or secrets.token_urlsafe(12)
        asyncio.run(_create_staff(settings, args.username, password, args.roles.split(",")))
        shown = "from STAFF_PASSWORD" if given else password
        print(f"[fenxiao] created {args.username}; password: {shown}")
    return 0


def _instant(text: str) -> datetime:
    """A CLI time: an ISO date (midnight UTC) or instant; no offset means UTC."""
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


async def _rebuild_reports(
    settings: Settings, start: str, end: str, program_id: int | None
) -> dict[str, int]:
    from server import db
    from server.services.reports.rollups import rebuild_reports

    await db.init_db(settings.database_url)
    try:
        return await rebuild_reports(
            start=_instant(start), end=_instant(end), program_id=program_id
        )
    finally:
        await db.close_db()


async def _create_staff(settings: Settings, username: str, password: str, roles: list[str]) -> None:
    from server import db
    from server.services.access.staff import create_staff_user

    await db.init_db(settings.database_url)
    try:
        await create_staff_user(username=username, password=password, roles=roles, actor=None)
    finally:
        await db.close_db()


if __name__ == "__main__":
    sys.exit(main())
