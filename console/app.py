"""The console's routes, mounted at /console by api/app.py."""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from console.pages import (
    admin,
    auth,
    campaigns,
    care,
    content,
    dashboards,
    frontdesk,
    journeys,
    moderation,
    oncall,
    segments,
    surveys,
    trace,
)
from console.web import HERE


def _routes() -> list[BaseRoute]:
    return [
        Route("/", auth.home, methods=["GET"]),
        Route("/login", auth.login_form, methods=["GET"]),
        Route("/login", auth.login, methods=["POST"]),
        Route("/logout", auth.logout, methods=["POST"]),
        *moderation.ROUTES,
        *frontdesk.ROUTES,
        *care.ROUTES,
        *surveys.ROUTES,
        *content.ROUTES,
        *segments.ROUTES,
        *campaigns.ROUTES,
        *journeys.ROUTES,
        *trace.ROUTES,
        *dashboards.ROUTES,
        *admin.ROUTES,
        *oncall.ROUTES,
        # The console's own stylesheet and script; htmx and ECharts come from /static/vendor (cli/assets.py).
        Mount("/static", app=StaticFiles(directory=HERE / "static", check_dir=False), name="console-static"),
    ]


ROUTES: list[BaseRoute] = [Route("/console", auth.home, methods=["GET"]), Mount("/console", routes=_routes())]
