"""The dashboard's pages: URL patterns, handlers, and what each page's template gets.

A handler returns a :class:`~ici_atlas.web.app.Page` whose ``data`` is the page's JSON
twin; charts and form choices are added for the HTML only, drawn from the same rows.
:data:`ROUTES` is also what ``/openapi.json`` describes (see :mod:`ici_atlas.web.openapi`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import urlencode

from markupsafe import Markup, escape

from ..analyses import efficacy as ef
from ..analyses import evidence as ev
from ..analyses.approvals import AGENCIES, STATUSES
from ..views.charts import Bar, Chart, render_chart_svg
from . import charts, data, explorer

if TYPE_CHECKING:
    from .app import DashboardApp, Page, Raw, Request


@dataclass(frozen=True)
class Route:
    """One page. ``path`` is its OpenAPI template (``/trials/{nct_id}``); the page answers
    at ``path``, ``path.json`` (or ``/index.json`` for ``/``) and ``path`` with Accept JSON."""

    name: str
    path: str
    handler: Callable[..., Any]
    summary: str
    parameters: dict[str, str] = field(default_factory=dict)
    path_parameters: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # name: (regex, description, example)
    response_keys: tuple[str, ...] = ()
    json_twin: bool = True
    content_type: str = "application/json"

    @property
    def json_path(self) -> str:
        if not self.json_twin:
            return self.path
        return "/index.json" if self.path == "/" else self.path + ".json"

    def match(self, path: str) -> dict[str, str] | None:
        """Path parameters when ``path`` is this page (HTML or JSON twin), else None."""
        params = tuple((n, r) for n, (r, _, _) in self.path_parameters.items())
        for template in (self.path, self.json_path):
            found = _compile(template, params).match(path)
            if found:
                return found.groupdict()
        return None


@lru_cache(maxsize=64)
def _compile(template: str, params: tuple[tuple[str, str], ...]) -> re.Pattern:
    pattern = re.escape(template)
    for name, regex in params:
        pattern = pattern.replace(re.escape("{" + name + "}"), f"(?P<{name}>{regex})")
    return re.compile("^" + pattern + "$")


# ---------------------------------------------------------------------------- template helpers

def _pct(value: Any, digits: int = 1) -> str:
    return "–" if value is None else f"{float(value) * 100:.{digits}f}%"


def _yesno(value: Any) -> str:
    return "–" if value is None else ("yes" if value else "no")


def _qs(pairs: Any) -> str:
    return urlencode(list(pairs.items()) if isinstance(pairs, dict) else list(pairs))


def _link_sources(text: str) -> Markup:
    """Source cells: http(s) URLs become links, PMIDs and DOIs link to their resolvers,
    everything else stays text (escaped)."""
    parts = []
    for token in re.split(r"\s*;\s*", text or ""):
        if not token:
            continue
        url = None
        if re.match(r"^https?://[^\s\"'<>]+$", token):
            url = token
        elif re.match(r"^PMID:?\s*\d{1,9}$", token, re.I):
            url = "https://pubmed.ncbi.nlm.nih.gov/" + re.sub(r"\D", "", token) + "/"
        elif re.match(r"^(doi:)?10\.\d{4,9}/\S+$", token, re.I):
            url = "https://doi.org/" + re.sub(r"^doi:", "", token, flags=re.I)
        if url:
            parts.append(Markup('<a href="{}" rel="noopener noreferrer">{}</a>').format(url, token))
        else:
            parts.append(escape(token))
    return Markup("; ").join(parts)


def install_filters(env) -> None:
    env.filters.update(pct=_pct, yesno=_yesno, qs=_qs, sources=_link_sources)


# ---------------------------------------------------------------------------- handlers

def _page(*args, **kwargs) -> "Page":
    from .app import Page

    return Page(*args, **kwargs)


def _year_bars(rows: list[dict]) -> list[tuple[object, int]]:
    """(year, trials) for every year from the first to the last (zeros filled in), then
    trials without a start date as ``n/a``."""
    counts = {r["start_year"]: r["trials"] for r in rows}
    years = [y for y in counts if y is not None]
    bars: list[tuple[object, int]] = [(y, counts.get(y, 0))
                                      for y in range(min(years), max(years) + 1)] if years else []
    if None in counts:
        bars.append(("n/a", counts[None]))
    return bars


def overview(app: "DashboardApp", req: "Request") -> "Page":
    req.single(())
    d = app.cached("overview", lambda: app.read(data.query_overview))
    ctx = {
        "phase_chart": charts.render_hbars([(r["phase"], r["trials"]) for r in d["phases"]],
                                           "PD-(L)1 trials per phase", "chart-phases"),
        "year_chart": charts.render_columns(_year_bars(d["years"]),
                                            "PD-(L)1 trials per start year", "chart-years"),
        "cancer_chart": charts.render_hbars([(r["label"], r["trials"]) for r in d["cancers"]],
                                            "PD-(L)1 trials per cancer group", "chart-cancers"),
        "partner_chart": charts.render_hbars(
            [(r["partner_class"], r["trials"]) for r in d["partners"]],
            "PD-(L)1 trials per partner target", "chart-partners"),
    }
    return _page(d, "overview.html", "Overview", ctx)


def _facet_json(facets: explorer.Facets, live: dict[str, dict[str, int]]) -> dict:
    """Every facet's values: PD-(L)1 trials in the whole store, and ``trials`` — how many
    the value would select given the other filters in use."""
    out = {k: [{"value": v, "pd1_trials": n, "trials": live.get(k, {}).get(v, 0)}
               for v, n in vals] for k, vals in facets.values.items()}
    for name in ("class", "bispecific", "monotherapy", "start_year", "posted_year"):
        out[name] = [{"value": v, "trials": n} for v, n in sorted(live.get(name, {}).items())]
    return out


def _facets(app: "DashboardApp") -> explorer.Facets:
    return app.cached("facets", lambda: app.read(explorer.query_facets))


def trials(app: "DashboardApp", req: "Request") -> "Page":
    facets = _facets(app)
    eq = explorer.parse_explorer_query(req.params, facets)
    result, live = app.read(lambda cur: (explorer.query_explorer(cur, eq),
                                         explorer.query_live_facets(cur, eq.flt)))
    d = {"filters": eq.filters(), "sort": eq.sort, "order": eq.order, **result,
         "facets": _facet_json(facets, live)}
    ctx = {
        "eq": eq,
        "live": live,
        "facet_values": facets.values,
        "landscape_url": "/landscape?" + urlencode(
            [(k, v) for k, v in eq.query_pairs() if k not in ("sort", "order", "page",
                                                              "per_page")]),
        "sort_keys": list(explorer.SORT_COLUMNS),
        "phase_chart": charts.render_hbars([(r["phase"], r["trials"]) for r in result["by_phase"]],
                                           "Selected trials per phase", "chart-phases"),
        "year_chart": charts.render_columns(_year_bars(result["by_year"]),
                                            "Selected trials per start year",
                                            "chart-years"),
        "csv_url": "/trials.csv?" + urlencode(eq.query_pairs(page=None, per_page=None)),
        "page_url": lambda **kw: "/trials?" + urlencode(eq.query_pairs(**kw)),
    }
    return _page(d, "trials.html", "Trials explorer", ctx)


LANDSCAPE_EXTRA = {
    "stack": "Stack the time chart by `class` (default), `partner` or `cancer`.",
    "time": "Years of the time chart: `start` (default) or `posted` (first posted).",
}
LANDSCAPE_CSV_EXTRA = {
    "table": "Which chart's table: " + ", ".join(f"`{t}`" for t, *_ in data.LANDSCAPE_CHARTS)
             + ", `time` (default `phases`).",
    **LANDSCAPE_EXTRA,
}


def _landscape_query(app: "DashboardApp", req: "Request", extra: dict, live_facets: bool = False):
    facets = _facets(app)
    eq = explorer.parse_explorer_query(req.params, facets, extra)
    stack = (req.params.get("stack") or ["class"])[-1]
    time = (req.params.get("time") or ["start"])[-1]
    d = app.read(lambda cur: data.query_landscape_page(cur, eq.flt, stack, time, live_facets))
    return facets, eq, d


def landscape(app: "DashboardApp", req: "Request") -> "Page":
    # the JSON twin is the data; the charts and facet counts are the page's
    facets, eq, d = _landscape_query(app, req, LANDSCAPE_EXTRA, live_facets=not req.want_json)
    if req.want_json:
        return _page(d, "landscape.html", "Landscape", {})
    live = d.pop("live")
    base = [(k, v) for k, v in eq.query_pairs() if k not in ("sort", "order", "page", "per_page")]
    extra = [(k, v) for k, v in (("stack", d["time"]["stack"]), ("time", d["time"]["time"]))]

    def url(*pairs: tuple[str, str], drop: tuple[str, ...] = ()) -> str:
        kept = [(k, v) for k, v in base if k not in drop]
        return "/landscape?" + urlencode(kept + list(pairs) + extra)

    charts_html = []
    for table, title, param, key in data.LANDSCAPE_CHARTS:
        rows = d["tables"][table]
        members = d["members"][table]
        bars = []
        for r in rows:
            value = r[key]
            clickable = value not in ("Others", "Not classified", ls_no_partner(), None)
            href = ""
            if clickable:
                chosen = [v for k, v in base if k == param]
                pairs = [(param, value)] if value not in chosen else []
                if table == "cancers_pd1":
                    pairs.append(("class", "PD-1"))
                if table == "cancers_pdl1":
                    pairs.append(("class", "PD-L1"))
                href = url(*pairs, drop=("class",) if table.startswith("cancers_") else ())
            bars.append(Bar(label=str(r.get("label") or value), value=float(r["trials"]),
                            text=f"{r['trials']:,}", colour=charts.BAR_COLOUR,
                            members=tuple(members.get(str(value), ())), href=href))
        svg = Markup(render_chart_svg(Chart(bars, "h"), f"chart-{table}", title)) if bars \
            else charts.render_hbars([], title, f"chart-{table}")
        csv_url = "/landscape.csv?" + urlencode(base + [("table", table)] + extra)
        charts_html.append({"id": table, "title": title, "svg": svg, "csv": csv_url})
    t = d["time"]
    years = t["years"]
    hrefs = [url(("since", str(y["year"])), ("until", str(y["year"])), drop=("since", "until"))
             if t["time"] == "start" else
             url(("posted_since", str(y["year"])), ("posted_until", str(y["year"])),
                 drop=("posted_since", "posted_until")) for y in years]
    time_svg = charts.render_stacked(years, t["series"],
                                     f"Trials per {'start' if t['time'] == 'start' else 'first-posted'} "
                                     f"year by {t['stack']}", "chart-time", hrefs)
    ctx = {"eq": eq, "live": live, "facet_values": facets.values, "charts": charts_html,
           "time_svg": time_svg, "stacks": data.STACKS, "times": data.TIMES,
           "time_csv": "/landscape.csv?" + urlencode(base + [("table", "time")] + extra),
           "trials_url": "/trials?" + urlencode(base)}
    d = {k: v for k, v in d.items() if k != "members"}
    return _page(d, "landscape.html", "Landscape", ctx)


def ls_no_partner() -> str:
    from ..analyses.landscape import NO_PARTNER

    return NO_PARTNER


def landscape_csv(app: "DashboardApp", req: "Request") -> "Raw":
    from .app import Raw

    table = (req.params.get("table") or ["phases"])[-1]
    names = [t for t, *_ in data.LANDSCAPE_CHARTS] + ["time"]
    if table not in names:
        from ..errors import invalid_choice

        raise invalid_choice("table", table, names, "Use one of the landscape's tables.")
    _, _, d = _landscape_query(app, req, LANDSCAPE_CSV_EXTRA)
    rows = d["time"]["years"] if table == "time" else d["tables"][table]
    from ..tables import frame, render_text

    text = render_text(frame(rows), "csv") if rows else "no rows\n"
    return Raw("text/csv; charset=utf-8", [text.encode("utf-8")],
               [("Content-Disposition", f'attachment; filename="ici-atlas-landscape-{table}.csv"')])


def trials_csv(app: "DashboardApp", req: "Request") -> "Raw":
    from .app import Raw

    eq = explorer.parse_explorer_query(req.params, _facets(app))

    def body():  # the cursor opens when the first chunk is asked for (never for HEAD)
        cur = app.cursor()
        try:
            yield from explorer.iter_explorer_csv(cur, eq)
        finally:
            cur.close()

    return Raw("text/csv; charset=utf-8", body(),
               [("Content-Disposition", 'attachment; filename="ici-atlas-trials.csv"')])


def trial(app: "DashboardApp", req: "Request", nct_id: str) -> "Page":
    req.single(())
    d = app.read(lambda cur: data.query_trial_page(cur, nct_id))
    return _page(d, "trial.html", d["trial"]["nct_id"])


def approvals(app: "DashboardApp", req: "Request") -> "Page":
    params = req.single(data.APPROVAL_PARAMETERS)
    d = data.query_approvals_page(params)
    ctx = {
        "params": params,
        "agencies": list(AGENCIES),
        "statuses": list(STATUSES),
        "timeline": charts.render_timeline(d["first_approvals"], d["events"],
                                           "Approvals of PD-(L)1 agents over time"),
    }
    return _page(d, "approvals.html", "Approvals", ctx)


def orr(app: "DashboardApp", req: "Request") -> "Page":
    params = req.single(data.ORR_PARAMETERS)
    d = data.query_orr_page(params)
    all_arms = ef.load_orr_arms()
    ctx = {
        "params": params,
        "tumors": sorted({a.tumor_group for a in all_arms}),
        "agents": sorted({a.agent for a in all_arms}),
        "lines": list(ef.LINES),
        "classes": list(ef.TARGET_CLASSES),
        "groupings": ["tumor,line", "tumor", "group,line", "agent", "class,line", "line"],
        "forest": charts.render_forest(d["subgroups"], "ORR per arm and pooled per subgroup"),
        "methods": data.ORR_METHODS, "tests": data.ORR_TESTS, "measures": data.ORR_MEASURES,
        "downloads": {fmt: f"/orr/forest.{fmt}?{urlencode(params)}" for fmt in ("svg", "png")}
        | {"csv": f"/orr.csv?{urlencode(params)}"},
    }
    return _page(d, "orr.html", "ORR explorer", ctx)


def orr_forest(app: "DashboardApp", req: "Request", fmt: str) -> "Raw":
    """The ORR page's forest plot as a file: SVG (as drawn on the page) or PNG (drawn with
    the report's forest plot, from the same rows)."""
    from .app import Raw

    params = req.single(data.ORR_PARAMETERS)
    d = data.query_orr_page(params)
    name = 'attachment; filename="ici-atlas-orr-forest.' + fmt + '"'
    if fmt == "svg":
        svg = str(charts.render_forest(d["subgroups"], "ORR per arm and pooled per subgroup"))
        return Raw("image/svg+xml", [svg.encode("utf-8")], [("Content-Disposition", name)])
    return Raw("image/png", [_forest_png(d["subgroups"])], [("Content-Disposition", name)])


