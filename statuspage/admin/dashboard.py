"""Admin views: the dashboard for a period (response times, volume, SLA compliance) and its
CSV export. The numbers come from `statuspage.incidents.reports`; this module only reads the
dates, lays the numbers out as bars for the inline SVG charts and renders.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from flask import Response, abort, render_template, request
from flask_babel import gettext

from statuspage.admin import bp
from statuspage.admin.checklist import setup_checklist
from statuspage.core.db import utcnow
from statuspage.core.errors import DomainError
from statuspage.extensions import db
from statuspage.i18n import refusal_text
from statuspage.incidents import reports
from statuspage.templating import human_duration

DEFAULT_DAYS = 30
QUICK_PERIODS = (7, 30, 90, 365)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


# --- reading the period -----------------------------------------------------------------


def _date_arg(name: str) -> date | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        if not _DATE.fullmatch(raw):
            raise ValueError
        return date.fromisoformat(raw)
    except ValueError:
        abort(
            400, description=f"The {name} date must be a real date written YYYY-MM-DD, not {raw!r}."
        )


def _period() -> reports.Period:
    start, end = _date_arg("start"), _date_arg("end")
    if start is None and end is None:
        return reports.last_days(utcnow().date(), DEFAULT_DAYS)
    if end is None:
        end = utcnow().date()
    if start is None:
        start = reports.last_days(end, DEFAULT_DAYS).first_day
    try:
        return reports.period_of_days(start, end)
    except DomainError as error:
        abort(400, description=refusal_text(error))


# --- charts -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    label: str
    text: str  # the number, written out next to the bar
    fraction: float  # length as a share of the chart's scale, 0 to 1


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    bars: list[Bar]

    @property
    def summary(self) -> str:
        return "; ".join(f"{bar.label}: {bar.text}" for bar in self.bars)


def _chart(
    chart_id: str,
    title: str,
    items: Sequence[tuple[str, float | None, str]],
    scale: float | None = None,
) -> Chart:
    """Bars from (label, value, text); the longest bar is `scale` (default: the largest)."""
    top = scale or max((value or 0 for _, value, _ in items), default=0) or 1
    bars = [Bar(label, text, min(1.0, (value or 0) / top)) for label, value, text in items]
    return Chart(chart_id, title, bars)


def percent_text(value: float | None) -> str:
    """Rounded down to one decimal, so that one breach never reads 100%."""
    if value is None:
        return gettext("nothing measured")
    return f"{math.floor(value * 10) / 10:g}%"


def _duration_text(minutes: float | None) -> str:
    return human_duration(minutes) if minutes is not None else gettext("no data")


def _charts(report: reports.PeriodReport) -> list[Chart]:
    groups = [report.overall, *report.by_priority]
    charts = [
        _chart(
            f"chart-{name}",
            gettext("%(title)s, mean by priority", title=title),
            [
                (gettext(g.label), getattr(g, name).mean, _duration_text(getattr(g, name).mean))
                for g in groups
            ],
        )
        for name, title in (
            ("detect", gettext("MTTD (time to detect)")),
            ("acknowledge", gettext("MTTA (time to acknowledge)")),
            ("restore", gettext("MTTR (time to restore)")),
        )
    ]
    charts.append(
        _chart(
            "chart-volume-priority",
            gettext("Incidents by priority"),
            [(gettext(label), count, str(count)) for label, count in report.volume_by_priority],
        )
    )
    charts.append(
        _chart(
            "chart-volume-category",
            gettext("Incidents by category"),
            [
                # Category names are the staff's own; only the bucket without one is ours.
                (gettext(label) if label == reports.UNCATEGORIZED else label, count, str(count))
                for label, count in report.volume_by_category
            ],
        )
    )
    charts.append(
        _chart(
            "chart-sla",
            gettext("SLA compliance: share of incidents that met each target"),
            [
                (
                    gettext(item.label),
                    item.percent,
                    percent_text(item.percent)
                    + (
                        " "
                        + gettext("(%(met)s of %(measured)s)", met=item.met, measured=item.measured)
                        if item.measured
                        else ""
                    ),
                )
                for item in report.compliance
            ],
            scale=100,
        )
    )
    return charts


# --- views ------------------------------------------------------------------------------


@bp.get("/dashboard")
def dashboard() -> str:
    period = _period()
    report = reports.period_report(db.session, period, now=utcnow())
    today = utcnow().date()
    return render_template(
        "admin/dashboard.html",
        checklist=setup_checklist(),
        period=period,
        report=report,
        charts={chart.id: chart for chart in _charts(report)},
        quick_periods=[(days, reports.last_days(today, days)) for days in QUICK_PERIODS],
        max_days=reports.MAX_PERIOD_DAYS,
        percent_text=percent_text,
    )


@bp.get("/dashboard.csv")
def dashboard_csv() -> Response:
    period = _period()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerows(reports.export_rows(db.session, period))
    filename = f"incidents-{period.first_day.isoformat()}-to-{period.last_day.isoformat()}.csv"
    response = Response(buffer.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
