"""Write a report: every figure as PNG, SVG and PDF, every table as CSV, and one
self-contained ``index.html`` (styles and scripts inline, figures as inline SVG, no
network reference). Output is deterministic: no timestamps, fixed ordering, figure files
written with fixed metadata."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, Sequence

import orjson

from ..figures import save_figure
from ..views.charts import SCRIPT, STYLE, render_chart_svg
from .model import ReportFigure, Section, Table, esc

FIGURE_FORMATS = ("png", "svg", "pdf")
REGISTRY_STUDY = "https://clinicaltrials.gov/study/"
_NCT = re.compile(r"^NCT\d{8}$")
NOT_ADVICE = ("Research tool, not clinical advice: these summaries describe published "
              "evidence and registry records; they are not treatment recommendations.")


# ----------------------------------------------------------------------------- files

def write_figure(fig: ReportFigure, fig_dir: Path,
                 formats: Sequence[str] = FIGURE_FORMATS) -> tuple[list[Path], str]:
    """Draw ``fig`` and save it in ``formats`` (always SVG, which the HTML inlines);
    return the paths and the SVG text."""
    fig_dir.mkdir(parents=True, exist_ok=True)
    plot = fig.plot()
    # SVG first: drawing a figure (for PNG or PDF) can move its layout slightly, so the
    # SVG (inlined in the HTML) is always drawn from the fresh figure.
    paths = save_figure(plot, fig_dir, fig.name, ("svg", "png") if "png" in formats else ("svg",))
    if "pdf" in formats:
        pdf = fig_dir / f"{fig.name}.pdf"
        # Fixed metadata: no creation date, so the PDF does not change between runs.
        plot.savefig(pdf, format="pdf", bbox_inches="tight", dpi=200,
                     metadata={"CreationDate": None, "ModDate": None, "Producer": None})
        paths.append(pdf)
    return paths, (fig_dir / f"{fig.name}.svg").read_text(encoding="utf-8")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, Decimal):
        return f"{float(value):.6g}"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return "; ".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS, default=str).decode()
    return str(value)


def render_csv(table: Table) -> str:
    """The table as CSV, written by the one writer of every ici-atlas table
    (:func:`ici_atlas.tables.render_text`): same spelling as the CLI, API and dashboard."""
    from ..tables import frame, render_text

    return render_text(frame(table.rows, list(table.columns)), "csv")


def write_table(table: Table, table_dir: Path) -> Path:
    table_dir.mkdir(parents=True, exist_ok=True)
    path = table_dir / f"{table.name}.csv"
    path.write_text(render_csv(table), encoding="utf-8", newline="")
    return path


# ----------------------------------------------------------------------------- inline SVG

_PROLOG = re.compile(r"<\?xml[^>]*\?>\s*|<!DOCTYPE[^>]*>\s*", re.S)
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.S)
_XMLNS = re.compile(r'\s+xmlns(:\w+)?="[^"]*"')
_VERSION = re.compile(r'\s+version="1\.1"')


def inline_svg(text: str, prefix: str) -> str:
    """A matplotlib SVG file as an element to put inside HTML: no prolog, DOCTYPE,
    metadata or namespace URLs; ids prefixed so figures do not clash; the file's global
    ``*`` style scoped to this figure."""
    text = _METADATA.sub("", _PROLOG.sub("", text))
    text = _XMLNS.sub("", text)
    text = _VERSION.sub("", text, count=1)
    text = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}-{m.group(1)}"', text)
    text = re.sub(r'url\(#([^)]+)\)', lambda m: f"url(#{prefix}-{m.group(1)})", text)
    text = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}-{m.group(1)}"', text)
    text = text.replace("*{", f"#{prefix}-svg *{{")
    text = re.sub(r"<svg\b", f'<svg id="{prefix}-svg" class="print"', text, count=1)
    return text.strip()


# ----------------------------------------------------------------------------- HTML

CSS = """
body { font: 15px/1.5 Georgia, 'Times New Roman', serif; color: #222; margin: 0; }
main { max-width: 1000px; margin: 0 auto; padding: 16px 24px 64px; }
h1 { font: 600 26px/1.2 system-ui, sans-serif; margin: 24px 0 4px; }
h2 { font: 600 21px system-ui, sans-serif; border-bottom: 2px solid #0072B2;
  padding-bottom: 4px; margin-top: 48px; }
h3 { font: 600 16px system-ui, sans-serif; margin: 24px 0 6px; }
.meta, figcaption, .files { font: 13px/1.4 system-ui, sans-serif; color: #555; }
.note { background: #FFF7E0; border-left: 4px solid #E69F00; padding: 8px 12px;
  font: 14px system-ui, sans-serif; }
.notbuilt { background: #F4F4F4; border-left: 4px solid #999; padding: 8px 12px;
  font: 14px system-ui, sans-serif; }
nav ol { font: 14px system-ui, sans-serif; columns: 2; }
figure { margin: 16px 0 28px; }
svg.print { max-width: 100%; height: auto; }
table { border-collapse: collapse; font: 12px/1.35 system-ui, sans-serif; margin: 8px 0;
  width: 100%; }
th, td { border-bottom: 1px solid #ddd; padding: 3px 6px; text-align: left;
  vertical-align: top; overflow-wrap: anywhere; max-width: 28em; }
th { background: #F2F6FA; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.tablewrap { overflow-x: auto; max-height: 520px; overflow-y: auto; }
code, pre { font: 12px/1.4 ui-monospace, monospace; }
pre.query { white-space: pre-wrap; word-break: break-word; background: #F6F6F6; padding: 8px; }
details { margin: 8px 0; }
.cite { font: 13px/1.45 system-ui, sans-serif; background: #EEF5FB;
  border-left: 4px solid #0072B2; padding: 6px 12px; margin: 6px 0; overflow-wrap: anywhere; }
p, li, figcaption { overflow-wrap: anywhere; }
"""


def _td(value: Any, link: bool) -> str:
    text = _cell(value)
    num = isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)
    if link and text:
        parts = [p.strip() for p in text.split(";")]
        text_html = "; ".join(
            f'<a href="{REGISTRY_STUDY}{esc(p)}">{esc(p)}</a>' if _NCT.match(p) else esc(p)
            for p in parts)
        return f"<td>{text_html}</td>"
    return f'<td class="num">{esc(text)}</td>' if num else f"<td>{esc(text)}</td>"


def render_table_html(table: Table) -> str:
    rows = table.rows[: table.max_rows]
    columns = list(table.html_columns or table.columns)
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(_td(r.get(c), c in table.link_columns) for c in columns) + "</tr>"
        for r in rows)
    more = len(table.rows) - len(rows)
    note = (f" (first {len(rows):,} of {len(table.rows):,} rows)" if more > 0 else "")
    if len(columns) < len(table.columns):
        note += f" with all {len(table.columns)} columns"
    return (f'<h3 id="table-{esc(table.name)}">{esc(table.title)}</h3>'
            f'<div class="tablewrap"><table><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>"
            f'<p class="files">Full table{esc(note)}: '
            f'<a href="tables/{esc(table.name)}.csv">tables/{esc(table.name)}.csv</a></p>')


def _figure_html(fig: ReportFigure, svg_text: str) -> str:
    files = " · ".join(f'<a href="figures/{esc(fig.name)}.{fmt}">{fmt.upper()}</a>'
                       for fmt in FIGURE_FORMATS)
    body, hint = "", ""
    if fig.chart is None or not fig.chart_is_twin:
        body = inline_svg(svg_text, f"fig-{fig.name}")
    if fig.chart is not None:
        body += render_chart_svg(fig.chart, f"chart-{fig.name}", fig.title)
        hint = " Hover over (or focus) a bar to list what is behind it; click to pin the list."
    return (f'<figure id="{esc(fig.name)}"><h3>{esc(fig.title)}</h3>{body}'
            f"<figcaption>{esc(fig.caption)}{esc(hint)} Print version: {files}.</figcaption>"
            "</figure>")


def render_section_html(sec: Section, svgs: dict[str, str]) -> str:
    parts = [f'<section id="{esc(sec.id)}"><h2>{esc(sec.title)}</h2>']
    if not sec.built:
        parts.append(f'<p class="notbuilt">{esc(sec.reason)}</p></section>')
        return "".join(parts)
    parts += [f"<p>{p}</p>" if not p.startswith("<details") else p for p in sec.paragraphs]
    parts += [_figure_html(f, svgs[f.name]) for f in sec.figures]
    if sec.extra_figures:
        parts.append(f"<details><summary>{len(sec.extra_figures)} more figures</summary>")
        parts += [_figure_html(f, svgs[f.name]) for f in sec.extra_figures]
        parts.append("</details>")
    parts += [render_table_html(t) for t in sec.tables if t.show]
    hidden = [t for t in sec.tables if not t.show]
    if hidden:
        parts.append('<p class="files">More tables: ' + ", ".join(
            f'<a href="tables/{esc(t.name)}.csv">{esc(t.title)}</a> ({len(t.rows):,} rows)'
            for t in hidden) + ".</p>")
    parts.append("</section>")
    return "".join(parts)


def render_html(sections: Sequence[Section], svgs: dict[str, str], data_line: str,
                cite: str = "") -> str:
    toc = "".join(
        f'<li><a href="#{esc(s.id)}">{esc(s.title)}</a>{"" if s.built else " (not built)"}</li>'
        for s in sections)
    body = "".join(render_section_html(s, svgs) for s in sections)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>ici-atlas report: anti-PD-1/PD-L1 evidence</title>"
        f"<style>{CSS}{STYLE}</style></head><body><main>"
        "<h1>Anti-PD-1/PD-L1 therapy: trials, approvals, efficacy and resistance strategies</h1>"
        f'<p class="meta">{esc(data_line)}</p>{cite}'
        f'<p class="note">{esc(NOT_ADVICE)}</p>'
        f"<nav><ol>{toc}</ol></nav>{body}"
        f'<p class="note">{esc(NOT_ADVICE)}</p>'
        '</main><div id="hover-panel" role="tooltip"></div>'
        f"<script>{SCRIPT}</script></body></html>\n"
    )


def all_figures(sections: Iterable[Section]) -> list[ReportFigure]:
    return [f for s in sections for f in (*s.figures, *s.extra_figures)]
