"""Benchmark: parse → store → classify against a same-run floor (just parsing the JSON).

Reads the real API v2 study records in the shared ClinicalTrials.gov data
($ICI_ATLAS_SHARED_DATA/ctgov, default ../shared/data/ctgov), replicates them to ``--n``
studies with distinct NCT IDs (``protocolSection.identificationModule.nctId`` rewritten
to NCT9xxxxxxx, a range ClinicalTrials.gov has not issued), and writes them as API v2
pages (``{"studies": [...]}``, 1,000 studies per file, as a resumable download saves
them) in a temporary folder. Then, each stage in its own subprocess so its peak memory is
its own:

1. floor: read every file and parse it with ``orjson.loads``;
2. pipeline: ``ingest.load_files`` (parse + write raw records into a new DuckDB store)
   then ``classify_store`` (rebuild every derived table), via the library.

It prints studies/second for each, the ratio pipeline/floor (time), and peak RSS per
stage. Targets: ratio ≤ 3 and peak RSS < 2 GiB.

    .venv/bin/python bench/bench_pipeline.py --n 200000
    .venv/bin/python bench/bench_pipeline.py --quick           # 2,000 studies, a smoke run
    .venv/bin/python bench/bench_pipeline.py --n 50000 --profile prof.txt
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

TARGET_RATIO = 3.0
TARGET_RSS_BYTES = 2 * 1024**3
NCT_BASE = 90_000_000  # NCT9xxxxxxx: not issued by ClinicalTrials.gov


def shared_ctgov() -> Path:
    env = os.environ.get("ICI_ATLAS_SHARED_DATA")
    root = Path(env) if env else REPO.parent / "shared" / "data"
    return root / "ctgov"


def read_base_studies(ctgov: Path) -> list[dict]:
    """The distinct real v2 studies in the shared data (sorted by NCT ID)."""
    from ici_atlas.sources.ctgov_files import FoundRecord, read_study_files

    studies: dict[str, dict] = {}
    for item in read_study_files(ctgov):
        if isinstance(item, FoundRecord) and item.study and item.source_format == "v2-json":
            studies.setdefault(item.nct_id, item.study)
    return [studies[k] for k in sorted(studies)]


def _with_nct(study: dict, nct_id: str) -> dict:
    ps = dict(study["protocolSection"])
    ident = dict(ps["identificationModule"])
    ident["nctId"] = nct_id
    ps["identificationModule"] = ident
    out = dict(study)
    out["protocolSection"] = ps
    return out


def write_input(base: list[dict], n: int, out_dir: Path, page_size: int = 1000) -> int:
    """Write ``n`` studies (real records cycled, NCT IDs rewritten) as v2 pages; bytes."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = 0
    for start in range(0, n, page_size):
        page = [
            _with_nct(base[i % len(base)], f"NCT{NCT_BASE + i:08d}")
            for i in range(start, min(n, start + page_size))
        ]
        data = orjson.dumps({"studies": page})
        (out_dir / f"page_{start // page_size:05d}.json").write_bytes(data)
        written += len(data)
    return written


# ----------------------------------------------------------------------- stages (children)

def stage_floor(input_dir: Path) -> dict:
    t0, c0 = time.perf_counter(), time.process_time()
    n = 0
    for path in sorted(input_dir.glob("*.json")):
        n += len(orjson.loads(path.read_bytes())["studies"])
    return {"studies": n, "seconds": time.perf_counter() - t0,
            "cpu_seconds": time.process_time() - c0}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def stage_pipeline(input_dir: Path, db_path: Path, two_step: bool = False) -> dict:
    """The pipeline as `ici-atlas run --from` runs it: one pass (load, with worker processes
    classifying each committed batch), or with ``two_step`` load then classify."""
    from ici_atlas.store import db
    from ici_atlas.concepts.classify import classify_store
    from ici_atlas.store.ingest import load_files
    from ici_atlas.concepts.pipeline import default_workers, load_and_classify_files

    t0, c0 = time.perf_counter(), time.process_time() + _children_cpu()
    con = db.connect(db_path)
    if two_step:
        load_files(con, input_dir)
        t1, c1 = time.perf_counter(), time.process_time()
        classify_store(con)
        workers = 0
    else:
        load_and_classify_files(con, input_dir)
        t1, c1 = time.perf_counter(), time.process_time() + _children_cpu()
        workers = default_workers()
    t2, c2 = time.perf_counter(), time.process_time() + _children_cpu()
    stored = con.execute("SELECT count(*) FROM raw_studies").fetchone()[0]
    trials = con.execute("SELECT count(*) FROM trials").fetchone()[0]
    con.close()
    return {
        "store_bytes": db_path.stat().st_size,
        "studies": stored,
        "trials": trials,
        "seconds": t2 - t0,
        "load_seconds": t1 - t0,
        "classify_seconds": t2 - t1,
        "cpu_seconds": c2 - c0,
        "load_cpu_seconds": c1 - c0,
        "classify_cpu_seconds": c2 - c1,
        "workers": workers,
        # the largest worker process's peak RSS (forked classification workers)
        "worker_peak_rss_bytes": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024,
    }


