"""Settings read once from the environment; every variable is documented in README.md."""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from cryptography.fernet import Fernet

log = logging.getLogger("fenxiao.config")

DEFAULT_DATABASE_URL = "sqlite://var/fenxiao.sqlite3"
MIN_SECRET_BYTES = 32
DEFAULT_S2S_REPLAY_WINDOW_SECONDS = 300
LOG_FORMATS = ("json", "text")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class ConfigError(RuntimeError):
    """The environment cannot run the server as configured."""


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc


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
    wechat_appid: str = "wx-standin-appid"
    wechat_secret: str = field(default="standin-secret", repr=False)
    # None means "start the bundled WeChat stand-in on loopback".
    wechat_api_base: str | None = None
    wechat_standin_port: int = 8090
    wechat_timeout_seconds: int = 5
    # None means jobs run in-process (the embedded default).
    celery_broker_url: str | None = None
    celery_result_backend: str | None = None
    public_base_url: str = "http://127.0.0.1:8000"
    mp_share_page: str = "pages/index/index"
    qr_cache_dir: str = "var/qr-cache"
    visitor_hash_salt: str = field(default_factory=lambda: secrets.token_hex(16), repr=False)
    bootstrap_admin_username: str | None = None
    bootstrap_admin_password: str | None = field(default=None, repr=False)
    application_expiry_days: int = 30
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

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def jobs_in_process(self) -> bool:
        return not self.celery_broker_url

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
        return cls(
            environment=environment,
            host=host,
            port=port,
            workers=_int(env, "WORKERS", 1),
            database_url=env.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
            jwt_secret=jwt_secret,
            access_token_ttl_seconds=_int(env, "ACCESS_TOKEN_TTL_SECONDS", 900),
            refresh_token_ttl_seconds=_int(env, "REFRESH_TOKEN_TTL_SECONDS", 14 * 24 * 3600),
            wechat_appid=env.get("WECHAT_APPID") or "wx-standin-appid",
            wechat_secret=env.get("WECHAT_SECRET") or "standin-secret",
            wechat_api_base=wechat_api_base,
            wechat_standin_port=_int(env, "WECHAT_STANDIN_PORT", 8090),
            wechat_timeout_seconds=_int(env, "WECHAT_TIMEOUT_SECONDS", 5),
            celery_broker_url=env.get("CELERY_BROKER_URL") or None,
            celery_result_backend=env.get("CELERY_RESULT_BACKEND") or None,
            public_base_url=env.get("PUBLIC_BASE_URL") or f"http://{host}:{port}",
            mp_share_page=env.get("MP_SHARE_PAGE") or "pages/index/index",
            qr_cache_dir=env.get("QR_CACHE_DIR") or "var/qr-cache",
            visitor_hash_salt=salt,
            bootstrap_admin_username=env.get("BOOTSTRAP_ADMIN_USERNAME") or None,
            bootstrap_admin_password=env.get("BOOTSTRAP_ADMIN_PASSWORD") or None,
            application_expiry_days=_int(env, "APPLICATION_EXPIRY_DAYS", 30),
            s2s_key_encryption_key=s2s_key_encryption_key,
            s2s_replay_window_seconds=replay_window,
            log_format=log_format,
            log_level=_choice(env, "LOG_LEVEL", LOG_LEVELS, "INFO"),
            proxies_count=proxies_count,
            real_ip_header=env.get("REAL_IP_HEADER") or None,
            forwarded_secret=env.get("FORWARDED_SECRET") or None,
            metrics_token=env.get("METRICS_TOKEN") or None,
            prometheus_multiproc_dir=env.get("PROMETHEUS_MULTIPROC_DIR") or None,
        )


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
