"""Formatting for pages: durations, money, token counts, JSON, times in the viewer's time zone."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django import template
from django.utils import dateformat, timezone
from django.utils.html import format_html

from runs.journal_view import pretty_json

register = template.Library()


@register.filter
def seconds(value) -> str:
    """A duration in seconds, readable at a glance: 850 ms, 12.3 s, 4 min 5 s, 2 h 3 min, 3 d 4 h."""
    if value is None or value == "":
        return "—"
    value = float(value)
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 60:
        return f"{value:.1f} s"
    minutes, secs = divmod(int(value), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


@register.filter
def milliseconds(value) -> str:
    return "—" if value is None else seconds(float(value) / 1000)


def _bound(ms: int) -> str:
    """A bucket bound, short: 250 ms, 2.5 s, 5 min, 6 h, 1 d."""
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("min", 60_000), ("s", 1000)):
        if ms >= size:
            return f"{ms / size:g} {unit}"
    return f"{ms} ms"


@register.filter
def quantile(value) -> str:
    """A quantile read from a latency histogram (runs.dashboard.Quantile): "< 250 ms", "≥ 1 d"."""
    if value is None:
        return "—"
    return f"≥ {_bound(value.low_ms)}" if value.high_ms is None else f"< {_bound(value.high_ms)}"


@register.filter
def usd(value) -> str:
    """Dollars with the precision small amounts need: $12.40, $0.0123, $0.000042, $0."""
    if value is None or value == "":
        return "—"
    value = Decimal(value)
    if value == 0:
        return "$0"
    if abs(value) >= 1:
        return f"${value:,.2f}"
    if abs(value) >= Decimal("0.01"):
        return f"${value:.4f}"
    return f"${value:.6f}"


@register.filter
def count(value) -> str:
    """An integer with thousands separators."""
    if value is None or value == "":
        return "—"
    return f"{int(value):,}"


@register.filter
def pretty(value) -> str:
    return pretty_json(value)


@register.filter
def short_id(value) -> str:
    return str(value)[:8]


KIND_ICONS = {
    "llm": "✦",
    "tool": "⚙",
    "approval": "⚑",
    "memory": "◎",
    "sleep": "◷",
    "child": "↳",
    "code": "{}",
}


@register.filter
def kind_icon(kind: str) -> str:
    return KIND_ICONS.get(kind, "•")


# Styles of `local_time`: how the server writes the time (Django's format, in the server's time
# zone), and what static/js/local_times.js writes in the viewer's own.
TIME_STYLES = {
    "datetime": "M j, H:i:s",
    "time": "H:i:s",
    "time_ms": "H:i:s",  # and the milliseconds
    "minute": "Y-m-d H:i T",
}


@register.filter
def local_time(value, style: str = "datetime"):
    """`<time>` of an aware datetime, written in the server's time zone; the page's script rewrites
    it in the viewer's and keeps UTC in the title. An empty value is "—"."""
    if not value:
        return "—"
    utc = value.astimezone(dt.timezone.utc)
    iso = utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    local = timezone.localtime(value)
    text = dateformat.format(local, TIME_STYLES.get(style, TIME_STYLES["datetime"]))
    if style == "time_ms":
        text += f".{local.microsecond // 1000:03d}"
    return format_html('<time datetime="{}" data-style="{}" title="{} UTC">{}</time>',
                       iso, style, utc.strftime("%Y-%m-%d %H:%M:%S"), text)
