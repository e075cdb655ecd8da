"""The payment provider the settings ask for: WeChat Pay API v3, v2, or none (offline only);
without WECHAT_PAY_API_BASE (never in production) the bundled stand-in.
"""

from __future__ import annotations

from dataclasses import dataclass

from server.config import ConfigError, Settings
from server.integrations.payments.base import PaymentProvider
from server.integrations.payments.standin_keys import load_or_create_standin_keys
from server.integrations.payments.wechat_v2 import WeChatPayV2Provider
from server.integrations.payments.wechat_v3 import WeChatPayV3Provider


@dataclass(frozen=True)
class _Credentials:
    mchid: str | None
    apiv3_key: str | None
    private_key: str | None
    cert_serial_no: str | None
    public_key: str | None
    public_key_id: str | None
    v2_api_key: str | None


def _credentials(settings: Settings, version: str) -> _Credentials:
    configured = _Credentials(
        mchid=settings.wechat_pay_mchid,
        apiv3_key=settings.wechat_pay_apiv3_key,
        private_key=settings.wechat_pay_private_key,
        cert_serial_no=settings.wechat_pay_cert_serial_no,
        public_key=settings.wechat_pay_public_key,
        public_key_id=settings.wechat_pay_public_key_id,
        v2_api_key=settings.wechat_pay_v2_api_key,
    )
    if version == "v2":
        needed = (configured.mchid, configured.v2_api_key)
    else:
        needed = (configured.mchid, configured.apiv3_key, configured.private_key)
    if settings.is_production or all(needed):
        return configured
    keys = load_or_create_standin_keys()
    # The stand-in's platform key answers the stand-in's merchant only.
    uses_public_key = configured.private_key is None
    return _Credentials(
        mchid=configured.mchid or keys.mchid,
        apiv3_key=configured.apiv3_key or keys.apiv3_key,
        private_key=configured.private_key or keys.merchant_private_key,
        cert_serial_no=configured.cert_serial_no or keys.merchant_cert_serial_no,
        public_key=keys.platform_public_key if uses_public_key else configured.public_key,
        public_key_id=keys.public_key_id if uses_public_key else configured.public_key_id,
        v2_api_key=configured.v2_api_key or keys.v2_api_key,
    )


def _required(value: str | None, name: str) -> str:
    if not value:
        raise ConfigError(f"{name} is required for WeChat Pay transfers")
    return value


def payment_api_base(settings: Settings) -> str:
    """Where WeChat Pay is: the configured base, else the loopback stand-in."""
    return settings.wechat_pay_api_base or f"http://127.0.0.1:{settings.wechat_standin_port}"


def build_payment_provider(settings: Settings) -> PaymentProvider | None:
    """The provider paying withdrawals automatically, or None when they are paid offline only."""
    version = settings.wechat_pay_api_version
    if version == "none":
        return None
    credentials = _credentials(settings, version)
    appid = settings.wechat_pay_appid or settings.wechat_appid
    if version == "v2":
        return WeChatPayV2Provider(
            appid=appid,
            mchid=_required(credentials.mchid, "WECHAT_PAY_MCHID"),
            api_key=_required(credentials.v2_api_key, "WECHAT_PAY_V2_API_KEY"),
            api_base=payment_api_base(settings),
            timeout_seconds=settings.wechat_pay_timeout_seconds,
            client_ip=settings.wechat_pay_v2_client_ip,
            cert_path=settings.wechat_pay_v2_cert_path,
            key_path=settings.wechat_pay_v2_key_path,
        )
    if version != "v3":
        raise ConfigError(f"WECHAT_PAY_API_VERSION must be v3, v2 or none, got {version!r}")
    if (credentials.public_key is None) != (credentials.public_key_id is None):
        raise ConfigError("WECHAT_PAY_PUBLIC_KEY and WECHAT_PAY_PUBLIC_KEY_ID go together")
    return WeChatPayV3Provider(
        mchid=_required(credentials.mchid, "WECHAT_PAY_MCHID"),
        appid=appid,
        private_key=_required(credentials.private_key, "WECHAT_PAY_PRIVATE_KEY"),
        cert_serial_no=_required(credentials.cert_serial_no, "WECHAT_PAY_CERT_SERIAL_NO"),
        apiv3_key=_required(credentials.apiv3_key, "WECHAT_PAY_APIV3_KEY"),
        api_base=payment_api_base(settings),
        timeout_seconds=settings.wechat_pay_timeout_seconds,
        transfer_scene_id=settings.wechat_pay_transfer_scene_id,
        public_key=credentials.public_key,
        public_key_id=credentials.public_key_id,
    )
