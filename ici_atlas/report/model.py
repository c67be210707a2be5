"""The pieces a report is made of: sections, figures (with the bars behind interactive
charts) and tables. Builders in :mod:`sections` and :mod:`methods` return these; the
renderer in :mod:`render` writes them. Prose is HTML built from computed values only."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from matplotlib.figure import Figure

from ..views.charts import HOVER_CAP, Bar, Chart, esc  # noqa: F401  (the one chart model)


@dataclass
class ReportFigure:
    """A figure: ``plot`` draws it with matplotlib (for print; called when the figure is
    written, so figures are not all open at once) and ``chart``, when given, is its
    interactive twin drawn from the same rows."""

    name: str
    title: str
    caption: str
    plot: Callable[[], Figure]
    chart: Chart | None = None
    #: True: the chart is the figure's full twin and replaces the print version in the
    #: HTML; False: it is a companion (e.g. one panel) shown under the print version.
    chart_is_twin: bool = True


@dataclass
class Table:
    """A table written as ``tables/<name>.csv``; shown in the HTML unless ``show`` is False
    (then only linked), at most ``max_rows`` rows."""

    name: str
    title: str
    columns: Sequence[str]
    rows: list[dict[str, Any]]
    show: bool = True
    max_rows: int = 60
    link_columns: Sequence[str] = ()  # columns holding NCT IDs, linked to the registry
    html_columns: Sequence[str] = ()  # columns shown in the HTML (default: all)


@dataclass
class Section:
    id: str
    title: str
    built: bool = True
    reason: str = ""  # why the section was not built (one line)
    error: bool = False  # not built because of an error (not merely missing records)
    paragraphs: list[str] = field(default_factory=list)  # HTML fragments
    figures: list[ReportFigure] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    extra_figures: list[ReportFigure] = field(default_factory=list)  # collapsed in HTML




def n(value: int) -> str:
    """A count as printed in prose (thousands separator)."""
    return f"{value:,}"


def pct(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole else "0.0%"


def plural(count: int, word: str, many: str | None = None) -> str:
    return f"{count:,} {word if count == 1 else (many or word + 's')}"
