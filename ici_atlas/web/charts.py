"""Inline SVG charts, drawn on the server from the same rows as the page's table.

Every piece of text goes through :func:`markupsafe.escape`; numbers are formatted by
this module. No style attributes (the pages' Content-Security-Policy allows styles only
from the app's stylesheet): colours are presentation attributes or CSS classes.
"""

from __future__ import annotations

from typing import Sequence

from markupsafe import Markup, escape

from ..figures import PALETTE, TARGET_COLOURS
from ..views.charts import Bar, Chart, render_chart_svg

FONT = 12
BAR_COLOUR = TARGET_COLOURS["PD-1"]
AGENCY_COLOURS = {"FDA": "#0072B2", "NMPA": "#D55E00", "PMDA": "#009E73", "EMA": "#CC79A7",
                  "MHRA": "#56B4E9", "MoH-RU": "#E69F00"}
LINE_COLOURS = {"first-line": "#7B3FA0", "later-line": "#E7298A", "any": "#B8860B"}


def _svg(width: int, height: int, body: list[str], label: str, chart_id: str) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{escape(chart_id)}" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}"><title>{escape(label)}</title>'
        + "".join(body) + "</svg>")


def _text(x: float, y: float, text: object, anchor: str = "start", cls: str = "") -> str:
    klass = f' class="{cls}"' if cls else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{FONT}"{klass}>'
            f"{escape(text)}</text>")


def _labelled(x: float, y: float, text: object, n: int, anchor: str = "start",
              cls: str = "") -> str:
    """A label shortened to ``n`` characters with its full text as a tooltip (nothing is
    cut off silently)."""
    full = "" if text is None else str(text)
    shown = _clip(full, n)
    klass = f' class="{cls}"' if cls else ""
    tip = f"<title>{escape(full)}</title>" if shown != full else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{FONT}"{klass}>'
            f"{tip}{escape(shown)}</text>")


def _clip(text: object, n: int = 34) -> str:
    s = "" if text is None else str(text)
    return s if len(s) <= n else s[: n - 1] + "…"


def render_hbars(rows: Sequence[tuple[object, int]], label: str, chart_id: str,
                 width: int = 520, colour: str = BAR_COLOUR,
                 members: Sequence[Sequence[str]] | None = None) -> Markup:
    """Horizontal bars: one (label, count) per row, in the given order — the report's chart
    model and renderer (:mod:`ici_atlas.views.charts`); ``members`` (the trials behind each
    bar) feed the hover list."""
    if not rows:
        return _svg(width, 60, [_text(width / 2, 30, "No trials match", "middle", "muted")],
                    label, chart_id)
    return Markup(render_chart_svg(_chart(rows, "h", colour, members), chart_id, label))


def render_columns(rows: Sequence[tuple[object, int]], label: str, chart_id: str,
                   width: int = 520, height: int = 200, colour: str = BAR_COLOUR,
                   members: Sequence[Sequence[str]] | None = None) -> Markup:
    """Vertical bars (e.g. trials per start year), through the shared renderer."""
    if not rows:
        return _svg(width, 60, [_text(width / 2, 30, "No trials match", "middle", "muted")],
                    label, chart_id)
    return Markup(render_chart_svg(_chart(rows, "v", colour, members), chart_id, label))


def _chart(rows, orientation: str, colour: str, members) -> Chart:
    bars = [Bar(label="" if name is None else str(name), value=float(value), text=f"{value:,}",
                colour=colour, members=tuple(members[i]) if members else ())
            for i, (name, value) in enumerate(rows)]
    return Chart(bars, orientation=orientation)


