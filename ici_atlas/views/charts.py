"""Interactive bar charts for the report and the dashboard: one model (:class:`Chart` of
:class:`Bar`), one renderer, plain inline SVG, no library, no network.

Each bar is a focusable ``<g class="bar">`` with a ``<title>`` (the browser's own tooltip:
label, count and the first :data:`~ici_atlas.report.model.HOVER_CAP` members) and
``data-*`` attributes that the small inline script (:data:`SCRIPT`) turns into a panel
listing the trials behind the bar, each linked to its registry page. Clicking a bar pins
the panel. Coordinates are rounded, so the same bars always give the same SVG text.
"""

from __future__ import annotations

import math

import html
from dataclasses import dataclass
from typing import Any, Sequence

#: How many trial ids a hover list shows before "and N more".
HOVER_CAP = 50


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


@dataclass(frozen=True)
class Bar:
    """One bar of an interactive chart: its label, length, annotation and members."""

    label: str
    value: float
    text: str
    colour: str
    members: tuple[str, ...] = ()
    member_kind: str = "trials"  # what the members are: trials (NCT IDs), agents ...
    href: str = ""  # a link the bar is (the dashboard: the same view filtered to this bar)


@dataclass
class Chart:
    """A bar chart drawn from the same rows as its table (and, in the report, as the
    matplotlib figure it stands beside)."""

    bars: list[Bar]
    orientation: str = "h"  # h: one row per bar; v: one column per bar
    axis_label: str = "Number of trials"
    ticks: Sequence[tuple[float, str]] = ()  # fixed axis ticks (position, label)
    vmax: float | None = None

_ROW = 22.0      # height of one horizontal bar row
_BAR_W = 420.0   # length of the longest horizontal bar
_V_HEIGHT = 240.0


def _f(x: float) -> str:
    text = f"{x:.1f}"
    return text[:-2] if text.endswith(".0") else text