def _forest_png(subgroups: list[dict]) -> bytes:
    import io

    import matplotlib.pyplot as plt
    import pandas as pd

    from ..figures.forest import plot_forest

    studies = pd.DataFrame([{"label": _short(f"{a['trial']}: {a['arm']}"), "group": g["label"],
                             "events": a["responders"], "total": a["n_evaluable"],
                             "proportion": a["orr"], "ci_lb": a["ci_lb"], "ci_ub": a["ci_ub"]}
                            for g in subgroups for a in g["arms"] if a.get("orr") is not None],
                           columns=["label", "group", "events", "total", "proportion", "ci_lb",
                                    "ci_ub"])
    pooled = pd.DataFrame([{"group": g["label"], "k": g["k"], "estimate": g["orr"],
                            "ci_lb": g["ci_lb"], "ci_ub": g["ci_ub"], "pi_lb": g.get("pi_lb"),
                            "pi_ub": g.get("pi_ub"), "I2": g.get("i2")} for g in subgroups],
                          columns=["group", "k", "estimate", "ci_lb", "ci_ub", "pi_lb", "pi_ub",
                                   "I2"])
    fig = plot_forest(studies, pooled, "ORR per arm and pooled per subgroup", "ORR (%)")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def _short(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def runs(app: "DashboardApp", req: "Request") -> "Page":
    params = req.single(data.RUNS_PARAMETERS)
    d = app.read(lambda cur: data.query_runs_page(cur, params))
    return _page(d, "runs.html", "How the store was built",
                 {"params": params, "page_url": lambda **kw: "/runs?" + urlencode(
                     {**{k: v for k, v in params.items() if v}, **{k: str(v) for k, v in kw.items()}})})


def orr_csv(app: "DashboardApp", req: "Request") -> "Raw":
    """The ORR page's pooled subgroups (and each arm) as CSV."""
    from .app import Raw
    from ..tables import frame, render_text

    params = req.single(data.ORR_PARAMETERS)
    d = data.query_orr_page(params)
    rows = []
    for g in d["subgroups"]:
        rows.append({"row": "pooled", "subgroup": g["label"], "trial": "", "arm": "",
                     "k": g["k"], "patients": g["patients"], "responders": g["responders"],
                     "orr": g["orr"], "ci_lb": g["ci_lb"], "ci_ub": g["ci_ub"],
                     "pi_lb": g.get("pi_lb"), "pi_ub": g.get("pi_ub"), "i2": g.get("i2"),
                     "method": g.get("method"), "source": ""})
        for a in g["arms"]:
            rows.append({"row": "arm", "subgroup": g["label"], "trial": a["trial"],
                         "arm": a["arm"], "k": None, "patients": a["n_evaluable"],
                         "responders": a["responders"], "orr": a["orr"], "ci_lb": a["ci_lb"],
                         "ci_ub": a["ci_ub"], "pi_lb": None, "pi_ub": None, "i2": None,
                         "method": "exact", "source": a["source"]})
    text = render_text(frame(rows), "csv") if rows else "no rows\n"
    return Raw("text/csv; charset=utf-8", [text.encode("utf-8")],
               [("Content-Disposition", 'attachment; filename="ici-atlas-orr.csv"')])


def _strategy_table(app: "DashboardApp") -> list[dict]:
    return app.cached("strategy_table", lambda: app.read(
        lambda cur: ev.query_strategy_table(cur, ev.load_strategies().strategies)))


def strategies(app: "DashboardApp", req: "Request") -> "Page":
    params = req.single(data.STRATEGY_PARAMETERS)
    d = data.query_strategies_page(None, params, table=_strategy_table(app))
    ctx = {"params": params, "phenotypes": sorted(ev.load_strategies().phenotypes),
           "levels": list(ev.EVIDENCE_LEVELS)}
    return _page(d, "strategies.html", "Strategies", ctx)


def strategy(app: "DashboardApp", req: "Request", strategy_id: str) -> "Page":
    req.single(())
    d = app.read(lambda cur: data.query_strategy_page(cur, strategy_id))
    return _page(d, "strategy.html", d["strategy"]["id"])


def regulators(app: "DashboardApp", req: "Request") -> "Page":
    from ..analyses.regulators import CELLS, LEVELS

    params = req.single(data.REGULATOR_PARAMETERS)
    drugged = app.cached("regulators_drugged", lambda: app.read(data.query_drugged_regulators))
    d = app.read(lambda cur: data.query_regulators_page(cur, params, drugged))
    return _page(d, "regulators.html", "Regulators of the PD-1/PD-L1 axis",
                 {"params": params, "cells": CELLS, "levels": LEVELS})


def changes(app: "DashboardApp", req: "Request") -> "Page":
    params = req.single(data.CHANGES_PARAMETERS)
    d = app.read(lambda cur: data.query_changes_page(cur, params))
    return _page(d, "changes.html", "What changed", {"params": params,
                                                    "sections": data.CHANGE_SECTIONS})


#: Figures the dashboard serves as files: name -> how to draw it from the curated data.
FIGURE_FILES = ("fig1_network", "suppfig1_timeline")


def figure_file(app: "DashboardApp", req: "Request", figure: str) -> "Raw":
    """Figure 1 or Supplementary Figure 1 as PNG or SVG (drawn once per server)."""
    from .app import Raw

    req.single(())
    name, fmt = figure.rsplit(".", 1)
    body = app.cached(f"figure:{figure}", lambda: _draw_figure(name, fmt))
    types = {"png": "image/png", "svg": "image/svg+xml"}
    return Raw(types[fmt], [body], [("Cache-Control", "max-age=3600")])


def _draw_figure(name: str, fmt: str) -> bytes:
    import io

    from ..analyses.regulators import query_edges, query_nodes
    from ..analyses.timeline import query_timeline
    from ..figures.regulators import plot_network, plot_timeline

    fig = (plot_network(query_nodes(), query_edges()) if name == "fig1_network"
           else plot_timeline(query_timeline()))
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, bbox_inches="tight", dpi=110,
                metadata={"svg": {"Date": None, "Creator": None}}.get(fmt, {"Software": None}))
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def openapi(app: "DashboardApp", req: "Request") -> "Raw":
    from .app import Raw, json_bytes
    from .openapi import build_openapi

    req.single(())
    return Raw("application/json", [json_bytes(build_openapi())])


