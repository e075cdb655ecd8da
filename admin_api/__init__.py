"""Admin API (staff, finance, admin and server-to-server), mounted under /admin/v1."""

from sanic import Blueprint

URL_PREFIX = "/admin/v1"


def admin_blueprints() -> Blueprint:
    from admin_api import (
        adjustments,
        anomalies,
        api_keys,
        audit,
        auth,
        bindings,
        commission_review,
        commission_rules,
        commissions,
        disputes,
        exports,
        hierarchy,
        internal_programs,
        jobs,
        ledger,
        order_events,
        orders,
        payouts,
        programs,
        promoter_holds,
        promoters,
        reports,
        s2s_clicks,
        s2s_ping,
        share,
        statements,
        withdrawals,
    )

    return Blueprint.group(
        auth.bp,
        jobs.bp,
        share.bp,
        promoters.bp,
        promoter_holds.bp,
        programs.bp,
        audit.bp,
        hierarchy.bp,
        api_keys.bp,
        s2s_ping.bp,
        s2s_clicks.bp,
        bindings.bp,
        order_events.bp,
        orders.bp,
        ledger.bp,
        commission_review.bp,
        commission_rules.bp,
        commissions.bp,
        adjustments.bp,
        statements.bp,
        exports.bp,
        disputes.bp,
        withdrawals.bp,
        payouts.bp,
        anomalies.bp,
        reports.bp,
        internal_programs.bp,
        url_prefix=URL_PREFIX,
        name_prefix="admin",
    )
