"""Settings read once from the environment (each documented in docs/configuration.md)."""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from cryptography.fernet import Fernet

from server.domain.programs.levels import DEFAULT_MAX_COMMISSION_LEVELS, level_cap_problem

log = logging.getLogger("fenxiao.config")

DEFAULT_DATABASE_URL = "sqlite://var/fenxiao.sqlite3"
MIN_SECRET_BYTES = 32
DEFAULT_S2S_REPLAY_WINDOW_SECONDS = 300
LOG_FORMATS = ("json", "text")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
WECHAT_PAY_API_VERSIONS = ("v3", "v2", "none")


class ConfigError(RuntimeError):
    """The environment cannot run the server as configured."""


def _positive(env: Mapping[str, str], name: str, default: int) -> int:
    value = _int(env, name, default)
    if value <= 0:
        raise ConfigError(f"{name} must be positive")
    return value


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc


def commission_level_cap(env: Mapping[str, str] | None = None) -> int:
    """MAX_COMMISSION_LEVELS: how many promoters may earn on one order line (1..3, default 2).

    Read where it is applied, so every process of a deployment (and a test that sets it)
    applies the same value; `Settings.from_env` refuses a bad one before anything starts."""
    env = os.environ if env is None else env
    cap = _int(env, "MAX_COMMISSION_LEVELS", DEFAULT_MAX_COMMISSION_LEVELS)
    if problem := level_cap_problem(cap):
        raise ConfigError(f"MAX_COMMISSION_LEVELS {problem}, got {cap}")
    return cap


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    value = raw.upper() if allowed[0].isupper() else raw.lower()
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {raw!r}")
    return value


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything the process needs to know about its environment."""

    environment: str = "development"
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    database_url: str = DEFAULT_DATABASE_URL
    jwt_secret: str = field(default_factory=lambda: secrets.token_urlsafe(48), repr=False)
    access_token_ttl_seconds: int = 900
    refresh_token_ttl_seconds: int = 14 * 24 * 3600
    # A console sign-in ends after this long whatever happens (a working day by default).
    console_session_ttl_seconds: int = 8 * 3600
    wechat_appid: str = "wx-standin-appid"
    wechat_secret: str = field(default="standin-secret", repr=False)
    # None means "start the bundled WeChat stand-in on loopback".
    wechat_api_base: str | None = None
    wechat_standin_port: int = 8090
    wechat_timeout_seconds: int = 5
    # None means jobs run in-process (the embedded default).
    celery_broker_url: str | None = None
    celery_result_backend: str | None = None
    # Redis broker: a task a worker took but never acknowledged (the worker died) goes back to
    # the queue after this long. Tasks are idempotent, so one running longer is merely re-run.
    celery_visibility_timeout_seconds: int = 3600
    public_base_url: str = "http://127.0.0.1:8000"
    mp_share_page: str = "pages/index/index"
    qr_cache_dir: str = "var/qr-cache"
    # Uploaded poster templates and materials, and rendered posters (served through the app).
    media_dir: str = "var/media"
    # A font with Chinese glyphs for names on posters; None = look for fonts-noto-cjk & co.
    poster_font_path: str | None = None
    # New mini-program codes (getwxacodeunlimit calls) one promoter may cause per window;
    # pictures already stored are served without counting.
    wxacode_calls_per_window: int = 10
    wxacode_window_seconds: int = 60
    visitor_hash_salt: str = field(default_factory=lambda: secrets.token_hex(16), repr=False)
    bootstrap_admin_username: str | None = None
    bootstrap_admin_password: str | None = field(default=None, repr=False)
    application_expiry_days: int = 30
    # Failed logins an account may have within the lockout period before it is locked for that
    # period; a client address may have four times as many (it may serve several people).
    login_max_failures: int = 5
    login_lockout_seconds: int = 900
    # Fernet key(s) encrypting S2S API-key secrets at rest; comma-separated, newest first.
    s2s_key_encryption_key: str = field(
        default_factory=lambda: Fernet.generate_key().decode(), repr=False
    )
    s2s_replay_window_seconds: int = DEFAULT_S2S_REPLAY_WINDOW_SECONDS
    # "json" (one object per line, production default) or "text" (development default).
    log_format: str = "text"
    log_level: str = "INFO"
    # Who may set the client address: the number of trusted proxies appending to
    # X-Forwarded-For, or one header a trusted proxy overwrites (nginx: X-Real-IP). Neither
    # is trusted by default, so a direct client cannot spoof its address.
    proxies_count: int = 0
    real_ip_header: str | None = None
    forwarded_secret: str | None = field(default=None, repr=False)
    # When set, /metrics requires `Authorization: Bearer <token>`.
    metrics_token: str | None = field(default=None, repr=False)
    # prometheus_client's multiprocess directory, shared by every Sanic worker (and a Celery
    # worker on the same host); server.cli defaults it to var/prometheus.
    prometheus_multiproc_dir: str | None = None
    # Subscribe-message template ids per notification kind; unset kinds are not sent.
    wechat_template_withdrawal_paid: str | None = None
    wechat_template_withdrawal_rejected: str | None = None
    wechat_template_announcement: str | None = None
    # How the message data's keys map onto each template's keywords ("amount:amount1,
    # reason:thing2"); unset = the keys are the keywords.
    wechat_template_withdrawal_paid_fields: str | None = None
    wechat_template_withdrawal_rejected_fields: str | None = None
    wechat_template_announcement_fields: str | None = None
    # WeChat Pay transfers to promoters: "v3" (merchant transfer), "v2" (legacy 企业付款) or
    # "none" (withdrawals are paid offline only). None base = the bundled stand-in.
    wechat_pay_api_version: str = "v3"
    wechat_pay_api_base: str | None = None
    wechat_pay_timeout_seconds: int = 10
    wechat_pay_mchid: str | None = None
    # The app the promoters' openids belong to; None = WECHAT_APPID.
    wechat_pay_appid: str | None = None
    wechat_pay_apiv3_key: str | None = field(default=None, repr=False)
    wechat_pay_private_key: str | None = field(default=None, repr=False)
    wechat_pay_cert_serial_no: str | None = None
    # The WeChat Pay public key and its id; without them the platform certificates are
    # downloaded from /v3/certificates (decrypted with the APIv3 key).
    wechat_pay_public_key: str | None = None
    wechat_pay_public_key_id: str | None = None
    wechat_pay_transfer_scene_id: str = "1005"
    wechat_pay_v2_api_key: str | None = field(default=None, repr=False)
    wechat_pay_v2_cert_path: str | None = None
    wechat_pay_v2_key_path: str | None = None
    wechat_pay_v2_client_ip: str = "127.0.0.1"
    # How long after a transfer was sent a query that finds no record of it still means
    # "unknown" (WeChat Pay may record a request late); only after it does it mean failed.
    payout_transfer_grace_seconds: int = 600
    # Test beds only (server/clock.py): a file holding a clock offset every process adds.
    clock_file: str | None = None
    # Promoters who may earn on one order line, the self-purchase rebate included (1..3).
    max_commission_levels: int = DEFAULT_MAX_COMMISSION_LEVELS
    # Outgoing webhooks: endpoints on private, loopback or link-local addresses (and plain
    # http) are refused unless this allows them (local receivers, tests); one attempt's limit.
    webhooks_allow_private: bool = False
    webhook_timeout_seconds: int = 5

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def jobs_in_process(self) -> bool:
        return not self.celery_broker_url

    @property
    def pays_through_standin(self) -> bool:
        """Transfers go to the bundled stand-in (development and tests only)."""
        return self.wechat_pay_api_base is None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from environment variables (os.environ by default)."""
        env = os.environ if env is None else env
        environment = env.get("FENXIAO_ENV", "development")
        jwt_secret = env.get("JWT_SECRET", "")
        if not jwt_secret:
            if environment == "production":
                raise ConfigError("JWT_SECRET is required in production")
            log.warning("JWT_SECRET not set: using a random per-process secret (development only)")
            jwt_secret = secrets.token_urlsafe(48)
        if len(jwt_secret.encode()) < MIN_SECRET_BYTES:
            raise ConfigError(f"JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes")
        salt = env.get("VISITOR_HASH_SALT", "")
        if not salt:
            if environment == "production":
                raise ConfigError("VISITOR_HASH_SALT is required in production")
            salt = secrets.token_hex(16)
        wechat_api_base = env.get("WECHAT_API_BASE") or None
        if environment == "production" and wechat_api_base is None:
            wechat_api_base = "https://api.weixin.qq.com"
        s2s_key_encryption_key = _s2s_key_encryption_key(env, environment, jwt_secret)
        replay_window = _int(env, "S2S_REPLAY_WINDOW_SECONDS", DEFAULT_S2S_REPLAY_WINDOW_SECONDS)
        if replay_window <= 0:
            raise ConfigError("S2S_REPLAY_WINDOW_SECONDS must be positive")
        port = _int(env, "PORT", 8000)
        host = env.get("HOST", "127.0.0.1")
        log_format = _choice(
            env, "LOG_FORMAT", LOG_FORMATS, "json" if environment == "production" else "text"
        )
        proxies_count = _int(env, "PROXIES_COUNT", 0)
        if proxies_count < 0:
            raise ConfigError("PROXIES_COUNT must not be negative")
        pay_version = _choice(env, "WECHAT_PAY_API_VERSION", WECHAT_PAY_API_VERSIONS, "v3")
        pay_api_base = env.get("WECHAT_PAY_API_BASE") or None
        clock_file = env.get("FENXIAO_CLOCK_FILE") or None
        if (
            clock_file
            and environment == "production"
            and not _bool(env, "FENXIAO_ALLOW_CLOCK_FILE", False)
        ):
            raise ConfigError(
                "FENXIAO_CLOCK_FILE moves the clock of every process: production must not set "
                "it (FENXIAO_ALLOW_CLOCK_FILE=1 allows it on a production-shaped test stack)"
            )
        if environment == "production" and pay_api_base is None:
            pay_api_base = "https://api.mch.weixin.qq.com"
        return cls(
            environment=environment,
            host=host,
            port=port,
            workers=_int(env, "WORKERS", 1),
            database_url=env.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
            jwt_secret=jwt_secret,
            access_token_ttl_seconds=_int(env, "ACCESS_TOKEN_TTL_SECONDS", 900),
            refresh_token_ttl_seconds=_int(env, "REFRESH_TOKEN_TTL_SECONDS", 14 * 24 * 3600),
            console_session_ttl_seconds=_positive(env, "CONSOLE_SESSION_TTL_SECONDS", 8 * 3600),
            wechat_appid=env.get("WECHAT_APPID") or "wx-standin-appid",
            wechat_secret=env.get("WECHAT_SECRET") or "standin-secret",
            wechat_api_base=wechat_api_base,
            wechat_standin_port=_int(env, "WECHAT_STANDIN_PORT", 8090),
            wechat_timeout_seconds=_int(env, "WECHAT_TIMEOUT_SECONDS", 5),
            celery_broker_url=env.get("CELERY_BROKER_URL") or None,
            celery_result_backend=env.get("CELERY_RESULT_BACKEND") or None,
            celery_visibility_timeout_seconds=_positive(
                env, "CELERY_VISIBILITY_TIMEOUT_SECONDS", 3600
            ),
            public_base_url=env.get("PUBLIC_BASE_URL") or f"http://{host}:{port}",
            mp_share_page=env.get("MP_SHARE_PAGE") or "pages/index/index",
            qr_cache_dir=env.get("QR_CACHE_DIR") or "var/qr-cache",
            media_dir=env.get("MEDIA_DIR") or "var/media",
            poster_font_path=env.get("POSTER_FONT_PATH") or None,
            wxacode_calls_per_window=_positive(env, "WXACODE_CALLS_PER_WINDOW", 10),
            wxacode_window_seconds=_positive(env, "WXACODE_WINDOW_SECONDS", 60),
            visitor_hash_salt=salt,
            bootstrap_admin_username=env.get("BOOTSTRAP_ADMIN_USERNAME") or None,
            bootstrap_admin_password=env.get("BOOTSTRAP_ADMIN_PASSWORD") or None,
            application_expiry_days=_int(env, "APPLICATION_EXPIRY_DAYS", 30),
            login_max_failures=_positive(env, "LOGIN_MAX_FAILURES", 5),
            login_lockout_seconds=_positive(env, "LOGIN_LOCKOUT_SECONDS", 900),
            s2s_key_encryption_key=s2s_key_encryption_key,
            s2s_replay_window_seconds=replay_window,
            log_format=log_format,
            log_level=_choice(env, "LOG_LEVEL", LOG_LEVELS, "INFO"),
            proxies_count=proxies_count,
            real_ip_header=env.get("REAL_IP_HEADER") or None,
            forwarded_secret=env.get("FORWARDED_SECRET") or None,
            metrics_token=env.get("METRICS_TOKEN") or None,
            prometheus_multiproc_dir=env.get("PROMETHEUS_MULTIPROC_DIR") or None,
            wechat_template_withdrawal_paid=env.get("WECHAT_TEMPLATE_WITHDRAWAL_PAID") or None,
            wechat_template_withdrawal_rejected=(
                env.get("WECHAT_TEMPLATE_WITHDRAWAL_REJECTED") or None
            ),
            wechat_template_withdrawal_paid_fields=(
                env.get("WECHAT_TEMPLATE_WITHDRAWAL_PAID_FIELDS") or None
            ),
            wechat_template_withdrawal_rejected_fields=(
                env.get("WECHAT_TEMPLATE_WITHDRAWAL_REJECTED_FIELDS") or None
            ),
            wechat_template_announcement=env.get("WECHAT_TEMPLATE_ANNOUNCEMENT") or None,
            wechat_template_announcement_fields=(
                env.get("WECHAT_TEMPLATE_ANNOUNCEMENT_FIELDS") or None
            ),
            wechat_pay_api_version=pay_version,
            wechat_pay_api_base=pay_api_base,
            wechat_pay_timeout_seconds=_int(env, "WECHAT_PAY_TIMEOUT_SECONDS", 10),
            wechat_pay_mchid=env.get("WECHAT_PAY_MCHID") or None,
            wechat_pay_appid=env.get("WECHAT_PAY_APPID") or None,
            wechat_pay_apiv3_key=env.get("WECHAT_PAY_APIV3_KEY") or None,
            wechat_pay_private_key=_pem(
                env, "WECHAT_PAY_PRIVATE_KEY", "WECHAT_PAY_PRIVATE_KEY_PATH"
            ),
            wechat_pay_cert_serial_no=env.get("WECHAT_PAY_CERT_SERIAL_NO") or None,
            wechat_pay_public_key=_pem(env, "WECHAT_PAY_PUBLIC_KEY", "WECHAT_PAY_PUBLIC_KEY_PATH"),
            wechat_pay_public_key_id=env.get("WECHAT_PAY_PUBLIC_KEY_ID") or None,
            wechat_pay_transfer_scene_id=env.get("WECHAT_PAY_TRANSFER_SCENE_ID") or "1005",
            wechat_pay_v2_api_key=env.get("WECHAT_PAY_V2_API_KEY") or None,
            wechat_pay_v2_cert_path=env.get("WECHAT_PAY_V2_CERT_PATH") or None,
            wechat_pay_v2_key_path=env.get("WECHAT_PAY_V2_KEY_PATH") or None,
            wechat_pay_v2_client_ip=env.get("WECHAT_PAY_V2_CLIENT_IP") or "127.0.0.1",
            payout_transfer_grace_seconds=_positive(env, "PAYOUT_TRANSFER_GRACE_SECONDS", 600),
            clock_file=clock_file,
            webhooks_allow_private=_bool(env, "WEBHOOKS_ALLOW_PRIVATE", False),
            webhook_timeout_seconds=_positive(env, "WEBHOOK_TIMEOUT_SECONDS", 5),
            max_commission_levels=commission_level_cap(env),
        )

    def require_payout_config(self) -> None:
        """Raise a ConfigError naming what production lacks to pay withdrawals."""
        # Checked when the server starts, not on every read of the environment: commands that
        # never pay (migrate, seed) do not need WeChat Pay.
        if not self.is_production or self.wechat_pay_api_version == "none":
            return
        if self.wechat_pay_api_version == "v3":
            required = {
                "WECHAT_PAY_MCHID": self.wechat_pay_mchid,
                "WECHAT_PAY_APIV3_KEY": self.wechat_pay_apiv3_key,
                "WECHAT_PAY_PRIVATE_KEY (or WECHAT_PAY_PRIVATE_KEY_PATH)": (
                    self.wechat_pay_private_key
                ),
                "WECHAT_PAY_CERT_SERIAL_NO": self.wechat_pay_cert_serial_no,
            }
            if (self.wechat_pay_public_key is None) != (self.wechat_pay_public_key_id is None):
                raise ConfigError(
                    "WECHAT_PAY_PUBLIC_KEY and WECHAT_PAY_PUBLIC_KEY_ID go together: set both "
                    "or neither (then the platform certificates are downloaded)"
                )
        else:
            required = {
                "WECHAT_PAY_MCHID": self.wechat_pay_mchid,
                "WECHAT_PAY_V2_API_KEY": self.wechat_pay_v2_api_key,
                "WECHAT_PAY_V2_CERT_PATH": self.wechat_pay_v2_cert_path,
                "WECHAT_PAY_V2_KEY_PATH": self.wechat_pay_v2_key_path,
            }
        missing = [name for name, value in required.items() if not value]
        if missing:
            raise ConfigError(
                f"WECHAT_PAY_API_VERSION={self.wechat_pay_api_version} needs "
                f"{', '.join(missing)} in production (or set WECHAT_PAY_API_VERSION=none to pay "
                "withdrawals offline only)"
            )