_NCT = (r"NCT\d{8}|[A-Za-z][A-Za-z0-9-]{3,48}",
        "NCT ID of a trial in the store, or another registry's ID (ChiCTR..., EUCTR...).",
        "NCT02475213")
_SID = (r"[a-z0-9][a-z0-9\-]{0,80}", "Strategy id from /strategies.", "oncolytic-virus")

ROUTES: tuple[Route, ...] = (
    Route("overview", "/", overview, "Store summary and the PD-(L)1 landscape in brief.",
          response_keys=("store", "phases", "years", "cancers", "partners", "sponsors",
                         "registries", "runs")),
    Route("trials_csv", "/trials.csv", trials_csv,
          "CSV of every trial in the explorer's current selection (all pages).",
          explorer.PARAMETERS, json_twin=False, content_type="text/csv"),
    Route("trials", "/trials", trials,
          "Trials explorer: filtered, sorted, paginated trials with counts per phase and year.",
          explorer.PARAMETERS,
          response_keys=("filters", "sort", "order", "total", "page", "per_page", "pages",
                         "rows", "by_phase", "by_year", "facets")),
    Route("landscape", "/landscape", landscape,
          "The landscape of the selection (Figures 2A-C and 5A-B, trials per year stacked by "
          "class, partner or cancer): every bar links to the page filtered by it.",
          {**explorer.PARAMETERS, **LANDSCAPE_EXTRA},
          response_keys=("filters", "total", "tables", "time")),
    Route("landscape_csv", "/landscape.csv", landscape_csv,
          "CSV of one chart's table on the landscape page, for the same selection.",
          {**explorer.PARAMETERS, **LANDSCAPE_CSV_EXTRA}, json_twin=False,
          content_type="text/csv"),
    Route("trial", "/trials/{nct_id}", trial,
          "One trial: its classification with the rule or synonym that matched, its arms, "
          "and links to the registry record.",
          path_parameters={"nct_id": _NCT},
          response_keys=("trial", "explain", "registry", "links")),
    Route("approvals", "/approvals", approvals,
          "Approval events (timeline), first approvals per agent and headline counts.",
          data.APPROVAL_PARAMETERS,
          response_keys=("filters", "events", "first_approvals", "headline_counts", "agencies")),
    Route("orr", "/orr", orr,
          "ORR of PD-(L)1 monotherapy arms, pooled per subgroup (forest plot).",
          data.ORR_PARAMETERS, response_keys=("filters", "by", "method", "warnings", "arms", "subgroups")),
    Route("orr_forest", "/orr/forest.{fmt}", orr_forest,
          "The ORR page's forest plot as SVG or PNG, for the same parameters.",
          data.ORR_PARAMETERS, path_parameters={"fmt": ("svg|png", "File format.", "svg")},
          json_twin=False, content_type="image/svg+xml"),
    Route("orr_csv", "/orr.csv", orr_csv,
          "The ORR page's pooled subgroups and their arms as CSV.",
          data.ORR_PARAMETERS, json_twin=False, content_type="text/csv"),
    Route("strategies", "/strategies", strategies,
          "Resistance-overcoming strategies with the number of PD-(L)1 trials testing them.",
          data.STRATEGY_PARAMETERS,
          response_keys=("filters", "note", "categories", "strategies")),
    Route("strategy", "/strategies/{strategy_id}", strategy,
          "One strategy and the PD-(L)1 trials in the store that test it.",
          path_parameters={"strategy_id": _SID},
          response_keys=("strategy", "note", "summary", "trials")),
    Route("regulators", "/regulators", regulators,
          "The regulators of the PD-1/PD-L1 axis (Figure 1) with their relations and "
          "references, the druggable ones with the PD-(L)1 trials in the store that give "
          "their agents, and the timeline (Supplementary Figure 1).",
          data.REGULATOR_PARAMETERS,
          response_keys=("filters", "regulators", "relations", "drugged", "trials_linked",
                         "timeline")),
    Route("changes", "/changes", changes,
          "The snapshots written from this store and what changed into one of them "
          "(trials added, removed and changed, approvals, ORR arms, landscape counts).",
          data.CHANGES_PARAMETERS,
          response_keys=("filters", "snapshots", "version", "version_from", "counts",
                         "changes")),
    Route("figure_file", "/figures/{figure}", figure_file,
          "Figure 1 (fig1_network) or Supplementary Figure 1 (suppfig1_timeline) as PNG or SVG.",
          path_parameters={"figure": (r"(?:fig1_network|suppfig1_timeline)\.(?:png|svg)",
                                      "Figure file name.", "fig1_network.png")},
          json_twin=False, content_type="image/png"),
    Route("runs", "/runs", runs,
          "Every run that built the store (loads, fetches, classifications, literature, "
          "snapshots), newest first, paged, filterable by kind, status and source.",
          data.RUNS_PARAMETERS,
          response_keys=("filters", "total", "page", "pages", "kinds", "runs")),
    Route("openapi", "/openapi.json", openapi, "This OpenAPI description.", json_twin=False,
          response_keys=("openapi", "info", "paths", "components")),
)