def run_stage(args: argparse.Namespace) -> None:
    """Child-process entry: run one stage, print its result as JSON on stdout."""
    input_dir = Path(args.input)
    if args.no_gc:
        import gc

        gc.disable()
    if args.stage == "floor":
        result = stage_floor(input_dir)
    elif args.profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        result = prof.runcall(stage_pipeline, input_dir, Path(args.db), args.two_step)
        with open(args.profile, "w") as fh:
            stats = pstats.Stats(prof, stream=fh).sort_stats("cumulative")
            stats.print_stats(45)
            stats.sort_stats("tottime").print_stats(30)
    else:
        result = stage_pipeline(input_dir, Path(args.db), args.two_step)
    # ru_maxrss is in KiB on Linux; it covers this process and its threads (DuckDB).
    result["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    sys.stdout.write(json.dumps(result) + "\n")


class StageStopped(Exception):
    """A stage passed --max-rss and was stopped."""


def _vm_hwm(pid: int) -> int | None:
    """Peak resident set (VmHWM) of a running process, in bytes (Linux /proc)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _process_tree(root: int) -> list[int]:
    """``root`` and every process descended from it (Linux /proc): the stage, the
    forkserver it starts and the worker processes forked from that."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += parents.get(pid, [])
    return out


def _rss_and_cpu(pid: int) -> tuple[int, float]:
    """(resident bytes now, CPU seconds so far) of one process; (0, 0) once it is gone."""
    try:
        rss = 0
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return rss, (int(fields[11]) + int(fields[12])) / _TICKS
    except (OSError, ValueError, IndexError):
        return 0, 0.0


def spawn(stage: str, input_dir: Path, db_path: Path | None = None,
          profile: str | None = None, max_rss: int | None = None, no_gc: bool = False,
          two_step: bool = False) -> dict:
    """Run one stage in a child process; stop it if its peak RSS passes ``max_rss``
    (so a pipeline that holds everything in memory cannot exhaust a shared machine)."""
    cmd = [sys.executable, __file__, "--stage", stage, "--input", str(input_dir)]
    if db_path is not None:
        cmd += ["--db", str(db_path)]
    if profile:
        cmd += ["--profile", profile]
    if no_gc:
        cmd += ["--no-gc"]
    if two_step:
        cmd += ["--two-step"]
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
        peak = 0
        tree_peak = 0  # the largest sum of resident memory over the stage and its descendants
        cpu: dict[int, float] = {}  # CPU seconds per process of the tree, last seen
        while proc.poll() is None:
            peak = max(peak, _vm_hwm(proc.pid) or 0)
            total = 0
            for pid in _process_tree(proc.pid):
                rss, seconds = _rss_and_cpu(pid)
                total += rss
                if pid != proc.pid:
                    cpu[pid] = max(cpu.get(pid, 0.0), seconds)
            tree_peak = max(tree_peak, total)
            if max_rss and peak > max_rss:
                proc.kill()
                proc.wait()
                raise StageStopped(
                    f"stage {stage} stopped: peak RSS {_gib(peak)} passed --max-rss "
                    f"{_gib(max_rss)} after {time.perf_counter() - t0:.0f} s"
                )
            time.sleep(0.2)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            sys.stderr.write(err.read()[-5000:])
            raise SystemExit(f"stage {stage} failed (exit {proc.returncode})")
        result = json.loads(out.read().strip().splitlines()[-1])
        # measured from outside: workers started through a forkserver are not this stage's
        # children, so its own rusage does not see them
        result["tree_peak_rss_bytes"] = tree_peak
        result["descendants_cpu_seconds"] = sum(cpu.values())
        return result


def _gib(n: int) -> str:
    return f"{n / 1024**3:.2f} GiB"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=200_000, help="studies to generate (default 200,000)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 2,000 studies")
    ap.add_argument("--page-size", type=int, default=1000)
    ap.add_argument("--workdir", help="folder for the input and the store (default: a temp dir)")
    ap.add_argument("--profile", help="cProfile the pipeline stage; write the stats here")
    ap.add_argument("--json", action="store_true", help="print the results as one JSON object")
    ap.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    ap.add_argument("--max-rss", type=float, default=8.0, metavar="GIB",
                    help="stop a stage whose peak RSS passes this many GiB (default 8)")
    ap.add_argument("--no-gc", action="store_true",
                    help="experiment: run both stages with Python's cyclic GC disabled")
    ap.add_argument("--two-step", action="store_true",
                    help="load, then classify from the store (fetch --from + classify) instead "
                         "of one pass with classification workers")
    ap.add_argument("--stage", choices=["floor", "pipeline"], help=argparse.SUPPRESS)
    ap.add_argument("--input", help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.stage:
        run_stage(args)
        return 0

    n = 2000 if args.quick else args.n
    ctgov = shared_ctgov()
    if not ctgov.is_dir():
        raise SystemExit(f"shared data not found at {ctgov}; set ICI_ATLAS_SHARED_DATA")
    base = read_base_studies(ctgov)
    log = (lambda m: None) if args.json else (lambda m: print(m, file=sys.stderr, flush=True))
    log(f"{len(base):,} real v2 studies in {ctgov}; replicating to {n:,} ...")

    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        input_dir = Path(tmp) / "input"
        t0 = time.perf_counter()
        size = write_input(base, n, input_dir, args.page_size)
        log(f"wrote {size / 1024**2:,.0f} MiB of JSON in {time.perf_counter() - t0:.1f} s")
        log("stage 1/2: floor (orjson.loads of every file) ...")
        max_rss = int(args.max_rss * 1024**3)
        load_before = os.getloadavg()[0]
        floor = spawn("floor", input_dir, max_rss=max_rss, no_gc=args.no_gc)
        log("stage 2/2: pipeline (load into DuckDB, classify) ...")
        try:
            pipe = spawn("pipeline", input_dir, Path(tmp) / "bench.duckdb", args.profile,
                         max_rss, args.no_gc, args.two_step)
        except StageStopped as exc:
            stopped = {
                "studies": n, "floor_seconds": round(floor["seconds"], 2),
                "floor_cpu_seconds": round(floor["cpu_seconds"], 2),
                "floor_studies_per_s": round(n / floor["seconds"]),
                "floor_peak_rss_bytes": floor["peak_rss_bytes"], "stopped": str(exc),
                "rss_ok": False, "ratio_ok": False,
            }
            print(json.dumps(stopped) if args.json else
                  f"floor: {n / floor['seconds']:,.0f} studies/s, {floor['seconds']:.1f} s wall, "
                  f"{floor['cpu_seconds']:.1f} s CPU, peak RSS "
                  f"{_gib(floor['peak_rss_bytes'])}\n{exc} (target < 2 GiB: MISSED)")
            return 1
        load_after = os.getloadavg()[0]

    if floor["studies"] != n or pipe["studies"] != n or pipe["trials"] != n:
        raise SystemExit(f"count mismatch: generated {n}, floor {floor['studies']}, "
                         f"stored {pipe['studies']}, trials {pipe['trials']}")
    ratio = pipe["seconds"] / floor["seconds"]
    if pipe["worker_peak_rss_bytes"] == 0 and pipe.get("descendants_cpu_seconds"):
        # forkserver workers: their CPU is not in the stage's rusage; add what /proc saw
        pipe["cpu_seconds"] += pipe["descendants_cpu_seconds"]
    cpu_ratio = pipe["cpu_seconds"] / floor["cpu_seconds"]
    pipe_total_rss = max(pipe["peak_rss_bytes"] + pipe["workers"] * pipe["worker_peak_rss_bytes"],
                         pipe.get("tree_peak_rss_bytes", 0))
    peak = max(floor["peak_rss_bytes"], pipe_total_rss)
    result = {
        "studies": n,
        "base_studies": len(base),
        "input_bytes": size,
        "floor_seconds": round(floor["seconds"], 2),
        "floor_studies_per_s": round(n / floor["seconds"]),
        "floor_peak_rss_bytes": floor["peak_rss_bytes"],
        "pipeline_seconds": round(pipe["seconds"], 2),
        "load_seconds": round(pipe["load_seconds"], 2),
        "classify_seconds": round(pipe["classify_seconds"], 2),
        "pipeline_studies_per_s": round(n / pipe["seconds"]),
        "pipeline_peak_rss_bytes": pipe["peak_rss_bytes"],
        "store_bytes": pipe["store_bytes"],
        "floor_cpu_seconds": round(floor["cpu_seconds"], 2),
        "pipeline_cpu_seconds": round(pipe["cpu_seconds"], 2),
        "load_cpu_seconds": round(pipe["load_cpu_seconds"], 2),
        "classify_cpu_seconds": round(pipe["classify_cpu_seconds"], 2),
        "ratio": round(ratio, 2),
        "cpu_ratio": round(cpu_ratio, 2),
        "ratio_target": TARGET_RATIO,
        "no_gc": args.no_gc,
        "cpus": os.cpu_count(),
        "load_average": [round(load_before, 2), round(load_after, 2)],
        "rss_target_bytes": TARGET_RSS_BYTES,
        "ratio_ok": ratio <= TARGET_RATIO,
        "rss_ok": peak < TARGET_RSS_BYTES,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"studies     {n:,} ({len(base):,} real v2 records cycled; "
              f"{size / 1024**2:,.0f} MiB of JSON)")
        print(f"{'stage':<26}{'studies/s':>10}{'wall s':>9}{'CPU s':>9}{'peak RSS':>11}")
        rows = [
            ("floor (orjson.loads)", n / floor["seconds"], floor["seconds"],
             floor["cpu_seconds"], floor["peak_rss_bytes"]),
            ("pipeline (load+classify)", n / pipe["seconds"], pipe["seconds"],
             pipe["cpu_seconds"], pipe_total_rss),
        ]
        if pipe["workers"]:
            rows.append((f"  one pass, {pipe['workers']} classify worker(s)", n / pipe["seconds"],
                         pipe["seconds"], pipe["cpu_seconds"], None))
        else:
            rows += [
                ("  load (parse + store)", n / pipe["load_seconds"], pipe["load_seconds"],
                 pipe["load_cpu_seconds"], None),
                ("  classify", n / pipe["classify_seconds"], pipe["classify_seconds"],
                 pipe["classify_cpu_seconds"], None),
            ]
        for label, rate, wall, cpu, rss in rows:
            print(f"{label:<26}{rate:>10,.0f}{wall:>9.1f}{cpu:>9.1f}"
                  f"{_gib(rss) if rss else '':>11}")
        print(f"ratio pipeline/floor: {ratio:.2f} wall-clock, {cpu_ratio:.2f} CPU "
              f"(target <= {TARGET_RATIO:g}: {'met' if result['ratio_ok'] else 'MISSED'})")
        print(f"peak RSS: {_gib(peak)} (target < 2 GiB: {'met' if result['rss_ok'] else 'MISSED'})")
        print(f"store file: {pipe['store_bytes'] / 1024**2:,.0f} MiB")
        print(f"machine: {os.cpu_count()} CPUs, 1-min load average {load_before:.1f} before, "
              f"{load_after:.1f} after (wall-clock times stretch when others use the CPUs)"
              + ("; cyclic GC disabled" if args.no_gc else ""))
        if args.profile:
            print(f"profile of the pipeline stage written to {args.profile}")
    if args.check and not (result["ratio_ok"] and result["rss_ok"]):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
