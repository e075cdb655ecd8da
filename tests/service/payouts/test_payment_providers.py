"""The WeChat Pay providers (API v3 through wechatpayv3, v2 through wechatpy) against the
WeChat stand-in over real HTTP: money reaches the promoter once, or the outcome says what to
do next, and nothing unverified is ever taken for paid."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from server.config import ConfigError, Settings
from server.domain.errors import ValidationFailed
from server.integrations.payments.base import (
    PaymentProvider,
    TransferRequest,
    TransferState,
)
from server.integrations.payments.factory import build_payment_provider
from server.integrations.payments.standin_keys import (
    StandInPayKeys,
    load_or_create_standin_keys,
)
from server.integrations.payments.wechat_v2 import WeChatPayV2Provider
from server.integrations.payments.wechat_v3 import WeChatPayV3Provider
from server.integrations.wechat_standin import WeChatStandIn
from server.integrations.wechat_standin_pay_v2 import TRANSFER_PATH as V2_TRANSFER_PATH
from server.integrations.wechat_standin_pay_v3 import TRANSFER_PATH as V3_TRANSFER_PATH
from tests.wechat_fixtures import standin_pay_settings

# v3 verifying with the WeChat Pay public key, v3 with downloaded platform certificates, v2.
SETUPS = ["v3", "v3-certificates", "v2"]
OPENID = "oPromoterOpenid000000000000"


def _request(out_bill_no: str = "WD20261122000001", amount: str = "12.34") -> TransferRequest:
    return TransferRequest(
        out_bill_no=out_bill_no,
        amount=Decimal(amount),
        currency="CNY",
        openid=OPENID,
        description="佣金提现",
    )


@pytest.fixture(params=SETUPS)
def setup(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def provider(setup: str, wechat_settings: Settings, standin: WeChatStandIn) -> PaymentProvider:
    version = "v2" if setup == "v2" else "v3"
    settings = standin_pay_settings(
        wechat_settings, standin, version=version, with_public_key=setup == "v3"
    )
    built = build_payment_provider(settings)
    assert built is not None
    return built


def _transfer_path(setup: str) -> str:
    return V2_TRANSFER_PATH if setup == "v2" else V3_TRANSFER_PATH


def _paid(standin: WeChatStandIn, out_bill_no: str) -> int:
    """Fen the stand-in holds as paid for `out_bill_no` (0 if not paid)."""
    transfer = standin.transfers.get(out_bill_no)
    if transfer is None or getattr(transfer, "state", getattr(transfer, "status", "")) != "SUCCESS":
        return 0
    return int(transfer.amount_fen)


async def test_a_transfer_pays_the_exact_amount_and_the_query_agrees(
    provider: PaymentProvider, standin: WeChatStandIn
) -> None:
    result = await provider.transfer(_request(amount="12.34"))

    assert result.state is TransferState.SUCCEEDED
    assert result.provider_reference
    assert _paid(standin, "WD20261122000001") == 1234
    assert standin.transfers["WD20261122000001"].openid == OPENID
    queried = await provider.query(out_bill_no="WD20261122000001")
    assert queried.state is TransferState.SUCCEEDED
    assert queried.provider_reference == result.provider_reference


async def test_retrying_with_the_same_number_is_the_same_transfer_paid_once(
    provider: PaymentProvider, standin: WeChatStandIn
) -> None:
    first = await provider.transfer(_request())
    second = await provider.transfer(_request())

    assert first.state is second.state is TransferState.SUCCEEDED
    assert first.provider_reference == second.provider_reference
    assert len(standin.transfers) == 1


async def test_a_number_reused_for_another_amount_is_never_paid_twice(
    provider: PaymentProvider, standin: WeChatStandIn
) -> None:
    await provider.transfer(_request(amount="12.34"))

    reused = await provider.transfer(_request(amount="99.00"))

    # The first transfer exists: this is neither paid nor "safe to retry".
    assert reused.state is TransferState.UNKNOWN
    assert _paid(standin, "WD20261122000001") == 1234
    assert (await provider.query(out_bill_no="WD20261122000001")).state is (TransferState.SUCCEEDED)


async def test_not_enough_merchant_funds_fails_the_transfer_and_creates_nothing(
    provider: PaymentProvider, standin: WeChatStandIn, setup: str
) -> None:
    standin.inject_fault("not_enough", path=_transfer_path(setup))

    result = await provider.transfer(_request())

    assert result.state is TransferState.FAILED
    assert result.failure_code in {"NOT_ENOUGH", "NOTENOUGH"}
    assert standin.transfers == {}


async def test_a_lost_reply_is_unknown_and_the_query_finds_the_transfer_paid(
    provider: PaymentProvider, standin: WeChatStandIn, setup: str
) -> None:
    standin.inject_fault("reply_lost", path=_transfer_path(setup))

    result = await provider.transfer(_request())

    assert result.state is TransferState.UNKNOWN
    assert result.failure_code == "timeout"
    assert (await provider.query(out_bill_no="WD20261122000001")).state is (TransferState.SUCCEEDED)
    assert _paid(standin, "WD20261122000001") == 1234


async def test_a_request_wechat_never_saw_is_not_found_and_resent_under_its_number_once(
    provider: PaymentProvider, standin: WeChatStandIn, setup: str
) -> None:
    standin.inject_fault("timeout", path=_transfer_path(setup), hold_seconds=5)

    assert (await provider.transfer(_request())).state is TransferState.UNKNOWN
    queried = await provider.query(out_bill_no="WD20261122000001")
    assert queried.state is TransferState.NOT_FOUND
    assert queried.failure_code == "NOT_FOUND"
    assert (await provider.transfer(_request())).state is TransferState.SUCCEEDED
    assert _paid(standin, "WD20261122000001") == 1234


@pytest.mark.parametrize("fault", ["garbage", "server_error", "disconnect", "system_error"])
async def test_trouble_on_the_wire_is_unknown_never_paid_nor_failed(
    provider: PaymentProvider, standin: WeChatStandIn, setup: str, fault: str
) -> None:
    standin.inject_fault(fault, path=_transfer_path(setup))  # type: ignore[arg-type]

    result = await provider.transfer(_request())

    assert result.state is TransferState.UNKNOWN
    assert result.failure_message


async def test_a_forged_answer_is_never_taken_for_paid(
    provider: PaymentProvider, standin: WeChatStandIn, setup: str
) -> None:
    standin.inject_fault("bad_signature", path=_transfer_path(setup))

    result = await provider.transfer(_request())

    assert result.state is TransferState.UNKNOWN
    assert result.failure_code == "unverified_reply"
    # The genuine answer, once asked for, settles it.
    assert (await provider.query(out_bill_no="WD20261122000001")).state is (TransferState.SUCCEEDED)


async def test_a_forged_query_answer_is_unknown(
    provider: PaymentProvider, standin: WeChatStandIn
) -> None:
    await provider.transfer(_request())
    standin.inject_fault("bad_signature")

    assert (await provider.query(out_bill_no="WD20261122000001")).state is TransferState.UNKNOWN


async def test_a_query_for_a_transfer_never_made_is_not_found(provider: PaymentProvider) -> None:
    result = await provider.query(out_bill_no="WD20261122999999")

    assert result.state is TransferState.NOT_FOUND
    assert result.failure_code == "NOT_FOUND"


@pytest.mark.parametrize("final", ["SUCCESS", "FAIL"])
async def test_a_transfer_under_way_stays_unsettled_until_wechat_settles_it(
    provider: PaymentProvider, standin: WeChatStandIn, setup: str, final: str
) -> None:
    standin.pay.hold_transfers()

    first = await provider.transfer(_request())
    # v3 answers WAIT_USER_CONFIRM; v2 answers SYSTEMERROR (query!) while it pays.
    assert first.state is (TransferState.UNKNOWN if setup == "v2" else TransferState.PROCESSING)
    if setup != "v2":
        assert first.details["package_info"]
    assert (await provider.query(out_bill_no="WD20261122000001")).state is (
        TransferState.PROCESSING
    )

    standin.pay.settle("WD20261122000001", state=final)

    settled = await provider.query(out_bill_no="WD20261122000001")
    expected = TransferState.SUCCEEDED if final == "SUCCESS" else TransferState.FAILED
    assert settled.state is expected


async def test_non_cny_is_refused_before_anything_is_sent(
    provider: PaymentProvider, standin: WeChatStandIn
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        await provider.transfer(dataclasses.replace(_request(), currency="USD"))

    assert refused.value.code == "unsupported_transfer_currency"
    assert standin.calls == []


async def test_a_real_name_is_sent_encrypted_and_readable_only_by_wechat_pay(
    wechat_settings: Settings, standin: WeChatStandIn
) -> None:
    provider = build_payment_provider(standin_pay_settings(wechat_settings, standin))
    assert provider is not None

    named = dataclasses.replace(_request(), real_name="张三")
    assert (await provider.transfer(named)).state is TransferState.SUCCEEDED

    assert standin.pay.v3.transfers["WD20261122000001"].user_name == "张三"


async def test_a_merchant_signing_with_the_wrong_key_is_refused_and_nothing_is_paid(
    wechat_settings: Settings, standin: WeChatStandIn
) -> None:
    other_keys = StandInPayKeys.generate()
    settings = dataclasses.replace(
        standin_pay_settings(wechat_settings, standin),
        wechat_pay_private_key=other_keys.merchant_private_key,
    )
    provider = build_payment_provider(settings)
    assert provider is not None

    result = await provider.transfer(_request())

    assert result.state is TransferState.FAILED
    assert result.failure_code == "SIGN_ERROR"
    assert standin.transfers == {}


# -- choosing the provider -----------------------------------------------------------------


def test_no_provider_when_withdrawals_are_paid_offline_only(settings: Settings) -> None:
    offline = dataclasses.replace(settings, wechat_pay_api_version="none")
    assert build_payment_provider(offline) is None


def test_the_api_version_chooses_the_provider(pay_settings: Settings) -> None:
    assert isinstance(build_payment_provider(pay_settings), WeChatPayV3Provider)
    v2 = dataclasses.replace(pay_settings, wechat_pay_api_version="v2")
    assert isinstance(build_payment_provider(v2), WeChatPayV2Provider)


def test_production_refuses_to_start_without_the_pay_credentials() -> None:
    production = Settings(environment="production", wechat_pay_api_base="https://example.test")
    with pytest.raises(ConfigError, match="WECHAT_PAY_MCHID"):
        production.require_payout_config()
    with pytest.raises(ConfigError, match="WECHAT_PAY_V2_API_KEY"):
        dataclasses.replace(production, wechat_pay_api_version="v2").require_payout_config()
    dataclasses.replace(production, wechat_pay_api_version="none").require_payout_config()


def test_production_reads_the_pay_settings_from_the_environment(tmp_path: Path) -> None:
    key_file = tmp_path / "apiclient_key.pem"
    keys = StandInPayKeys.generate()
    key_file.write_text(keys.merchant_private_key)
    settings = Settings.from_env(
        {
            "FENXIAO_ENV": "production",
            "JWT_SECRET": "j" * 40,
            "VISITOR_HASH_SALT": "salt",
            "S2S_KEY_ENCRYPTION_KEY": "q0LkPHGt0kwcBe3Ff_cAz0RrnXbtgTcs5whjJkqo8VQ=",
            "WECHAT_PAY_MCHID": "1900000109",
            "WECHAT_PAY_APIV3_KEY": "k" * 32,
            "WECHAT_PAY_PRIVATE_KEY_PATH": str(key_file),
            "WECHAT_PAY_CERT_SERIAL_NO": "ABC",
        }
    )
    settings.require_payout_config()
    assert settings.wechat_pay_api_base == "https://api.mch.weixin.qq.com"
    assert settings.wechat_pay_private_key == keys.merchant_private_key
    assert keys.merchant_private_key not in repr(settings)
    assert "k" * 32 not in repr(settings)


async def test_development_pays_through_the_standin_with_no_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What `make run` does: the stand-in and the app load the same development keys.
    monkeypatch.chdir(tmp_path)
    with WeChatStandIn(port=0, pay_keys=load_or_create_standin_keys()) as standin:
        settings = Settings(environment="development", wechat_pay_api_base=standin.base_url)
        provider = build_payment_provider(settings)
        assert provider is not None
        assert (await provider.transfer(_request())).state is TransferState.SUCCEEDED
    assert (tmp_path / "var" / "wechatpay-standin" / "keys.json").exists()


async def test_other_processes_can_hold_settle_and_inspect_transfers_over_http(
    pay_settings: Settings, standin: WeChatStandIn
) -> None:
    provider = build_payment_provider(pay_settings)
    assert provider is not None
    control = f"{standin.base_url}/__standin__"
    async with httpx.AsyncClient() as client:
        held = await client.post(f"{control}/hold-transfers", json={"state": "PROCESSING"})
        assert held.status_code == 200
        assert (await provider.transfer(_request())).state is TransferState.PROCESSING
        settled = await client.post(
            f"{control}/settle-transfer", json={"out_bill_no": "WD20261122000001"}
        )
        assert settled.status_code == 200
        listed = (await client.get(f"{control}/transfers")).json()["transfers"]
        unknown = await client.post(f"{control}/settle-transfer", json={"out_bill_no": "nope"})

    assert listed["WD20261122000001"]["state"] == "SUCCESS"
    assert listed["WD20261122000001"]["amount_fen"] == 1234
    assert unknown.status_code == 400
    assert (await provider.query(out_bill_no="WD20261122000001")).state is TransferState.SUCCEEDED