def render_timeline(first: Sequence[dict], events: Sequence[dict], label: str,
                    chart_id: str = "approvals-timeline", width: int = 900) -> Markup:
    """One row per agent (by first approval), a dot per approval event coloured by agency;
    the first approval is drawn larger."""
    agents = [f["agent"] for f in first]
    if not agents:
        return render_hbars([], label, chart_id, width)
    years = [int(str(e["date"])[:4]) for e in events]
    y0, y1 = min(years), max(years) + 1
    left, right, top, row_h = 150, 20, 24, 16
    height = top + len(agents) * row_h + 40
    scale = (width - left - right) / max(1, y1 - y0)

    def x_of(d: str) -> float:
        parts = [int(p) for p in str(d).split("-")]
        frac = ((parts[1] - 1) / 12 if len(parts) > 1 else 0.5) + (
            (parts[2] - 1) / 365 if len(parts) > 2 else 0)
        return left + (parts[0] - y0 + frac) * scale

    body = []
    for year in range(y0, y1 + 1):
        x = left + (year - y0) * scale
        body.append(f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{height - 34}" '
                    f'stroke="#ddd"/>')
        if (year - y0) % 2 == 0:
            body.append(_text(x, height - 20, year, "middle", "muted"))
    row_of = {a: i for i, a in enumerate(agents)}
    first_ids = {(f["agent"], f["agency"], f["date"]) for f in first}
    for i, agent in enumerate(agents):
        body.append(_text(left - 6, top + i * row_h + 4, _clip(agent, 22), "end"))
    for e in events:
        if e["agent"] not in row_of:
            continue
        cy = top + row_of[e["agent"]] * row_h
        big = (e["agent"], e["agency"], e["date"]) in first_ids
        colour = AGENCY_COLOURS.get(e["agency"], PALETTE[-1])
        body.append(
            f'<circle class="event" cx="{x_of(e["date"]):.1f}" cy="{cy}" r="{6 if big else 3.5}" '
            f'fill="{colour}" fill-opacity="{0.95 if big else 0.6}"><title>'
            f'{escape(e["agent"])}, {escape(e["agency"])} {escape(e["date"])}: '
            f'{escape(_clip(e["indication"], 90))}</title></circle>')
    x = left
    for code, colour in AGENCY_COLOURS.items():
        body.append(f'<circle cx="{x}" cy="{height - 6}" r="5" fill="{colour}"/>')
        body.append(_text(x + 8, height - 2, code))
        x += 80
    return _svg(width, height, body, label, chart_id)


def render_forest(subgroups: Sequence[dict], label: str, chart_id: str = "orr-forest",
                  width: int = 900) -> Markup:
    """Forest plot: each subgroup's arms (ORR with exact 95% CI, square sized by patients)
    and the pooled ORR as a diamond spanning its confidence interval."""
    lines: list[tuple[str, dict]] = []
    for g in subgroups:
        lines.append(("head", g))
        lines += [("arm", a) for a in g["arms"] if a.get("orr") is not None]
        lines.append(("pooled", g))
    left, right, top, row_h = 330, 150, 26, 17
    height = top + max(1, len(lines)) * row_h + 30
    plot_w = width - left - right

    def x_of(p: float) -> float:
        return left + max(0.0, min(1.0, p)) * plot_w

    # Column headers above the plot, tick labels below it only: nothing shares a line.
    body = [_text(8, 14, "Trial / arm", "start", "muted"),
            _text(left + plot_w / 2, 14, "ORR (each arm: exact 95% CI; pooled: diamond)",
                  "middle", "muted"),
            _text(width - right + 8, 14, "ORR % (95% CI)", "start", "muted")]
    for tick in (0, 0.2, 0.4, 0.6, 0.8, 1.0):
        x = x_of(tick)
        body.append(f'<line x1="{x:.1f}" y1="{top - 8}" x2="{x:.1f}" y2="{height - 26}" '
                    f'stroke="#e3e3e3"/>')
        body.append(_text(x, height - 10, f"{tick * 100:.0f}%", "middle", "muted"))
    if not lines:
        body.append(_text(width / 2, height / 2, "No arms match", "middle", "muted"))
    nmax = max([a.get("n_evaluable") or 1 for _, a in lines if _ == "arm"] + [1])
    for i, (kind, item) in enumerate(lines):
        y = top + i * row_h
        if kind == "head":
            body.append(_labelled(8, y + 4, item["label"], 60, "start", "group"))
            continue
        lo, hi, est = item.get("ci_lb"), item.get("ci_ub"), item.get("orr")
        interval = (f"{est * 100:.1f} ({lo * 100:.1f}–{hi * 100:.1f})"
                    if None not in (lo, hi, est) else "–")
        if kind == "arm":
            name = f"{item['trial']}: {item['arm']}"
            colour = LINE_COLOURS.get(item.get("line"), BAR_COLOUR)
            body.append(_labelled(left - 6, y + 4, name, 44, "end"))
            if lo is not None and hi is not None:
                body.append(f'<line x1="{x_of(lo):.1f}" y1="{y}" x2="{x_of(hi):.1f}" y2="{y}" '
                            f'stroke="{colour}" stroke-width="1.5"/>')
            side = 3 + 6 * ((item.get("n_evaluable") or 0) / nmax) ** 0.5
            body.append(f'<rect class="arm" x="{x_of(est) - side / 2:.1f}" '
                        f'y="{y - side / 2:.1f}" width="{side:.1f}" height="{side:.1f}" '
                        f'fill="{colour}"><title>{escape(name)}: {item["responders"]}/'
                        f'{item["n_evaluable"]}</title></rect>')
        else:
            body.append(_text(left - 6, y + 4, f"Pooled (k = {item['k']})", "end", "group"))
            if None not in (lo, hi, est):
                pts = (f"{x_of(lo):.1f},{y} {x_of(est):.1f},{y - 6} {x_of(hi):.1f},{y} "
                       f"{x_of(est):.1f},{y + 6}")
                body.append(f'<polygon class="pooled" points="{pts}" fill="#222"><title>'
                            f'{escape(item["label"])}: pooled ORR {interval}</title></polygon>')
        body.append(_text(width - right + 8, y + 4, interval))
    return _svg(width, height, body, label, chart_id)


