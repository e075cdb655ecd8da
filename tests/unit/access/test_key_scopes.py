"""API key scopes: known names only, in one order, and a refusal that names the scope."""

from __future__ import annotations

import pytest

from server.domain.access.scopes import WRITE_SCOPES, parse_scopes, require_scope, stored_scopes
from server.domain.errors import Forbidden, ValidationFailed


def test_scopes_are_kept_in_one_order_whatever_order_they_were_asked_in() -> None:
    assert parse_scopes(["reports:read", "events:write"]) == ("events:write", "reports:read")


@pytest.mark.parametrize("asked", [[], ["orders:delete"], ["events:write", "EVENTS:WRITE"]])
def test_an_unknown_or_missing_scope_is_refused(asked: list[str]) -> None:
    with pytest.raises(ValidationFailed) as refused:
        parse_scopes(asked)
    assert refused.value.code == "invalid_scope"


def test_a_key_stored_before_scopes_has_none_until_the_upgrade_grants_the_write_scopes() -> None:
    assert stored_scopes(None) == ()
    assert stored_scopes(" ".join(WRITE_SCOPES)) == WRITE_SCOPES


def test_a_missing_scope_is_a_403_naming_it() -> None:
    require_scope(("reports:read",), "reports:read")
    with pytest.raises(Forbidden) as refused:
        require_scope(("reports:read",), "commissions:read")
    assert (refused.value.code, refused.value.fields) == (
        "s2s_scope_missing",
        {"scope": "commissions:read"},
    )
