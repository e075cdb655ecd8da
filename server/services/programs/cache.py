"""A program's commission configuration (row, enabled rules, enabled period caps) kept per
worker and checked against the database on use; callers must treat the rows as read-only.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from server.config import commission_level_cap
from server.domain.commissions.inputs import ProgramTerms
from server.domain.commissions.rules import CommissionRule, PeriodCap
from server.models import Program
from server.services.commissions.preview import program_terms
from server.services.ledger.postings import sql_rows
from server.services.programs.commission_rules import load_rules
from server.services.programs.period_caps import load_period_caps
from server.services.tiers.config import incentive_terms

# Every change to a program, its rules, caps, tiers or boosts is a model save (never a bulk
# update, never a delete), which moves an updated_at or a count: an unchanged stamp means
# unchanged rows.
_STAMP = (
    "SELECT p.updated_at AS program_updated, p.rule_set_version AS rule_set_version,"
    " (SELECT COUNT(*) FROM commission_rules AS r WHERE r.program_id = p.id) AS rule_count,"
    " (SELECT MAX(r.updated_at) FROM commission_rules AS r WHERE r.program_id = p.id)"
    " AS rule_updated,"
    " (SELECT COUNT(*) FROM commission_period_caps AS c WHERE c.program_id = p.id)"
    " AS cap_count,"
    " (SELECT MAX(c.updated_at) FROM commission_period_caps AS c WHERE c.program_id = p.id)"
    " AS cap_updated,"
    " (SELECT COUNT(*) FROM promoter_tiers AS t WHERE t.program_id = p.id) AS tier_count,"
    " (SELECT MAX(t.updated_at) FROM promoter_tiers AS t WHERE t.program_id = p.id)"
    " AS tier_updated,"
    " (SELECT COUNT(*) FROM commission_boosts AS b WHERE b.program_id = p.id) AS boost_count,"
    " (SELECT MAX(b.updated_at) FROM commission_boosts AS b WHERE b.program_id = p.id)"
    " AS boost_updated"
    " FROM programs AS p WHERE p.id = ?"
)
MAX_CACHED_PROGRAMS = 256


@dataclass(frozen=True)
class ProgramConfig:
    """A program's row and what the commission engine reads of it (read-only, shared)."""

    program: Program
    terms: ProgramTerms
    # Enabled rules, oldest first, whatever their validity window.
    rules: tuple[CommissionRule, ...]
    caps: tuple[PeriodCap, ...]

    def rules_at(self, at: datetime) -> list[CommissionRule]:
        """The enabled rules in force at `at`, oldest first (as `load_rules(at=…)`)."""
        moment = at.astimezone(UTC)
        return [
            rule
            for rule in self.rules
            if (rule.valid_from is None or rule.valid_from <= moment)
            and (rule.valid_to is None or rule.valid_to > moment)
        ]


# (connection name, program id) → (stamp, config).
_cache: dict[tuple[str, int], tuple[tuple[Any, ...], ProgramConfig]] = {}


async def _load(program_id: int, conn: BaseDBAsyncClient) -> ProgramConfig | None:
    program = await Program.get_or_none(id=program_id, using_db=conn)
    if program is None:
        return None
    benefits, boosts = await incentive_terms(program_id=program_id, conn=conn)
    return ProgramConfig(
        program=program,
        terms=replace(program_terms(program), tier_benefits=benefits, boosts=boosts),
        rules=tuple(await load_rules(program_id=program_id, conn=conn)),
        caps=tuple(await load_period_caps(program_id=program_id, conn=conn)),
    )


async def program_config(*, program_id: int, conn: BaseDBAsyncClient) -> ProgramConfig | None:
    """The program's configuration as `conn` sees it now; None when there is no such program."""
    rows = await sql_rows(conn, _STAMP, [program_id])
    if not rows:
        return None
    row = rows[0]
    names = (
        "program_updated",
        "rule_set_version",
        "rule_count",
        "rule_updated",
        "cap_count",
        "cap_updated",
        "tier_count",
        "tier_updated",
        "boost_count",
        "boost_updated",
    )
    # The terms carry the deployment's level cap too (fixed per process; tests change it).
    stamp = (*(str(row[name]) for name in names), commission_level_cap())
    key = (conn.connection_name, program_id)
    cached = _cache.get(key)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    config = await _load(program_id, conn)
    if config is None:
        return None
    if len(_cache) >= MAX_CACHED_PROGRAMS:
        _cache.clear()
    _cache[key] = (stamp, config)
    return config
