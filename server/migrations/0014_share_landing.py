"""Share links open a landing page: a link's `destination` and the cache of WeChat URL
Links per visitor. Cached plain QR PNGs are dropped so they are drawn again with `?via=qr`."""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops

from server.models.fields import UtcDatetimeField


async def forget_plain_qr_pngs(apps, schema_editor) -> None:
    # A cache: the next request draws each PNG again, now encoding the QR marker.
    await schema_editor.client.execute_query("DELETE FROM qr_images WHERE kind = 'png'")


class Migration(migrations.Migration):
    dependencies = [('models', '0013_guarded_codes')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ShareUrlLink',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('share_link', fields.ForeignKeyField('models.ShareLink', source_field='share_link_id', db_constraint=True, to_field='id', related_name='url_links', on_delete=OnDelete.CASCADE)),
                ('visitor_hash', fields.CharField(max_length=64)),
                ('url', fields.CharField(max_length=255)),
                ('opens', fields.CharField(max_length=600)),
                ('expires_at', UtcDatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('created_at', UtcDatetimeField(auto_now=False, auto_now_add=True)),
                ('refreshed_at', UtcDatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'share_url_links', 'app': 'models', 'unique_together': (('share_link', 'visitor_hash'),), 'pk_attr': 'id', 'table_description': 'A WeChat URL Link opening a share link in the mini-program for one visitor.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='ShareLink',
            name='destination',
            field=fields.CharField(null=True, max_length=256),
        ),
        ops.RunPython(forget_plain_qr_pngs, reverse_code=ops.RunPython.noop),
    ]
