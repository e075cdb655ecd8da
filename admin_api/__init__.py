"""Admin API (staff, finance, admin and server-to-server), mounted under /admin/v1."""

from sanic import Blueprint

URL_PREFIX = "/admin/v1"


def admin_blueprints() -> Blueprint:
    from admin_api import audit, auth, hierarchy, jobs, programs, promoters, share

    return Blueprint.group(
        auth.bp,
        jobs.bp,
        share.bp,
        promoters.bp,
        programs.bp,
        audit.bp,
        hierarchy.bp,
        url_prefix=URL_PREFIX,
        name_prefix="admin",
    )
