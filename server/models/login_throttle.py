from tortoise import fields
from tortoise.models import Model

from server.models.fields import UtcDatetimeField


class LoginThrottle(Model):
    """Failed logins of one key (an account or a client address) in the current window.

    Shared by every worker through the database, so a lockout holds whichever worker answers.
    """

    id = fields.BigIntField(primary_key=True)
    key = fields.CharField(max_length=160, unique=True)
    failures = fields.IntField(default=0)
    window_started_at = UtcDatetimeField()
    locked_until = UtcDatetimeField(null=True)
    updated_at = UtcDatetimeField(auto_now=True)

    class Meta:
        table = "login_throttles"