def nice_ticks(vmax: float, most: int = 6) -> list[float]:
    """0 and round steps (1, 2, 5 x 10^k) up to ``vmax``, at most ``most`` + 1 ticks."""
    if vmax <= 0:
        return [0.0]
    raw = vmax / most
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    step = max(step, 1.0)
    count = int(vmax // step)
    return [i * step for i in range(count + 1)]


def _members_text(bar: Bar) -> str:
    shown = bar.members[:HOVER_CAP]
    text = ", ".join(shown)
    more = len(bar.members) - len(shown)
    if more > 0:
        text += f" and {more:,} more"
    return text


def _bar_group(bar: Bar, rect: str) -> str:
    shown = bar.members[:HOVER_CAP]
    more = len(bar.members) - len(shown)
    title = f"{bar.label}: {bar.text}"
    if bar.members:
        title += f"\n{bar.member_kind}: {_members_text(bar)}"
    if bar.href:  # a link: keyboard-focusable by itself, no script needed
        title += "\n(select to filter by it)"
        return (f'<a class="bar-link" href="{esc(bar.href)}"><g class="bar" '
                f'data-label="{esc(bar.label)}" data-text="{esc(bar.text)}">'
                f'<title>{esc(title)}</title>{rect}</g></a>')
    return (
        f'<g class="bar" tabindex="0" data-label="{esc(bar.label)}" data-text="{esc(bar.text)}" '
        f'data-kind="{esc(bar.member_kind)}" data-ids="{esc(" ".join(shown))}" '
        f'data-more="{more}"><title>{esc(title)}</title>{rect}</g>'
    )


def _fit(label: str, room: float) -> str:
    """``label`` shortened with an ellipsis to fit ``room`` pixels (the full text stays in
    a ``<title>``: nothing is cut off silently)."""
    most = max(4, int(room / 6.8))
    return label if len(label) <= most else label[: most - 1] + "…"


def _label_width(bars: list[Bar]) -> float:
    longest = max((len(b.label) for b in bars), default=4)
    return min(max(60.0, 6.8 * longest + 14), 340.0)


def render_chart_svg(chart: Chart, chart_id: str, title: str) -> str:
    """The chart as an inline ``<svg>`` element (no XML prolog, no external references)."""
    if chart.orientation == "v":
        return _vertical(chart, chart_id, title)
    return _horizontal(chart, chart_id, title)


def _horizontal(chart: Chart, chart_id: str, title: str) -> str:
    bars = chart.bars
    left = _label_width(bars)
    vmax = chart.vmax or max((b.value for b in bars), default=0) or 1.0
    scale = _BAR_W / vmax
    top = 8.0
    height = top + _ROW * max(len(bars), 1) + 40
    width = left + _BAR_W + 130
    parts = [_svg_open(chart_id, title, width, height)]
    ticks = _ticks(chart, vmax)
    axis_y = top + _ROW * len(bars) + 4
    for pos, label in ticks:
        x = left + pos * scale
        parts.append(f'<line class="grid" x1="{_f(x)}" y1="{_f(top)}" x2="{_f(x)}" '
                     f'y2="{_f(axis_y)}"/>')
        parts.append(f'<text class="tick" x="{_f(x)}" y="{_f(axis_y + 13)}" '
                     f'text-anchor="middle">{esc(label)}</text>')
    for i, bar in enumerate(bars):
        y = top + i * _ROW
        w = max(bar.value * scale, 0.0)
        rect = (f'<rect x="{_f(left)}" y="{_f(y + 3)}" width="{_f(w)}" height="{_f(_ROW - 6)}" '
                f'fill="{esc(bar.colour)}"/>')
        shown = _fit(bar.label, left - 10)
        full = f"<title>{esc(bar.label)}</title>" if shown != bar.label else ""
        parts.append(f'<text class="label" x="{_f(left - 6)}" y="{_f(y + _ROW / 2 + 4)}" '
                     f'text-anchor="end">{full}{esc(shown)}</text>')
        parts.append(_bar_group(bar, rect))
        parts.append(f'<text class="value" x="{_f(left + w + 4)}" y="{_f(y + _ROW / 2 + 4)}">'
                     f'{esc(bar.text)}</text>')
    parts.append(f'<text class="axis" x="{_f(left + _BAR_W / 2)}" y="{_f(axis_y + 30)}" '
                 f'text-anchor="middle">{esc(chart.axis_label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _svg_open(chart_id: str, title: str, width: float, height: float) -> str:
    return (f'<svg class="chart" id="{esc(chart_id)}" role="img" aria-label="{esc(title)}" '
            f'viewBox="0 0 {_f(width)} {_f(height)}" width="{_f(width)}" height="{_f(height)}">')


def _ticks(chart: Chart, vmax: float) -> list[tuple[float, str]]:
    """The chart's own ticks, else round ones up to ``vmax``."""
    return chart.ticks or [(t, f"{t:,.0f}") for t in nice_ticks(vmax)]


def _vertical(chart: Chart, chart_id: str, title: str) -> str:
    bars = chart.bars
    col = min(64.0, max(14.0, 640.0 / max(len(bars), 1)))
    rotate = col < 40 or max((len(b.label) for b in bars), default=0) * 6 > col
    left, top, bottom = 50.0, 22.0, (80.0 if rotate else 44.0)
    width = left + col * max(len(bars), 1) + 20
    height = top + _V_HEIGHT + bottom
    vmax = chart.vmax or max((b.value for b in bars), default=0) or 1.0
    scale = _V_HEIGHT / vmax
    base = top + _V_HEIGHT
    parts = [_svg_open(chart_id, title, width, height)]
    ticks = _ticks(chart, vmax)
    for pos, label in ticks:
        y = base - pos * scale
        parts.append(f'<line class="grid" x1="{_f(left)}" y1="{_f(y)}" x2="{_f(width - 10)}" '
                     f'y2="{_f(y)}"/>')
        parts.append(f'<text class="tick" x="{_f(left - 4)}" y="{_f(y + 4)}" '
                     f'text-anchor="end">{esc(label)}</text>')
    for i, bar in enumerate(bars):
        x = left + i * col
        h = max(bar.value * scale, 0.0)
        rect = (f'<rect x="{_f(x + col * 0.15)}" y="{_f(base - h)}" width="{_f(col * 0.7)}" '
                f'height="{_f(h)}" fill="{esc(bar.colour)}"/>')
        parts.append(_bar_group(bar, rect))
        cx = x + col / 2
        if col >= 30:
            parts.append(f'<text class="value" x="{_f(cx)}" y="{_f(base - h - 4)}" '
                         f'text-anchor="middle">{esc(bar.text)}</text>')
        if rotate:
            parts.append(f'<text class="label" x="{_f(cx)}" y="{_f(base + 12)}" '
                         f'text-anchor="end" transform="rotate(-45 {_f(cx)} {_f(base + 12)})">'
                         f'{esc(bar.label)}</text>')
        else:
            parts.append(f'<text class="label" x="{_f(cx)}" y="{_f(base + 14)}" '
                         f'text-anchor="middle">{esc(bar.label)}</text>')
    parts.append(f'<text class="axis" x="12" y="{_f(top + _V_HEIGHT / 2)}" text-anchor="middle" '
                 f'transform="rotate(-90 12 {_f(top + _V_HEIGHT / 2)})">{esc(chart.axis_label)}'
                 "</text>")
    parts.append("</svg>")
    return "".join(parts)


STYLE = """
svg.chart { max-width: 100%; height: auto; font: 11px system-ui, sans-serif; }
svg.chart .grid { stroke: #e3e3e3; stroke-width: 1; }
svg.chart .tick, svg.chart .axis { fill: #555; }
svg.chart .value { fill: #333; }
svg.chart g.bar { cursor: pointer; outline: none; }
svg.chart g.bar:hover rect, svg.chart g.bar:focus rect, svg.chart g.bar.pinned rect {
  stroke: #000; stroke-width: 1.5; }
#hover-panel { position: fixed; display: none; max-width: 420px; max-height: 60vh;
  overflow: auto; background: #fff; border: 1px solid #888; border-radius: 4px;
  box-shadow: 0 2px 8px rgba(0,0,0,.2); padding: 8px 10px; font-size: 12px; z-index: 10; }
#hover-panel b { display: block; margin-bottom: 4px; }
#hover-panel a { margin-right: 6px; white-space: nowrap; }
"""

#: Shows the members of the bar under the pointer (or focused; a click pins the panel).
SCRIPT = """
(function () {
  var panel = document.getElementById('hover-panel');
  var pinned = null;
  var REG = 'https:' + '//clinicaltrials.gov/study/';
  function fill(g) {
    var ids = (g.getAttribute('data-ids') || '').split(' ').filter(Boolean);
    var kind = g.getAttribute('data-kind');
    panel.textContent = '';
    var head = document.createElement('b');
    head.textContent = g.getAttribute('data-label') + ': ' + g.getAttribute('data-text');
    panel.appendChild(head);
    ids.forEach(function (id) {
      var el;
      if (/^NCT\\d{8}$/.test(id)) { el = document.createElement('a'); el.href = REG + id;
        el.target = '_blank'; el.rel = 'noopener'; }
      else { el = document.createElement('span'); el.style.marginRight = '6px'; }
      el.textContent = id; panel.appendChild(el); panel.appendChild(document.createTextNode(' '));
    });
    var more = parseInt(g.getAttribute('data-more') || '0', 10);
    if (more > 0) { var m = document.createElement('div');
      m.textContent = 'and ' + more.toLocaleString('en') + ' more ' + kind +
        ' (full list in the tables folder)'; panel.appendChild(m); }
  }
  function place(ev) {
    var x = (ev.clientX || 20) + 14, y = (ev.clientY || 20) + 14;
    panel.style.left = Math.min(x, window.innerWidth - 440) + 'px';
    panel.style.top = Math.min(y, window.innerHeight - 80) + 'px';
  }
  document.querySelectorAll('svg.chart g.bar').forEach(function (g) {
    g.addEventListener('mouseenter', function (ev) { if (pinned) return; fill(g); place(ev);
      panel.style.display = 'block'; });
    g.addEventListener('mousemove', function (ev) { if (!pinned) place(ev); });
    g.addEventListener('mouseleave', function () { if (!pinned) panel.style.display = 'none'; });
    g.addEventListener('focus', function () { if (pinned) return; fill(g);
      var r = g.getBoundingClientRect(); place({clientX: r.right, clientY: r.top});
      panel.style.display = 'block'; });
    g.addEventListener('blur', function () { if (!pinned) panel.style.display = 'none'; });
    g.addEventListener('click', function (ev) {
      if (pinned) pinned.classList.remove('pinned');
      if (pinned === g) { pinned = null; panel.style.display = 'none'; return; }
      pinned = g; g.classList.add('pinned'); fill(g); place(ev); panel.style.display = 'block';
      ev.stopPropagation(); });
  });
  document.addEventListener('click', function (ev) {
    if (pinned && !panel.contains(ev.target)) { pinned.classList.remove('pinned'); pinned = null;
      panel.style.display = 'none'; } });
})();
"""
