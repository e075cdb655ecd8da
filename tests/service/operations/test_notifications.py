"""The notification outbox: queued with the business change, sent later by a job through the
WeChat stand-in, retried on trouble, and never a reason for the money path to fail."""

from __future__ import annotations

import dataclasses
import logging
from datetime import timedelta

import pytest
from tortoise.transactions import in_transaction

from jobs.recorded import run_recorded
from server import clock
from server.config import Settings
from server.domain.errors import ValidationFailed
from server.integrations.wechat import WeChatGateway
from server.integrations.wechat_standin import WeChatStandIn
from server.models import JobRun, Notification, Program, User
from server.services.operations import notifications
from server.services.operations.notifications import (
    MAX_ATTEMPTS,
    TEMPLATE_WITHDRAWAL_PAID,
    TEMPLATE_WITHDRAWAL_REJECTED,
    enqueue_notification,
    send_pending_notifications,
    template_message,
)

SUBSCRIBE_PATH = "/cgi-bin/message/subscribe/send"
PAID_TEMPLATE_ID = "tpl-withdrawal-paid"


@pytest.fixture
def notify_settings(wechat_settings: Settings) -> Settings:
    return dataclasses.replace(
        wechat_settings,
        wechat_template_withdrawal_paid=PAID_TEMPLATE_ID,
        wechat_template_withdrawal_rejected="tpl-withdrawal-rejected",
        wechat_template_withdrawal_paid_fields="amount:amount1,status:phrase2",
    )


async def _user_and_program() -> tuple[User, Program]:
    program = await Program.create(name="Spring", currency="CNY")
    count = await User.all().count()
    user = await User.create(appid="wx-standin-appid", openid=f"oNotified{count:04d}")
    return user, program


async def _queue(reference: str = "withdrawal:1:paid", **changes: object) -> Notification:
    user, program = await _user_and_program()
    arguments: dict[str, object] = {
        "user_id": user.id,
        "program_id": program.id,
        "template": TEMPLATE_WITHDRAWAL_PAID,
        "data": {"amount": "12.30", "status": "已到账"},
        "reference": reference,
        **changes,
    }
    await enqueue_notification(**arguments)  # type: ignore[arg-type]
    return await Notification.get(reference=reference)


async def test_one_event_queues_one_message_however_often_it_is_reported(db: str) -> None:
    first = await _queue()
    await enqueue_notification(
        user_id=first.user_id,
        program_id=first.program_id,
        template=TEMPLATE_WITHDRAWAL_PAID,
        data={"amount": "12.30"},
        reference="withdrawal:1:paid",
    )

    assert await Notification.all().count() == 1
    assert (first.status, first.attempts) == ("pending", 0)


async def test_a_message_queued_in_a_rolled_back_transaction_is_never_sent(db: str) -> None:
    user, program = await _user_and_program()

    with pytest.raises(RuntimeError):
        async with in_transaction() as conn:
            await enqueue_notification(
                user_id=user.id,
                program_id=program.id,
                template=TEMPLATE_WITHDRAWAL_REJECTED,
                data={"reason": "资料不全"},
                reference="withdrawal:2:rejected",
                conn=conn,
            )
            raise RuntimeError("the withdrawal change failed")

    assert await Notification.all().count() == 0


async def test_a_racing_duplicate_never_fails_the_callers_transaction(db: str) -> None:
    queued = await _queue()

    # What the loser of a race sees: its existence check passed, then the insert collides.
    async with in_transaction() as conn:
        await notifications._insert(
            queued.user_id,
            queued.program_id,
            TEMPLATE_WITHDRAWAL_PAID,
            {"amount": "12.30"},
            queued.reference,
            conn,
        )
        await Program.create(name="written after", currency="CNY", using_db=conn)

    assert await Notification.all().count() == 1
    assert await Program.filter(name="written after").exists()