def _pem(env: Mapping[str, str], name: str, path_name: str) -> str | None:
    """A PEM given inline in `name`, or read from the file `path_name` points at."""
    inline = env.get(name) or ""
    path = env.get(path_name) or ""
    if inline and path:
        raise ConfigError(f"set {name} or {path_name}, not both")
    if path:
        try:
            with open(path, encoding="utf-8") as handle:
                return handle.read()
        except OSError as exc:
            raise ConfigError(f"{path_name}: cannot read {path!r}: {exc.strerror}") from exc
    # systemd EnvironmentFile= values are one line: accept "\n" escapes for the newlines.
    return inline.replace("\\n", "\n") if inline else None


def _s2s_key_encryption_key(env: Mapping[str, str], environment: str, jwt_secret: str) -> str:
    raw = env.get("S2S_KEY_ENCRYPTION_KEY", "").strip()
    if not raw:
        if environment == "production":
            raise ConfigError("S2S_KEY_ENCRYPTION_KEY is required in production")
        log.warning(
            "S2S_KEY_ENCRYPTION_KEY not set: deriving it from JWT_SECRET (development only); "
            "API keys become unusable when either changes"
        )
        # Derived, not random, so every worker of one run (which share JWT_SECRET) agrees.
        digest = hashlib.sha256(b"fenxiao-s2s-key-encryption\n" + jwt_secret.encode()).digest()
        return base64.urlsafe_b64encode(digest).decode()
    for candidate in raw.split(","):
        try:
            Fernet(candidate.strip())
        except ValueError as exc:
            raise ConfigError(
                "S2S_KEY_ENCRYPTION_KEY must be Fernet keys (32 url-safe base64-encoded bytes), "
                "comma-separated"
            ) from exc
    return raw
