"""Benchmark: ici-atlas's screening prioritiser against ASReview's default model, one run.

Every SYNERGY labelled set in the shared data (``pubmed/asreview__synergy-dataset/<name>/
<name>_records.csv``) is screened by both engines with the same protocol and the same start
records per seed: one random included and one random excluded record
(``ici_atlas.review.simulate.start_records(labels, seed)``), both counted as screened, then the
model's top-ranked record, one decision at a time. Both screening orders are scored by the
same code (``SimulationResult``): WSS@95 = (N - n95)/N - 0.05, recall after 10% and 25% of
the records, and seconds per simulated decision (model refit + ranking; feature extraction,
done once per set, is excluded for both engines).

ASReview runs through its public Python API (``asreview.ActiveLearningCycle.from_meta``
with the ``elas_u4`` configuration, ``asreview.Simulate``), in a child process of this
script, with ``numpy.random.seed(seed)`` as its CLI does. Install it with
``.venv/bin/pip install -e '.[bench]'``, or into a separate folder
(``.venv/bin/pip install --target DIR 'asreview>=3.0,<4'``) and pass ``--asreview-path DIR``
(ASReview 3.0 pins pandas < 3; a separate folder keeps the project's own pandas). Without
it the ASReview columns say why they are missing and the comparison is skipped.

    .venv/bin/python bench/bench_screening.py [--seeds 10] [--sets Donners_2021,...]
        [--asreview-path DIR] [--json] [--check]
    .venv/bin/python bench/bench_screening.py --page 12842 [--decisions 100] [--asreview-path DIR]

``--page N`` times the screening page instead (``ici-atlas lit screen --web``): a store of N
records cycled from the SYNERGY sets (each copy's title numbered, so all are distinct), a
real server on 127.0.0.1, and ``--decisions`` decisions made with the records' true labels;
per decision the seconds from posting it to the next record's page received, printed as
p50 / p95 / max beside ASReview ELAS u4's retrain + ranking time at the same N and number of
labelled records, measured in the same run (ratio printed).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics as st
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ici_atlas.review.simulate import (  # noqa: E402
    SimulationResult,
    load_labelled_csv,
    simulate_screening,
    start_records,
)

ENGINES = ("ici-atlas", "ASReview ELAS u4")
METRICS = ("wss95", "recall_at_10pct", "recall_at_25pct", "seconds_per_decision")
MAX_WSS_DEFICIT = 0.02  # no set may be more than this much worse than ELAS u4 (WSS@95, recall@10%)


def find_sets(shared: Path) -> list[Path]:
    base = shared / "pubmed" / "asreview__synergy-dataset"
    return sorted(p for p in base.glob("*/*_records.csv") if p.name == f"{p.parent.name}_records.csv")


def score(labels: list[int], order: list[int], seconds_per_decision: float | None) -> dict:
    y = np.asarray(labels)
    result = SimulationResult(len(y), int(y.sum()), order, np.cumsum(y[order]).tolist())
    return {"wss95": result.wss(0.95), "recall_at_10pct": result.recall_at(0.10),
            "recall_at_25pct": result.recall_at(0.25), "seconds_per_decision": seconds_per_decision}


def run_ici_atlas(path: Path, seeds: list[int]) -> list[dict]:
    records, labels = load_labelled_csv(path)
    runs = []
    for seed in seeds:
        result = simulate_screening(records, labels, seed=seed, start=start_records(labels, seed))
        runs.append({"seed": seed, "start": result.order[:result.n_start],
                     **score(labels, result.order, result.seconds_per_decision)})
    return runs


def asreview_worker(path: Path, seeds: list[int]) -> None:
    """Child process: ELAS u4 on one set, one JSON line per seed on stdout."""
    import pandas as pd

    import asreview
    from asreview.models.models import get_ai_config

    records, labels = load_labelled_csv(path)
    y = np.asarray(labels)
    frame = pd.DataFrame({"title": [r.title for r in records], "abstract": [r.abstract for r in records]})
    config = get_ai_config("elas_u4")
    for seed in seeds:
        np.random.seed(seed)  # as `asreview simulate --seed` does
        cycle = asreview.ActiveLearningCycle.from_meta(config["value"])
        features = cycle.transform(frame)  # once per run, outside the timed loop (as for ici-atlas)
        sim = asreview.Simulate(features, y, [cycle], stopper=None, skip_transform=True, print_progress=False)
        start = start_records(labels, seed)
        sim.label(start)
        tick = time.perf_counter()
        sim.review()  # default stopper: until the last included record is found
        seconds = time.perf_counter() - tick
        results = sim._results  # the labelled records in screening order (as in ASReview's docs)
        order = [int(i) for i in results["record_id"]]
        decisions = len(order) - len(start)
        seen = set(order)
        order += [i for i in range(len(y)) if i not in seen]  # the rest cannot change any metric
        print(json.dumps({"seed": seed, "start": start, "asreview": asreview.__version__,
                          **score(labels, order, seconds / decisions if decisions else None)}), flush=True)


def run_asreview(path: Path, seeds: list[int], asreview_path: str | None) -> tuple[list[dict], str | None]:
    """ELAS u4 runs, or ([], why they are missing)."""
    env = dict(os.environ)
    if asreview_path:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [asreview_path, env.get("PYTHONPATH")]))
    cmd = [sys.executable, __file__, "--asreview-worker", str(path), "--seeds", str(len(seeds)),
           "--first-seed", str(seeds[0])]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        if "No module named 'asreview'" in proc.stderr:
            last = ("asreview is not installed (`.venv/bin/pip install -e '.[bench]'`, "
                    "or install it into a folder and pass --asreview-path)")
        return [], last
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")], None


def summarise(runs: list[dict]) -> dict:
    out = {}
    for m in METRICS:
        values = [r[m] for r in runs if r[m] is not None]
        out[m] = st.mean(values) if values else None
    out["wss95_min"] = min(r["wss95"] for r in runs)
    out["wss95_max"] = max(r["wss95"] for r in runs)
    return out


def cycled_records(paths: list[Path], n_records: int):
    """``n_records`` records cycled from the SYNERGY sets (a copy number added to each
    title, so every record is distinct), with their true labels."""
    records, labels = [], []
    for p in paths:
        r, y = load_labelled_csv(p)
        records += r
        labels += y
    out = []
    for i in range(n_records):
        r = records[i % len(records)]
        copy = i // len(records)
        out.append((f"{r.title} [copy {copy}]" if copy else r.title, r.abstract, labels[i % len(records)]))
    return out


def time_page(paths: list[Path], n_records: int, decisions: int) -> dict:
    """The screening page at ``n_records`` records: seconds from posting a decision to the
    next record's page received (POST /decide, then GET / as the browser does), over
    ``decisions`` decisions made with the records' true labels, on a real server."""
    import tempfile
    import threading

    import httpx

    from ici_atlas.review.library import load_imported
    from ici_atlas.review.session import ScreeningSession
    from ici_atlas.sources.bibfiles import ImportedRecord
    from ici_atlas.store import db
    from ici_atlas.store.runs import finish_run, start_run
    from ici_atlas.web.screening_app import make_screening_server

    rows = cycled_records(paths, n_records)
    name = f"bench_{n_records}.csv"
    label = {f"import:{name}#{i + 1}": y for i, (_, _, y) in enumerate(rows)}
    with tempfile.TemporaryDirectory() as tmp:
        con = db.connect(Path(tmp) / "screen.duckdb")
        run_id = start_run(con, "lit-import", name, None, {"format": "csv"})
        load_imported(con, [ImportedRecord(name, i + 1, "csv", t, a) for i, (t, a, _) in enumerate(rows)], run_id)
        finish_run(con, run_id, "ok", None)
        tick = time.perf_counter()
        session = ScreeningSession(con, "bench")
        open_seconds = time.perf_counter() - tick
        server, app, url = make_screening_server(session, port=0)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        times, refits = [], []
        try:
            with httpx.Client(base_url=url, timeout=60) as client:
                record = session.view().record.record_id
                for _ in range(decisions):
                    tick = time.perf_counter()
                    answer = client.post("/decide", data={"token": app.token, "record_id": record,
                                                          "decision": "include" if label[record] else "exclude"})
                    page = client.get(answer.headers["location"])
                    times.append(time.perf_counter() - tick)
                    found = page.text.split('name="record_id" value="', 1)
                    if len(found) < 2:
                        break
                    record = found[1].split('"', 1)[0]
                tick = time.perf_counter()
                session._refit()
                refits.append(time.perf_counter() - tick)
        finally:
            server.close()
            thread.join(timeout=10)
            con.close()
    times.sort()
    return {"records": n_records, "decisions": len(times), "open_seconds": open_seconds,
            "p50": times[len(times) // 2], "p95": times[min(len(times) - 1, int(0.95 * len(times)))],
            "max": times[-1], "refit_seconds": refits[0]}


def asreview_retrain_worker(paths: list[Path], n_records: int, labelled: int, repeats: int) -> None:
    """Child process: ELAS u4's retrain + ranking at ``n_records`` records with ``labelled``
    of them labelled (the same records and labels as :func:`time_page`), one JSON line."""
    import pandas as pd

    import asreview
    from asreview.models.models import get_ai_config

    rows = cycled_records(paths, n_records)
    frame = pd.DataFrame({"title": [t for t, _, _ in rows], "abstract": [a for _, a, _ in rows]})
    y = np.asarray([v for _, _, v in rows])
    np.random.seed(0)
    cycle = asreview.ActiveLearningCycle.from_meta(get_ai_config("elas_u4")["value"])
    features = cycle.transform(frame)
    chosen = np.random.default_rng(0).choice(n_records, labelled, replace=False)
    chosen = np.concatenate([np.flatnonzero(y == 1)[:1], np.flatnonzero(y == 0)[:1], chosen])
    times = []
    for _ in range(repeats):
        tick = time.perf_counter()
        cycle.fit(features[chosen], y[chosen])
        cycle.rank(features)
        times.append(time.perf_counter() - tick)
    print(json.dumps({"records": n_records, "labelled": int(len(chosen)), "seconds": st.median(times),
                      "asreview": asreview.__version__}), flush=True)


def run_asreview_retrain(shared: str, sets: str | None, n_records: int, labelled: int,
                         asreview_path: str | None) -> tuple[dict | None, str | None]:
    env = dict(os.environ)
    if asreview_path:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [asreview_path, env.get("PYTHONPATH")]))
    cmd = [sys.executable, __file__, "--shared-data", shared, "--asreview-retrain-worker", str(n_records),
           "--retrain-labelled", str(labelled)] + (["--sets", sets] if sets else [])
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        return None, (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return json.loads(proc.stdout.strip().splitlines()[-1]), None


def fmt(x, digits=3) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default = os.environ.get("ICI_ATLAS_SHARED_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser.add_argument("--shared-data", default=default)
    parser.add_argument("--seeds", type=int, default=10, help="Seeds per set (default 10).")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--sets", help="Comma-separated set names (default: every SYNERGY set found).")
    parser.add_argument("--asreview-path", help="Folder holding asreview (pip install --target).")
    parser.add_argument("--json", action="store_true", help="Print one JSON object.")
    parser.add_argument("--check", action="store_true", help="Exit 1 when ici-atlas does not beat ELAS u4.")
    parser.add_argument("--page", type=int, metavar="N",
                        help="Only time the screening page at N records (decision -> next record "
                             "shown), beside ELAS u4's retrain + ranking at N records.")
    parser.add_argument("--decisions", type=int, default=100, help="--page: decisions timed (default 100).")
    parser.add_argument("--asreview-worker", metavar="CSV", help=argparse.SUPPRESS)
    parser.add_argument("--asreview-retrain-worker", type=int, metavar="N", help=argparse.SUPPRESS)
    parser.add_argument("--retrain-labelled", type=int, default=100, help=argparse.SUPPRESS)
    args = parser.parse_args()
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    if args.asreview_worker:
        asreview_worker(Path(args.asreview_worker), seeds)
        return

    paths = find_sets(Path(args.shared_data))
    if args.sets:
        wanted = set(args.sets.split(","))
        paths = [p for p in paths if p.parent.name in wanted]
    if not paths:
        sys.exit(f"no SYNERGY sets found under {args.shared_data}/pubmed/asreview__synergy-dataset")
    if args.asreview_retrain_worker:
        asreview_retrain_worker(paths, args.asreview_retrain_worker, args.retrain_labelled, 5)
        return
    if args.page:
        page = time_page(paths, args.page, args.decisions)
        asr, why = run_asreview_retrain(args.shared_data, args.sets, args.page, page["decisions"],
                                        args.asreview_path)
        page["asreview_retrain_seconds"] = asr["seconds"] if asr else None
        page["asreview_missing"] = why
        page["ratio_p95_to_asreview_retrain"] = page["p95"] / asr["seconds"] if asr else None
        if args.json:
            print(json.dumps(page, indent=2))
        else:
            print(f"Screening page at {page['records']:,} records: session opened in {page['open_seconds']:.1f} s "
                  f"(features once); decision -> next record shown over {page['decisions']} decisions: "
                  f"p50 {page['p50']:.3f} s, p95 {page['p95']:.3f} s, max {page['max']:.3f} s "
                  f"(target p95 <= 1 s); of which refit + ranking {page['refit_seconds']:.3f} s.")
            if asr:
                print(f"ASReview {asr['asreview']} ELAS u4 retrain + ranking at the same size "
                      f"({asr['labelled']} labelled): {asr['seconds']:.3f} s; ratio page p95 / ASReview "
                      f"retrain = {page['ratio_p95_to_asreview_retrain']:.2f}.")
            else:
                print(f"ASReview column MISSING: {why}")
        if args.check and page["p95"] > 1.0:
            sys.exit(1)
        return

    report: dict = {"seeds": seeds, "sets": {}, "asreview_missing": None}
    for path in paths:
        _, labels = load_labelled_csv(path)
        ici = run_ici_atlas(path, seeds)
        asr, why = run_asreview(path, seeds, args.asreview_path)
        if why:
            report["asreview_missing"] = why
        if asr:
            assert [r["start"] for r in asr] == [r["start"] for r in ici], "engines started differently"
        report["sets"][path.parent.name] = {
            "records": len(labels), "included": sum(labels),
            "ici-atlas": {"summary": summarise(ici), "runs": ici},
            "ASReview ELAS u4": {"summary": summarise(asr), "runs": asr} if asr else None,
            "asreview_version": asr[0]["asreview"] if asr else None,
        }
        print(f"{path.parent.name}: done", file=sys.stderr, flush=True)

    sets = report["sets"]
    have_asr = all(s["ASReview ELAS u4"] for s in sets.values())
    report["mean"] = {e: {m: st.mean(s[e]["summary"][m] for s in sets.values())
                          for m in METRICS if all(s[e]["summary"][m] is not None for s in sets.values())}
                      for e in ENGINES if e == "ici-atlas" or have_asr}
    verdict = None
    if have_asr:
        ici_mean, asr_mean = report["mean"]["ici-atlas"], report["mean"]["ASReview ELAS u4"]
        def differences(metric: str) -> dict:
            return {n: s["ici-atlas"]["summary"][metric] - s["ASReview ELAS u4"]["summary"][metric]
                    for n, s in sets.items()}

        deficits, recall_deficits = differences("wss95"), differences("recall_at_10pct")
        verdict = {
            "mean_wss95_higher": ici_mean["wss95"] > asr_mean["wss95"],
            "mean_recall_at_10pct_higher": ici_mean["recall_at_10pct"] > asr_mean["recall_at_10pct"],
            "no_set_wss95_worse_by_more_than_0.02": min(deficits.values()) >= -MAX_WSS_DEFICIT,
            "no_set_recall_at_10pct_worse_by_more_than_0.02":
                min(recall_deficits.values()) >= -MAX_WSS_DEFICIT,
            "wss95_difference_by_set": deficits,
            "recall_at_10pct_difference_by_set": recall_deficits,
        }
    report["verdict"] = verdict

    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"Seeds {seeds[0]}..{seeds[-1]} ({len(seeds)}); start: 1 random included + 1 random excluded "
              f"record per seed, the same for both engines, counted as screened.")
        if not have_asr:
            print(f"ASReview ELAS u4 column MISSING: {report['asreview_missing']}")
        print("| set | records | included | engine | WSS@95 mean (min-max) | recall@10% | recall@25% | s/decision |")
        print("|---|---|---|---|---|---|---|---|")
        for name, s in sets.items():
            for engine in ENGINES:
                if not s[engine]:
                    print(f"| {name} | {s['records']} | {s['included']} | {engine} | missing | | | |")
                    continue
                m = s[engine]["summary"]
                print(f"| {name} | {s['records']} | {s['included']} | {engine} | {fmt(m['wss95'])} "
                      f"({fmt(m['wss95_min'])}-{fmt(m['wss95_max'])}) | {fmt(m['recall_at_10pct'])} | "
                      f"{fmt(m['recall_at_25pct'])} | {fmt(m['seconds_per_decision'], 4)} |")
        for engine, m in report["mean"].items():
            print(f"| mean of {len(sets)} sets | | | {engine} | {fmt(m.get('wss95'))} | "
                  f"{fmt(m.get('recall_at_10pct'))} | {fmt(m.get('recall_at_25pct'))} | "
                  f"{fmt(m.get('seconds_per_decision'), 4)} |")
        if verdict:
            print("ici-atlas vs ELAS u4: " + "; ".join(f"{k}: {v}" for k, v in verdict.items()
                                                         if not k.endswith("_by_set")))
            print("WSS@95 difference by set: " + ", ".join(f"{k} {v:+.3f}" for k, v in deficits.items()))
            print("recall@10% difference by set: "
                  + ", ".join(f"{k} {v:+.3f}" for k, v in recall_deficits.items()))
    if args.check and not (verdict and verdict["mean_wss95_higher"] and verdict["mean_recall_at_10pct_higher"]
                           and verdict["no_set_wss95_worse_by_more_than_0.02"]
                           and verdict["no_set_recall_at_10pct_worse_by_more_than_0.02"]):
        sys.exit(1)


if __name__ == "__main__":
    main()
