"""What every process of deploy/stack.py runs with: the stack's paths under var/stack/, its
generated secrets, and the production environment pointed at this machine's MariaDB, Redis
and WeChat stand-in (login and WeChat Pay v3), with the shared clock file."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import sys
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
STATE = ROOT / "var" / "stack"
SECRETS_FILE = STATE / "stack.env"
CLOCK_FILE = STATE / "clock-offset"
FINGERPRINT_FILE = STATE / "config.sha256"
PAY_PRIVATE_KEY_FILE = STATE / "wechatpay-merchant-key.pem"
PAY_PUBLIC_KEY_FILE = STATE / "wechatpay-public-key.pem"


def setting(name: str, default: str) -> str:
    return os.environ.get(name) or default


def database_name() -> str:
    name = setting("STACK_DATABASE", "fenxiao_stack")
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,40}", name):
        sys.exit(f"STACK_DATABASE must be lower-case letters, digits and _: {name!r}")
    return name


def load_or_create_secrets() -> dict[str, str]:
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


def mysql_url(user: str, password: str, database: str) -> str:
    admin = urlsplit(setting("STACK_MYSQL_ADMIN_URL", "mysql://root:@127.0.0.1:3306"))
    return f"mysql://{user}:{password}@{admin.hostname}:{admin.port or 3306}/{database}"


def _write_private(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    path.chmod(0o600)


def _pay_environment(wechat_base: str) -> dict[str, str]:
    """WeChat Pay v3 against the stand-in, configured the way production configures the real
    one: the stand-in's merchant credentials and platform public key (the same keys file the
    stand-in process loads from var/), so `require_payout_config()` passes."""
    from server.integrations.payments.standin_keys import DEV_KEYS_FILE, load_or_create_standin_keys

    keys = load_or_create_standin_keys(ROOT / DEV_KEYS_FILE)
    _write_private(PAY_PRIVATE_KEY_FILE, keys.merchant_private_key)
    _write_private(PAY_PUBLIC_KEY_FILE, keys.platform_public_key)
    return {
        "WECHAT_PAY_API_VERSION": "v3",
        "WECHAT_PAY_API_BASE": wechat_base,
        "WECHAT_PAY_MCHID": keys.mchid,
        "WECHAT_PAY_APIV3_KEY": keys.apiv3_key,
        "WECHAT_PAY_PRIVATE_KEY_PATH": str(PAY_PRIVATE_KEY_FILE),
        "WECHAT_PAY_CERT_SERIAL_NO": keys.merchant_cert_serial_no,
        "WECHAT_PAY_PUBLIC_KEY_PATH": str(PAY_PUBLIC_KEY_FILE),
        "WECHAT_PAY_PUBLIC_KEY_ID": keys.public_key_id,
    }


def stack_settings(values: dict[str, str]) -> dict[str, str]:
    """The variables this script sets for every process of the stack."""
    database = database_name()
    port = setting("STACK_PORT", "18000")
    wechat_base = f"http://127.0.0.1:{setting('STACK_WECHAT_PORT', '18090')}"
    return {
        "FENXIAO_ENV": "production",
        "HOST": "127.0.0.1",
        "PORT": port,
        "WORKERS": setting("STACK_WORKERS", "2"),
        "DATABASE_URL": mysql_url(f"{database}_app", values["STACK_APP_DB_PASSWORD"], database),
        "JWT_SECRET": values["JWT_SECRET"],
        "VISITOR_HASH_SALT": values["VISITOR_HASH_SALT"],
        "S2S_KEY_ENCRYPTION_KEY": values["S2S_KEY_ENCRYPTION_KEY"],
        "WECHAT_API_BASE": wechat_base,
        **_pay_environment(wechat_base),
        "WECHAT_APPID": "wx-standin-appid",
        "WECHAT_SECRET": "standin-secret",
        "CELERY_BROKER_URL": setting("STACK_BROKER_URL", "redis://127.0.0.1:6379/2"),
        "CELERY_RESULT_BACKEND": setting("STACK_RESULT_BACKEND", "redis://127.0.0.1:6379/3"),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "QR_CACHE_DIR": str(STATE / "qr-cache"),
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
        "PROMETHEUS_MULTIPROC_DIR": str(STATE / "metrics"),
        "BOOTSTRAP_ADMIN_USERNAME": values["STACK_ADMIN_USERNAME"],
        "BOOTSTRAP_ADMIN_PASSWORD": values["STACK_ADMIN_PASSWORD"],
        "FENXIAO_CLOCK_FILE": str(CLOCK_FILE),
        "FENXIAO_ALLOW_CLOCK_FILE": "1",
        # The stand-in accepts any template id: the promoter's messages are really sent.
        "WECHAT_TEMPLATE_WITHDRAWAL_PAID": "stack-withdrawal-paid",
        "WECHAT_TEMPLATE_WITHDRAWAL_REJECTED": "stack-withdrawal-rejected",
    }


def service_environment(values: dict[str, str]) -> dict[str, str]:
    """What every process of the stack gets, on top of this process's environment."""
    return {**os.environ, **stack_settings(values)}


def fingerprint_of(values: dict[str, str]) -> str:
    settings = stack_settings(values)
    text = "\n".join(f"{key}={settings[key]}" for key in sorted(settings))
    return hashlib.sha256(text.encode()).hexdigest()