STACK_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#999999")


def render_stacked(years: Sequence[dict], series: Sequence[str], label: str, chart_id: str,
                   hrefs: Sequence[str] = (), width: int = 900) -> Markup:
    """Stacked columns: one per year, one segment per series (hover: year, series, count;
    a column is a link when ``hrefs`` gives one)."""
    if not years:
        return _svg(width, 60, [_text(width / 2, 30, "No trials match", "middle", "muted")],
                    label, chart_id)
    left, top, bottom, legend_h = 50, 16, 40, 22 * ((len(series) + 3) // 4)
    plot_h = 220
    col = max(6.0, min(40.0, (width - left - 20) / len(years)))
    width = int(left + col * len(years) + 20)
    height = top + plot_h + bottom + legend_h
    vmax = max(sum(y[k] for k in series) for y in years) or 1
    scale = plot_h / vmax
    body = []
    for t in _ticks(vmax):
        yy = top + plot_h - t * scale
        body.append(f'<line class="grid" x1="{left}" y1="{yy:.1f}" x2="{width - 20}" '
                    f'y2="{yy:.1f}"/>')
        body.append(_text(left - 6, yy + 4, f"{t:,}", "end", "tick"))
    colours = {k: STACK_COLOURS[i % len(STACK_COLOURS)] for i, k in enumerate(series)}
    step = max(1, len(years) // 15)
    for i, y in enumerate(years):
        x = left + i * col
        base = top + plot_h
        segs = []
        for k in series:
            n = y.get(k, 0)
            if not n:
                continue
            h = n * scale
            base -= h
            segs.append(f'<rect x="{x + 1:.1f}" y="{base:.1f}" width="{col - 2:.1f}" '
                        f'height="{h:.1f}" fill="{colours[k]}"><title>{escape(y["year"])}, '
                        f'{escape(k)}: {n:,} trials</title></rect>')
        group = "".join(segs)
        if i < len(hrefs) and hrefs[i]:
            group = f'<a class="bar-link" href="{escape(hrefs[i])}">{group}</a>'
        body.append(group)
        if i % step == 0:
            body.append(_text(x + col / 2, top + plot_h + 16, y["year"], "middle", "tick"))
    for i, k in enumerate(series):
        lx = left + (i % 4) * 210
        ly = top + plot_h + bottom + 14 + (i // 4) * 22
        body.append(f'<rect x="{lx}" y="{ly - 10}" width="12" height="12" fill="{colours[k]}"/>')
        body.append(_text(lx + 18, ly, _clip(k, 28)))
    return _svg(width, height, body, label, chart_id)


def _ticks(vmax: float) -> list[int]:
    from ..views.charts import nice_ticks

    return [int(t) for t in nice_ticks(vmax, 5)]
