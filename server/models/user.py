from tortoise import fields
from tortoise.models import Model

from server.models.fields import UtcDatetimeField


class User(Model):
    """A WeChat identity: a customer, and possibly a promoter in several programs."""

    id = fields.BigIntField(primary_key=True)
    appid = fields.CharField(max_length=64)
    openid = fields.CharField(max_length=128)
    unionid = fields.CharField(max_length=128, null=True, db_index=True)
    nickname = fields.CharField(max_length=64, null=True)
    avatar_url = fields.CharField(max_length=512, null=True)
    created_at = UtcDatetimeField(auto_now_add=True)
    last_login_at = UtcDatetimeField(null=True)

    class Meta:
        table = "users"
        unique_together = (("appid", "openid"),)
