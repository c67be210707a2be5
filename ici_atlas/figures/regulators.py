"""Figure 1 (the PD-1/PD-L1 regulatory network) and Supplementary Figure 1 (the timeline),
drawn from the curated data (:mod:`ici_atlas.analyses.regulators`,
:mod:`ici_atlas.analyses.timeline`); nothing is placed by hand.

The network is layered: the tumour cell (PD-L1's regulators) on the left, the T cell (PD-1's)
on the right, one row per level from genomic alterations down to the PD-1/PD-L1 synapse.
Only verified relations are drawn; the caption says how many unverified ones were left out.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Sequence

from matplotlib.figure import Figure

from . import PALETTE, new_figure

#: Rows of the layered network, top to bottom.
ROWS = ("genomic", "epigenetic", "transcriptional", "signalling", "post-translational",
        "proximal signalling", "ligand-receptor")
LEVEL_COLOURS = dict(zip(ROWS, ("#CC79A7", "#E69F00", "#56B4E9", "#009E73", "#D55E00",
                                "#0072B2", "#000000")))
RAISING = frozenset({"raises expression", "stabilises", "activates",
                     "palmitoylates (stabilises)", "glycosylates (stabilises)"})
LOWERING = frozenset({"lowers expression", "degrades", "inhibits"})
EFFECT_COLOURS = {"raises": "#009E73", "lowers": "#D55E00", "other": "#777777"}
#: Labels where neither the id nor the gene symbol reads well.
LABELS = {"PD1": "PD-1", "PDL1": "PD-L1", "G9P24": "9p24.1 gain", "G3UTR": "CD274 3'UTR loss",
          "NGLYC": "N-glycosylation", "NFKB": "NF-κB", "AP1": "AP-1", "TGFB": "TGF-β",
          "IFNGR": "IFNγR", "HIF1A": "HIF-1α"}
#: Where the two axis proteins sit, so the synapse is in the middle.
ANCHORS = {"PDL1": (0.43, 0.04), "PD1": (0.57, 0.04), "MHC": (0.33, 0.04), "TCR": (0.67, 0.04)}


def _side(node: dict, edges: Sequence[dict]) -> str:
    """tumour or T cell: a node of both cells goes where most of its relations are."""
    if node["cell"] != "both":
        return node["cell"]
    votes = [e["cell"] for e in edges if node["node_id"] in (e["source"], e["target"])]
    return "T cell" if votes.count("T cell") > votes.count("tumour") else "tumour"


def layout(nodes: Sequence[dict], edges: Sequence[dict]) -> dict[str, tuple[float, float]]:
    """Node id -> (x, y) in [0, 1]²: panel by cell, row by level, even spacing in a row."""
    rows: dict[tuple[str, str], list[str]] = defaultdict(list)
    pos: dict[str, tuple[float, float]] = {}
    for n in sorted(nodes, key=lambda n: n["node_id"]):
        if n["node_id"] in ANCHORS:
            pos[n["node_id"]] = ANCHORS[n["node_id"]]
            continue
        rows[(_side(n, edges), n["level"])].append(n["node_id"])
    for (side, level), ids in rows.items():
        lo, hi = (0.02, 0.44) if side == "tumour" else (0.56, 0.98)
        y = 0.96 - ROWS.index(level) * (0.88 / (len(ROWS) - 1))
        step = (hi - lo) / len(ids)
        for i, node_id in enumerate(ids):
            pos[node_id] = (lo + step * (i + 0.5), y - 0.035 * (i % 2))
    return pos


def _effect_colour(effect: str) -> str:
    if effect in RAISING:
        return EFFECT_COLOURS["raises"]
    if effect in LOWERING:
        return EFFECT_COLOURS["lowers"]
    return EFFECT_COLOURS["other"]


def plot_network(nodes: Sequence[dict], edges: Sequence[dict]) -> Figure:
    """Figure 1: verified relations between the regulators, by cell and level."""
    drawn = [e for e in edges if e["verified"]]
    pos = layout(nodes, edges)
    fig = new_figure(13.0, 9.0)
    ax = fig.add_axes([0.0, 0.06, 1.0, 0.9])
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.02, 1.0)
    ax.axis("off")
    ax.axvline(0.5, color="#BBBBBB", lw=1, ls=(0, (4, 4)))
    ax.text(0.23, 0.995, "Tumour cell (regulation of PD-L1)", ha="center", va="top",
            fontsize=11, weight="bold")
    ax.text(0.77, 0.995, "T cell (regulation of PD-1)", ha="center", va="top",
            fontsize=11, weight="bold")
    for i, level in enumerate(ROWS):
        y = 0.96 - i * (0.88 / (len(ROWS) - 1))
        ax.text(0.5, y + 0.012, level, ha="center", va="bottom", fontsize=7, color="#666666",
                style="italic")
    for e in drawn:
        (x0, y0), (x1, y1) = pos[e["source"]], pos[e["target"]]
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                    arrowprops={"arrowstyle": "-|>" if e["effect"] not in LOWERING else "-[",
                                "color": _effect_colour(e["effect"]), "lw": 0.9,
                                "alpha": 0.75, "shrinkA": 11, "shrinkB": 11,
                                "connectionstyle": "arc3,rad=0.12"})
    by_id = {n["node_id"]: n for n in nodes}
    for node_id, (x, y) in pos.items():
        n = by_id[node_id]
        label = LABELS.get(node_id) or (
            n["node_id"] if not n["symbol"] or ";" in n["symbol"] else n["symbol"])
        ax.text(x, y, label, ha="center", va="center", fontsize=7.5,
                color="white" if n["level"] in ("ligand-receptor", "proximal signalling") else "black",
                bbox={"boxstyle": "round,pad=0.25", "fc": LEVEL_COLOURS[n["level"]],
                      "ec": "#333333" if n["druggable"] else "none", "lw": 1.2,
                      "alpha": 0.9})
    left_out = len(edges) - len(drawn)
    fig.text(0.01, 0.035,
             f"{len(drawn)} verified relations drawn (green: raises, stabilises or activates; "
             f"orange: lowers, degrades or inhibits; grey: binds or transmits). {left_out} "
             "unverified relations are not drawn (`ici-atlas regulators --edges --unverified`). "
             "Outlined boxes: druggable regulators.", fontsize=7.5)
    fig.text(0.01, 0.012, "Data: ici-atlas regulator_nodes.tsv and regulator_edges.tsv (every "
             "relation with its PMID/DOI), after the review's Figure 1.", fontsize=7.5,
             color="#555555")
    return fig


KIND_COLOURS = dict(zip(("discovery", "preclinical", "clinical", "approval", "award"),
                        (PALETTE[0], PALETTE[2], PALETTE[1], PALETTE[5], PALETTE[3])))


def plot_timeline(events: Sequence[dict]) -> Figure:
    """Supplementary Figure 1: dated events, one row each, oldest at the top."""
    n = len(events)
    fig = new_figure(10.0, max(3.0, 0.22 * n + 1.2))
    ax = fig.add_axes([0.08, 0.06, 0.5, 0.9])
    years = [e["year"] for e in events]
    lo, hi = min(years) - 1, max(years) + 1
    for i, e in enumerate(events):
        when = _decimal_year(e["date"])
        colour = KIND_COLOURS[e["kind"]]
        ax.plot([lo, when], [i, i], color="#DDDDDD", lw=0.8, zorder=1)
        ax.scatter([when], [i], s=22, color=colour, zorder=2,
                   marker="o" if e["verified"] else "x")
        text = f"{e['date']}  {e['event']}"
        ax.text(hi + 0.3, i, text if len(text) < 110 else text[:107] + "...", va="center",
                fontsize=7, clip_on=False)
    ax.set_ylim(n - 0.5, -0.5)
    ax.set_xlim(lo, hi)
    ax.set_yticks([])
    ax.spines["left"].set_visible(False)
    ax.set_xlabel("year")
    handles = [ax.scatter([], [], color=c, s=22, label=k) for k, c in KIND_COLOURS.items()]
    ax.legend(handles=handles, loc="lower left", fontsize=7, frameon=False)
    fig.text(0.01, 0.01, "Curated milestones (timeline_events.tsv, each with its PMID/DOI or "
             "the awarding body's page; x = not verified) and each agent's first approval "
             "from the approvals table.", fontsize=7, color="#555555")
    return fig


def _decimal_year(text: str) -> float:
    parts = [int(p) for p in text.split("-")]
    year = parts[0]
    if len(parts) == 1:
        return year + 0.5
    day = parts[2] if len(parts) > 2 else 15
    return year + (date(year, parts[1], day).timetuple().tm_yday - 1) / 366
