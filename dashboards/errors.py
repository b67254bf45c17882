"""Stable error codes of the dashboards domain."""

from __future__ import annotations

from core.errors import ErrorCode


class DashboardsCode(ErrorCode):
    """Error codes of dashboards: the value is what clients switch on."""

    DASHBOARD_RANGE = "DASHBOARD_RANGE", "结束日期不能早于开始日期"
    DASHBOARD_WINDOW = "DASHBOARD_WINDOW", "复诊窗口需为1到730天"
