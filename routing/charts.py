"""Small SVG charts for the admin, rendered on the server: no JavaScript, no chart library,
nothing fetched from elsewhere. Every text is escaped; the result is safe to put in a page."""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

COLOURS = ("#417690", "#c0392b", "#e0a800", "#6c757d")
FONT = 'font-family="sans-serif" font-size="11"'


def _number(value: float) -> str:
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:,.1f}" if abs(value) >= 10 else f"{value:.3g}"


def _svg(width: int, height: int, title: str, body: list[str]) -> SafeString:
    label = escape(title)
    return mark_safe(
        f'<svg class="chart" role="img" aria-label="{label}" xmlns="http://www.w3.org/2000/svg" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}"><title>{label}</title>'
        + "".join(body)
        + "</svg>"
    )


def bar_chart(rows: Sequence[tuple[str, float]], *, title: str, unit: str = "", width: int = 520) -> SafeString:
    """Horizontal bars, one per (label, value), in the given order."""
    bar, gap, label_width, value_width = 18, 6, 170, 70
    height = max(len(rows), 1) * (bar + gap) + gap
    if not rows:
        return _svg(width, 30, title, [f'<text x="4" y="19" {FONT} fill="#666">no data</text>'])
    top = max(value for _, value in rows) or 1.0
    span = width - label_width - value_width
    body = []
    for index, (label, value) in enumerate(rows):
        y = gap + index * (bar + gap)
        length = max(value / top * span, 1.0 if value else 0.0)
        text = escape(label if len(label) <= 28 else label[:27] + "…")
        body.append(
            f'<text x="{label_width - 6}" y="{y + bar - 5}" text-anchor="end" {FONT}>{text}</text>'
            f'<rect x="{label_width}" y="{y}" width="{length:.1f}" height="{bar}" fill="{COLOURS[0]}">'
            f"<title>{escape(label)}: {_number(value)}{escape(unit)}</title></rect>"
            f'<text x="{label_width + length + 4:.1f}" y="{y + bar - 5}" {FONT}>{_number(value)}{escape(unit)}</text>'
        )
    return _svg(width, height, title, body)


def column_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    title: str,
    unit: str = "",
    width: int = 520,
    height: int = 180,
    stacked: bool = False,
) -> SafeString:
    """Vertical columns per label; several series side by side, or stacked."""
    if not labels or not any(any(values) for _, values in series):
        return _svg(width, 30, title, [f'<text x="4" y="19" {FONT} fill="#666">no data</text>'])
    left, bottom, top_pad, legend = 48, 34, 8, 16
    plot_w, plot_h = width - left - 8, height - bottom - top_pad - legend
    if stacked:
        top = max(sum(values[i] for _, values in series) for i in range(len(labels)))
    else:
        top = max(max(values) for _, values in series)
    top = top or 1.0
    slot = plot_w / len(labels)
    column = slot * 0.8 / (1 if stacked else len(series))
    base = top_pad + legend + plot_h
    body = [
        f'<line x1="{left}" y1="{base}" x2="{width - 8}" y2="{base}" stroke="#999"/>',
        f'<text x="{left - 4}" y="{top_pad + legend + 8}" text-anchor="end" {FONT}>{_number(top)}{escape(unit)}</text>',
        f'<text x="{left - 4}" y="{base}" text-anchor="end" {FONT}>0</text>',
    ]
    for number, (name, _) in enumerate(series):
        x = left + number * 110
        body.append(
            f'<rect x="{x}" y="2" width="10" height="10" fill="{COLOURS[number % len(COLOURS)]}"/>'
            f'<text x="{x + 14}" y="11" {FONT}>{escape(name)}</text>'
        )
    every = max(1, len(labels) // 12)
    for index, label in enumerate(labels):
        x0 = left + index * slot + slot * 0.1
        stack = 0.0
        for number, (name, values) in enumerate(series):
            value = values[index]
            h = value / top * plot_h
            x = x0 if stacked else x0 + number * column
            y = base - h - (stack / top * plot_h if stacked else 0.0)
            if stacked:
                stack += value
            body.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(column - 1, 1):.1f}" height="{h:.1f}" '
                f'fill="{COLOURS[number % len(COLOURS)]}"><title>{escape(label)} {escape(name)}: '
                f"{_number(value)}{escape(unit)}</title></rect>"
            )
        if index % every == 0:
            body.append(
                f'<text x="{x0 + slot * 0.4:.1f}" y="{base + 14}" text-anchor="middle" {FONT}>{escape(label)}</text>'
            )
    return _svg(width, height, title, body)
