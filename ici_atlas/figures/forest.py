"""A forest plot of pooled proportions, for any table pooled with :func:`ici_atlas.pool`."""

from __future__ import annotations

import math

import pandas as pd

from . import new_figure


def _ok(x) -> bool:
    return x is not None and not (isinstance(x, float) and math.isnan(x)) and x is not pd.NA


def plot_forest(studies: pd.DataFrame, pooled: pd.DataFrame, title: str | None = None,
                xlabel: str = "Proportion (%)"):
    """Studies (``label, group, events, total, proportion, ci_lb, ci_ub``) as squares with
    their exact intervals, grouped by ``group``; each pooled row (``group, k, estimate,
    ci_lb, ci_ub, pi_lb, pi_ub, I2``) as a diamond under its studies, the overall last."""
    entries: list[tuple[str, str, dict]] = []  # (kind, label, values)
    groups = [g for g in pooled["group"].tolist() if g != "overall"]
    for g in groups or [None]:
        rows = studies if g is None else studies[studies["group"] == g]
        if g is not None:
            entries.append(("header", str(g), {}))
        for r in rows.itertuples(index=False):
            entries.append(("study", f"{r.label}  {r.events}/{r.total}", r._asdict()))
        if g is not None:
            p = pooled[pooled["group"] == g].iloc[0].to_dict()
            entries.append(("pooled", _pooled_label(p, f"{g}"), p))
    overall = pooled[pooled["group"] == "overall"]
    if len(overall):  # subgroups pooled separately (e.g. the dashboard's ORR page) have none
        row = overall.iloc[0].to_dict()
        entries.append(("pooled", _pooled_label(row, "Overall"), row))
    n = len(entries)
    fig = new_figure(7.5, max(2.4, 0.3 * n + 1.0))
    ax = fig.add_subplot(1, 1, 1)
    ticks = []
    for i, (kind, label, v) in enumerate(entries):
        y = n - i
        if kind == "header":
            ticks.append((y, label))
            continue
        if kind == "study":
            ax.plot([100 * v["ci_lb"], 100 * v["ci_ub"]], [y, y], color="#444444", lw=1)
            ax.scatter(100 * v["proportion"], y, marker="s",
                       s=12 + 60 * math.sqrt(v["total"] / max(studies["total"].max(), 1)),
                       color="#2b6cb0", zorder=3)
        else:
            est, lo, hi = v.get("estimate"), v.get("ci_lb"), v.get("ci_ub")
            if _ok(est) and _ok(lo) and _ok(hi):
                ax.fill([100 * lo, 100 * est, 100 * hi, 100 * est], [y, y + 0.3, y, y - 0.3],
                        color="#222222", zorder=3)
            if _ok(v.get("pi_lb")) and _ok(v.get("pi_ub")):
                ax.plot([100 * v["pi_lb"], 100 * v["pi_ub"]], [y, y], color="#222222", lw=1,
                        ls=":")
        ticks.append((y, label))
    ax.set_yticks([y for y, _ in ticks])
    ax.set_yticklabels([t for _, t in ticks], fontsize=8)
    ax.set_ylim(0.3, n + 0.7)
    ax.set_xlim(0, 100)
    ax.set_xlabel(f"{xlabel}  —  squares: studies (exact CI); diamonds: pooled CI; dotted: PI",
                  fontsize=8)
    if title:
        ax.set_title(title, loc="left", fontsize=10)
    fig.tight_layout()
    return fig


def _pooled_label(p: dict, name: str) -> str:
    est, lo, hi = p.get("estimate"), p.get("ci_lb"), p.get("ci_ub")
    i2 = p.get("I2")
    het = f", I²={i2:.0f}%" if _ok(i2) else ""
    value = (f"{100 * est:.1f}% [{100 * lo:.1f}, {100 * hi:.1f}]"
             if _ok(est) and _ok(lo) and _ok(hi) else "NA")
    return f"{name} (k={int(p['k'])}{het})  {value}"