async def test_an_unknown_kind_of_message_is_refused(db: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        await _queue(template="birthday")
    assert refused.value.code == "unknown_notification_template"


async def test_due_messages_reach_the_user_through_wechat_and_are_marked_sent(
    db: str, notify_settings: Settings, wechat_gateway: WeChatGateway, standin: WeChatStandIn
) -> None:
    queued = await _queue()
    user = await User.get(id=queued.user_id)

    summary = await send_pending_notifications(settings=notify_settings, gateway=wechat_gateway)

    assert summary["sent"] == 1
    [message] = standin.sent_messages
    assert (message.touser, message.template_id) == (user.openid, PAID_TEMPLATE_ID)
    assert message.data == {"amount1": {"value": "12.30"}, "phrase2": {"value": "已到账"}}
    sent = await Notification.get(id=queued.id)
    assert (sent.status, sent.attempts, sent.sent_at is not None) == ("sent", 1, True)
    again = await send_pending_notifications(settings=notify_settings, gateway=wechat_gateway)
    assert again["sent"] == 0 and len(standin.sent_messages) == 1


async def test_a_wechat_outage_is_logged_and_retried_later(
    db: str,
    notify_settings: Settings,
    wechat_gateway: WeChatGateway,
    standin: WeChatStandIn,
    caplog: pytest.LogCaptureFixture,
) -> None:
    queued = await _queue()
    standin.inject_fault("server_error", path=SUBSCRIBE_PATH)

    with caplog.at_level(logging.WARNING, logger="fenxiao.notifications"):
        summary = await send_pending_notifications(settings=notify_settings, gateway=wechat_gateway)

    assert summary["retrying"] == 1
    waiting = await Notification.get(id=queued.id)
    assert waiting.status == "pending" and "wechat_unavailable" in (waiting.last_error or "")
    assert any("retrying" in record.getMessage() for record in caplog.records)
    # Not due yet: nothing is sent until the backoff has passed.
    assert (await send_pending_notifications(settings=notify_settings, gateway=wechat_gateway))[
        "sent"
    ] == 0
    clock.advance(timedelta(minutes=2))
    assert (await send_pending_notifications(settings=notify_settings, gateway=wechat_gateway))[
        "sent"
    ] == 1
    assert len(standin.sent_messages) == 1


async def test_a_user_who_declined_messages_is_given_up_at_once(
    db: str, notify_settings: Settings, wechat_gateway: WeChatGateway, standin: WeChatStandIn
) -> None:
    queued = await _queue()
    standin.refuse_messages_for((await User.get(id=queued.user_id)).openid)

    summary = await send_pending_notifications(settings=notify_settings, gateway=wechat_gateway)

    assert summary["failed"] == 1
    given_up = await Notification.get(id=queued.id)
    assert given_up.status == "failed"
    assert "wechat_message_refused" in (given_up.last_error or "")


async def test_a_message_failing_every_attempt_is_given_up_after_the_last(
    db: str, notify_settings: Settings, wechat_gateway: WeChatGateway, standin: WeChatStandIn
) -> None:
    queued = await _queue()
    await Notification.filter(id=queued.id).update(attempts=MAX_ATTEMPTS - 1)
    standin.inject_fault("server_error", path=SUBSCRIBE_PATH)

    summary = await send_pending_notifications(settings=notify_settings, gateway=wechat_gateway)

    assert summary["failed"] == 1
    assert (await Notification.get(id=queued.id)).status == "failed"


async def test_a_kind_without_a_configured_template_is_not_sent(
    db: str, wechat_settings: Settings, wechat_gateway: WeChatGateway, standin: WeChatStandIn
) -> None:
    queued = await _queue()

    summary = await send_pending_notifications(settings=wechat_settings, gateway=wechat_gateway)

    assert summary["failed"] == 1
    assert standin.sent_messages == []
    assert "no template id" in ((await Notification.get(id=queued.id)).last_error or "")


class _BrokenGateway:
    async def send_subscribe_message(self, **_: object) -> None:
        raise RuntimeError("a bug in the sender")


async def test_a_broken_sender_never_raises_and_leaves_the_message_for_later(
    db: str, notify_settings: Settings
) -> None:
    queued = await _queue()

    summary = await send_pending_notifications(
        settings=notify_settings,
        gateway=_BrokenGateway(),  # type: ignore[arg-type]
    )

    assert summary["retrying"] == 1
    assert (await Notification.get(id=queued.id)).status == "pending"


async def test_the_send_notifications_job_sends_the_queue(
    db: str, notify_settings: Settings, standin: WeChatStandIn
) -> None:
    await _queue()

    result = await run_recorded("send_notifications", runner="inprocess", settings=notify_settings)

    assert result["sent"] == 1
    assert len(standin.sent_messages) == 1
    assert (await JobRun.get(name="send_notifications")).status == "succeeded"


def test_data_keys_map_onto_the_templates_keywords_and_unmapped_ones_are_left_out() -> None:
    data = {"amount": "12.30", "reason": "x" * 30, "extra": "y"}

    assert template_message(data, "amount:amount1, reason:thing2") == {
        "amount1": {"value": "12.30"},
        "thing2": {"value": "x" * 20},
    }
    assert template_message({"amount": "1"}, None) == {"amount": {"value": "1"}}
    with pytest.raises(ValueError):
        template_message(data, "amount")
