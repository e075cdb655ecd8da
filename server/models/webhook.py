from tortoise import fields
from tortoise.models import Model

from server.models.fields import UtcDatetimeField


class WebhookEndpoint(Model):
    """A receiver of the outgoing webhooks of a program, and the event types it wants.

    Secrets are Fernet-encrypted (S2S_KEY_ENCRYPTION_KEY): they must be recoverable to sign.
    After a rotation the previous secret signs too, until `previous_secret_expires_at`.
    """

    id = fields.BigIntField(primary_key=True)
    program = fields.ForeignKeyField("models.Program", related_name="webhook_endpoints")
    url = fields.CharField(max_length=1024)
    description = fields.CharField(max_length=255, default="")
    event_types = fields.JSONField(default=list)
    secret_encrypted = fields.CharField(max_length=512)
    previous_secret_encrypted = fields.CharField(max_length=512, null=True)
    previous_secret_expires_at = UtcDatetimeField(null=True)
    status = fields.CharField(max_length=16, default="enabled")  # enabled | disabled
    disabled_reason = fields.CharField(max_length=255, null=True)
    # Attempts failed in a row across deliveries; a success sets it back to 0.
    consecutive_failures = fields.IntField(default=0)
    created_by = fields.BigIntField(null=True)
    created_at = UtcDatetimeField(auto_now_add=True)
    updated_at = UtcDatetimeField(auto_now=True)
    disabled_at = UtcDatetimeField(null=True)
    deleted_at = UtcDatetimeField(null=True)

    class Meta:
        table = "webhook_endpoints"
        indexes = (("program_id", "status"),)


class WebhookMessage(Model):
    """One event in the outbox, written in the transaction of the change it reports."""

    id = fields.BigIntField(primary_key=True)
    message_id = fields.CharField(max_length=64, unique=True)  # the `webhook-id` header
    program_id = fields.BigIntField()
    event_type = fields.CharField(max_length=32)
    payload = fields.JSONField()
    created_at = UtcDatetimeField()

    class Meta:
        table = "webhook_messages"
        indexes = (("program_id", "id"),)


class WebhookDelivery(Model):
    """A message on its way to one subscribed endpoint: due, delivered or failed for good."""

    id = fields.BigIntField(primary_key=True)
    message = fields.ForeignKeyField("models.WebhookMessage", related_name="deliveries")
    endpoint = fields.ForeignKeyField("models.WebhookEndpoint", related_name="deliveries")
    program_id = fields.BigIntField()
    event_type = fields.CharField(max_length=32)
    status = fields.CharField(max_length=16, default="pending")  # pending | succeeded | failed
    attempts = fields.IntField(default=0)
    next_attempt_at = UtcDatetimeField()
    last_status_code = fields.SmallIntField(null=True)
    last_error = fields.CharField(max_length=255, null=True)
    delivered_at = UtcDatetimeField(null=True)
    created_at = UtcDatetimeField()
    updated_at = UtcDatetimeField(auto_now=True)

    class Meta:
        table = "webhook_deliveries"
        indexes = (("status", "next_attempt_at"), ("endpoint_id", "id"))


class WebhookAttempt(Model):
    """One HTTP attempt of a delivery: when, its status code (None: no answer) and duration."""

    id = fields.BigIntField(primary_key=True)
    delivery = fields.ForeignKeyField("models.WebhookDelivery", related_name="attempts_made")
    attempted_at = UtcDatetimeField()
    status_code = fields.SmallIntField(null=True)
    duration_ms = fields.IntField()
    error = fields.CharField(max_length=255, null=True)

    class Meta:
        table = "webhook_attempts"
        indexes = (("delivery_id", "id"),)
