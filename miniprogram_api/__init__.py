"""Mini-program API (promoters and customers), mounted under /mp/v1."""

from sanic import Blueprint

URL_PREFIX = "/mp/v1"


def miniprogram_blueprints() -> Blueprint:
    from miniprogram_api import (
        auth,
        commissions,
        dashboard,
        disputes,
        programs,
        promoters,
        promotion,
        share,
        statements,
        team,
        tiers,
        visits,
        wallet,
        withdrawals,
    )

    return Blueprint.group(
        auth.bp,
        share.bp,
        promoters.bp,
        programs.bp,
        team.bp,
        visits.bp,
        commissions.bp,
        wallet.bp,
        statements.bp,
        disputes.bp,
        withdrawals.bp,
        tiers.bp,
        dashboard.bp,
        promotion.bp,
        url_prefix=URL_PREFIX,
        name_prefix="mp",
    )
