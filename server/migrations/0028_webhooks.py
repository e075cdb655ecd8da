from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from server.models.fields import UtcDatetimeField
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0027_catalog_and_key_scopes')]

    initial = False

    operations = [
        ops.CreateModel(
            name='WebhookEndpoint',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('program', fields.ForeignKeyField('models.Program', source_field='program_id', db_constraint=True, to_field='id', related_name='webhook_endpoints', on_delete=OnDelete.CASCADE)),
                ('url', fields.CharField(max_length=1024)),
                ('description', fields.CharField(default='', max_length=255)),
                ('event_types', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('secret_encrypted', fields.CharField(max_length=512)),
                ('previous_secret_encrypted', fields.CharField(null=True, max_length=512)),
                ('previous_secret_expires_at', UtcDatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('status', fields.CharField(default='enabled', max_length=16)),
                ('disabled_reason', fields.CharField(null=True, max_length=255)),
                ('consecutive_failures', fields.IntField(default=0)),
                ('created_by', fields.BigIntField(null=True)),
                ('created_at', UtcDatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', UtcDatetimeField(auto_now=True, auto_now_add=False)),
                ('disabled_at', UtcDatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('deleted_at', UtcDatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'webhook_endpoints', 'app': 'models', 'indexes': [Index(fields=['program_id', 'status'])], 'pk_attr': 'id', 'table_description': 'A receiver of the outgoing webhooks of a program, and the event types it wants.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WebhookMessage',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('message_id', fields.CharField(unique=True, max_length=64)),
                ('program_id', fields.BigIntField()),
                ('event_type', fields.CharField(max_length=32)),
                ('payload', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', UtcDatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'webhook_messages', 'app': 'models', 'indexes': [Index(fields=['program_id', 'id'])], 'pk_attr': 'id', 'table_description': 'One event in the outbox, written in the transaction of the change it reports.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WebhookDelivery',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('message', fields.ForeignKeyField('models.WebhookMessage', source_field='message_id', db_constraint=True, to_field='id', related_name='deliveries', on_delete=OnDelete.CASCADE)),
                ('endpoint', fields.ForeignKeyField('models.WebhookEndpoint', source_field='endpoint_id', db_constraint=True, to_field='id', related_name='deliveries', on_delete=OnDelete.CASCADE)),
                ('program_id', fields.BigIntField()),
                ('event_type', fields.CharField(max_length=32)),
                ('status', fields.CharField(default='pending', max_length=16)),
                ('attempts', fields.IntField(default=0)),
                ('next_attempt_at', UtcDatetimeField(auto_now=False, auto_now_add=False)),
                ('last_status_code', fields.SmallIntField(null=True)),
                ('last_error', fields.CharField(null=True, max_length=255)),
                ('delivered_at', UtcDatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', UtcDatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', UtcDatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'webhook_deliveries', 'app': 'models', 'indexes': [Index(fields=['status', 'next_attempt_at']), Index(fields=['endpoint_id', 'id'])], 'pk_attr': 'id', 'table_description': 'A message on its way to one subscribed endpoint: due, delivered or failed for good.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WebhookAttempt',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('delivery', fields.ForeignKeyField('models.WebhookDelivery', source_field='delivery_id', db_constraint=True, to_field='id', related_name='attempts_made', on_delete=OnDelete.CASCADE)),
                ('attempted_at', UtcDatetimeField(auto_now=False, auto_now_add=False)),
                ('status_code', fields.SmallIntField(null=True)),
                ('duration_ms', fields.IntField()),
                ('error', fields.CharField(null=True, max_length=255)),
            ],
            options={'table': 'webhook_attempts', 'app': 'models', 'indexes': [Index(fields=['delivery_id', 'id'])], 'pk_attr': 'id', 'table_description': 'One HTTP attempt of a delivery: when, its status code (None: no answer) and duration.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='PayoutBatch',
            name='paid_at',
            field=UtcDatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
