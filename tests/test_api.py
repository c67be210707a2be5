"""The library's contract: ``Atlas`` and ``pool`` return typed DataFrames; every CLI table is
the API's frame for the same query; the documented walkthrough runs; new users' mistakes
give one-line errors."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from ici_atlas import Atlas, pool
from ici_atlas.cli import cli
from ici_atlas.errors import InputError, StoreError
from ici_atlas.tables import records

ROOT = Path(__file__).resolve().parents[1]


def run(*args, input=None):
    return CliRunner().invoke(cli, [str(a) for a in args], input=input)


@pytest.fixture(scope="module")
def atlas(tmp_path_factory, request) -> Atlas:
    ctgov = request.getfixturevalue("ctgov_data")
    a = Atlas(tmp_path_factory.mktemp("api") / "atlas.duckdb")
    a.load(ctgov)
    return a


# ------------------------------------------------------------------------- the contract

def test_public_names():
    import ici_atlas

    assert {"Atlas", "pool"} <= set(ici_atlas.__all__)
    assert ici_atlas.Atlas is Atlas and ici_atlas.pool is pool


def test_trials_have_real_dtypes(atlas):
    df = atlas.trials()
    assert len(df) == atlas.landscape_total() > 0
    assert str(df["is_pd1_pdl1"].dtype) == "boolean" and str(df["bispecific"].dtype) == "boolean"
    assert str(df["enrollment"].dtype) == "Int64" and str(df["start_year"].dtype) == "Int64"
    assert str(df["nct_id"].dtype) == "string"
    assert pd.api.types.is_datetime64_any_dtype(df["start_date"])
    for column in ("agents", "cancer_groups", "partner_classes", "countries", "target_class"):
        assert all(isinstance(v, list) for v in df[column]), column
    every = atlas.trials(scope="all")
    assert len(every) > len(df)


def test_filters_accept_brands_codes_and_any_case(atlas):
    by_inn = atlas.trials(agent="pembrolizumab")
    assert len(by_inn) > 0
    for name in ("Keytruda", "MK-3475", "PEMBROLIZUMAB"):
        assert list(atlas.trials(agent=name)["nct_id"]) == list(by_inn["nct_id"])
    assert len(atlas.trials(cancer="nsclc")) == len(atlas.trials(cancer="NSCLC")) > 0


def test_landscape_kinds_and_totals(atlas):
    for kind in ("phases", "cancers", "partners", "bispecifics", "years", "sponsors", "countries"):
        df = atlas.landscape(kind)
        assert isinstance(df, pd.DataFrame) and len(df) > 0, kind
        assert str(df["trials"].dtype) == "Int64", kind
    assert atlas.landscape("phases")["trials"].sum() == atlas.landscape_total()
    assert str(atlas.landscape("phases")["percent"].dtype) == "float64"


def test_orr_frame_has_float_estimates_and_list_of_trials(atlas):
    df = atlas.orr()
    for column in ("orr", "ci_lb", "ci_ub", "pi_lb", "pi_ub", "i2", "tau2"):
        assert str(df[column].dtype) == "float64", column
    assert ((df["ci_lb"] <= df["orr"]) & (df["orr"] <= df["ci_ub"])).all()
    assert all(isinstance(t, list) and t for t in df["trials"])


def test_pool_on_any_frame_matches_the_engine():
    from ici_atlas.meta import pool_proportions

    data = pd.DataFrame({"r": [12, 30, 8, 19], "n": [40, 100, 35, 52]})
    res = pool(data, events="r", total="n", test="knha")
    ref = pool_proportions([12, 30, 8, 19], [40, 100, 35, 52], test="knha")
    frame = res.to_frame()
    assert list(frame["group"]) == ["overall"]
    assert frame.loc[0, "estimate"] == pytest.approx(ref.estimate)
    assert frame.loc[0, "ci_lb"] == pytest.approx(ref.ci_lb)
    assert "Random-Effects Model (k = 4; tau^2 estimator: REML)" in res.summary()
    fig = res.forest()
    assert fig.axes and len(fig.axes[0].get_yticklabels()) == 5  # four studies + pooled


def test_one_study_subgroup_has_no_nan_and_no_warning():
    data = pd.DataFrame({"r": [12, 30, 8], "n": [40, 100, 35], "g": ["a", "a", "b"]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a numpy RuntimeWarning would fail the test
        res = pool(data, events="r", total="n", by="g", test="knha")
        text = res.summary()
    assert "nan" not in text.lower() and "Single study (k = 1): 8/35" in text
    row = res.to_frame().set_index("group").loc["b"]
    assert math.isnan(row["Q"]) and math.isnan(row["I2"])  # missing, not 0
    lo, hi = row["ci_lb"], row["ci_ub"]
    assert lo < 8 / 35 < hi  # the exact interval of the one study


# ------------------------------------------------------------------------- CLI = API

PARITY = [
    (("landscape", "phases"), lambda a: a.landscape("phases")),
    (("landscape", "cancers", "--class", "PD-1", "--top", "8"),
     lambda a: a.landscape("cancers", target_class="PD-1", top=8)),
    (("landscape", "partners", "--targets-only"), lambda a: a.landscape("partners", targets_only=True)),
    (("landscape", "bispecifics"), lambda a: a.landscape("bispecifics")[
        ["agent", "target_class", "other_target", "trials", "highest_phase", "approved",
         "first_approval", "status"]]),
    (("landscape", "years", "--agent", "Keytruda"), lambda a: a.landscape("years", agent="pembrolizumab")),
    (("landscape", "sponsors", "--by", "name", "--top", "5"),
     lambda a: a.landscape("sponsors", by="name", top=5)),
    (("landscape", "countries", "--top", "10", "--tumor", "nsclc"),
     lambda a: a.landscape("countries", top=10, cancer="NSCLC")),
    (("export", "trials", "--pd1-only", "--all-columns"), lambda a: a.trials()),
    (("runs",), lambda a: a.runs()),
    (("quarantine",), lambda a: a.quarantine()),
    (("approvals",), lambda a: a.approval_events()),
    (("approvals", "--agent", "Opdivo", "--agency", "fda"),
     lambda a: a.approval_events(agent="nivolumab", agency="FDA")),
    (("approvals", "--agents"), lambda a: a.approvals()[
        ["agent", "target", "first_agency", "first_approval_date", "first_indication", "n_events",
         "n_cancer_groups", "first_verified"]]),
    (("approvals", "--summary"), lambda a: a.approval_summary()),
    (("orr",), lambda a: a.orr()),
    (("orr", "--cancer", "NSCLC", "--by", "line", "--method", "DL", "--test", "z"),
     lambda a: a.orr(cancer="NSCLC", by="line", method="DL", test="z")),
    (("orr", "--arms", "--cancer", "melanoma"), lambda a: a.orr_arms(cancer="melanoma")),
    (("strategies",), lambda a: a.strategies()),
]


@pytest.mark.parametrize("args, api", PARITY, ids=[" ".join(a) for a, _ in PARITY])
def test_cli_table_equals_api_frame(atlas, args, api):
    res = CliRunner().invoke(cli, [*args, "--db", str(atlas.path), "--format", "json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == json.loads(json.dumps(records(api(atlas)), default=str))


def test_pool_cli_equals_pool_api(tmp_path):
    path = tmp_path / "arms.csv"
    pd.DataFrame({"r": [12, 30, 8, 19], "n": [40, 100, 35, 52], "g": list("aabb")}).to_csv(path, index=False)
    res = run("pool", "--csv", path, "--events", "r", "--total", "n", "--by", "g", "--format", "json")
    assert res.exit_code == 0, res.output
    api = pool(path, events="r", total="n", by="g").to_frame()
    assert json.loads(res.stdout) == json.loads(json.dumps(records(api)))


@pytest.mark.parametrize("fmt", ["csv", "tsv", "json", "parquet", "xlsx"])
def test_every_format_writes_the_same_table(atlas, tmp_path, fmt):
    out = tmp_path / f"phases.{fmt}"
    res = run("landscape", "phases", "--db", atlas.path, "--format", fmt, "-o", out)
    assert res.exit_code == 0, res.output
    expected = atlas.landscape("phases")
    if fmt == "parquet":
        got = pd.read_parquet(out) if _has_pyarrow() else _duck(out)
    elif fmt == "xlsx":
        got = pd.read_excel(out, keep_default_na=False)
    elif fmt == "json":
        got = pd.DataFrame(json.loads(out.read_text()))
    else:
        got = pd.read_csv(out, sep="," if fmt == "csv" else "\t", keep_default_na=False)
    assert list(got.columns) == list(expected.columns)
    assert list(got["trials"]) == list(expected["trials"])
    assert list(got["phase"]) == list(expected["phase"])


def _has_pyarrow() -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def _duck(path: Path) -> pd.DataFrame:
    import duckdb

    return duckdb.connect().execute(f"SELECT * FROM '{path}'").df()


def test_deprecated_flags_still_work_with_a_note(atlas):
    res = run("landscape", "phases", "--db", atlas.path, "--csv")
    assert res.exit_code == 0 and res.stdout.startswith("phase,trials,percent")
    assert "deprecated" in res.stderr and "--format csv" in res.stderr


def test_every_store_command_accepts_db(atlas):
    for args in (("approvals", "--summary"), ("orr",), ("strategies",), ("runs",),
                 ("landscape", "phases"), ("export", "trials")):
        res = run(*args, "--db", atlas.path)
        assert res.exit_code == 0, (args, res.output)


# ------------------------------------------------------------------------- new users' mistakes

def _one_line_error(res, needle: str) -> None:
    assert res.exit_code != 0
    assert "Traceback" not in res.output
    err = [line for line in res.stderr.splitlines() if line.strip()]
    assert err[0].startswith("Error: ") and needle in err[0], res.stderr
    assert err[1].startswith("Fix: ")


@pytest.mark.parametrize("content, needle", [
    (b"\x00\x01\x02binary\xff\xfe" * 40, "is a binary file"),
    (b"PAR1\x00\x00garbage", "not a readable Parquet file"),
    (b"r,n\n\xff\xfe\xfd,3\n", "is not UTF-8 text"),
])
def test_pool_with_a_wrong_file_is_one_line(tmp_path, content, needle):
    path = tmp_path / "data.bin"
    path.write_bytes(content)
    _one_line_error(run("pool", "--csv", path, "--events", "r", "--total", "n"), needle)


def test_pool_reads_utf16_parquet_and_xlsx(tmp_path):
    data = pd.DataFrame({"r": [12, 30, 8], "n": [40, 100, 35]})
    expected = pool(data, events="r", total="n").estimate
    utf16 = tmp_path / "utf16.csv"
    utf16.write_text(data.to_csv(index=False), encoding="utf-16")
    xlsx = tmp_path / "data.xlsx"
    data.to_excel(xlsx, index=False)
    parquet = tmp_path / "data.parquet"
    from ici_atlas.tables import write_table

    write_table(data, "parquet", parquet)
    for path in (utf16, xlsx, parquet):
        assert pool(path, events="r", total="n").estimate == pytest.approx(expected), path


def test_pool_counts_too_large_are_an_input_error():
    with pytest.raises(InputError, match="too large"):
        pool(pd.DataFrame({"r": [10**21, 3], "n": [10**22, 9]}), events="r", total="n")


def test_db_that_is_not_a_store_says_so(tmp_path):
    readme = ROOT / "README.md"
    for args in (("runs",), ("landscape", "phases"), ("fetch", "--from", tmp_path)):
        res = run(*args, "--db", readme)
        _one_line_error(res, "not a DuckDB database")
        assert "close other" not in res.stderr.lower()


def test_did_you_mean(atlas):
    _one_line_error(run("landscape", "phases", "--db", atlas.path, "--agent", "keytrda"),
                    "did you mean 'Keytruda'?")
    _one_line_error(run("strategies", "show", "cxcr4-antagonst"), "did you mean 'cxcr4-antagonist'?")
    res = run("fech")
    assert res.exit_code == 2 and "Did you mean 'fetch'?" in res.output
    res = run("landscape", "phase")
    assert res.exit_code == 2 and "Did you mean 'phases'?" in res.output
    res = run("pool", "--csv", ROOT / "README.md", "--events", "a", "--total", "b", "--test", "knah")
    assert res.exit_code == 2 and "did you mean 'knha'?" in res.output
    _one_line_error(run("orr", "--cancer", "melanom"), "did you mean 'melanoma'?")


def test_unreachable_host_fails_fast_with_one_line(tmp_path):
    import time

    start = time.monotonic()
    res = run("fetch", "--db", tmp_path / "x.duckdb", "--api-url",
              "http://no-such-host.invalid/api/v2", "--count")
    assert time.monotonic() - start < 15
    _one_line_error(res, "cannot resolve the host")


def test_hints_name_only_options_that_exist():
    """Every `--option` a fix message of the HTTP layer suggests exists on the commands
    that reach the network."""
    from ici_atlas.sources import http

    suggested = set(re.findall(r"--[a-z][a-z-]+", Path(http.__file__).read_text()))
    for command in (("fetch",), ("lit", "search")):
        text = run(*command, "--help").output
        for option in suggested:
            assert option in text, (command, option)


def test_export_csv_neutralises_formulas_and_trial_text_strips_escapes(atlas, tmp_path):
    from ici_atlas.tables import frame, render_text

    text = render_text(frame([{"title": "=HYPERLINK(\"x\")", "n": -3}]), "csv")
    assert text.splitlines()[1] == "\"'=HYPERLINK(\"\"x\"\")\",-3"
    from ici_atlas.cli.classify import _render_trial

    trial = atlas.trial(atlas.trials().loc[0, "nct_id"])
    trial["brief_title"] = "Evil \x1b[31mred\x1b[0m title"
    assert "\x1b" not in _render_trial(trial)


# ------------------------------------------------------------------------- docs run as written

def _blocks(language: str) -> list[str]:
    text = (ROOT / "docs" / "python-api.md").read_text()
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def test_python_api_walkthrough_runs_end_to_end(shared_data, monkeypatch):
    monkeypatch.setenv("ICI_ATLAS_SHARED_DATA", str(shared_data))
    namespace: dict = {}
    for block in _blocks("python"):
        exec(compile(block, "docs/python-api.md", "exec"), namespace)  # noqa: S102
    assert namespace["res"].to_frame().loc[0, "k"] == 5
    assert Path(namespace["out"].index).is_file()


def test_r_example_gives_the_same_pool_as_the_api(atlas, tmp_path, rscript):
    """The documented R route (export, base R, metafor) reproduces the API's numbers; the
    duckdb-package example is checked to parse, and run where that package is installed."""
    res = run("export", "orr-arms", "--format", "csv", "-o", tmp_path / "orr_arms.csv")
    assert res.exit_code == 0, res.output
    duck, csv_route = _blocks("r")
    (tmp_path / "csv.R").write_text(csv_route)
    (tmp_path / "duck.R").write_text(duck)
    out = subprocess.run([rscript, "csv.R"], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    k, est, lo, hi = out.stdout.split()
    api = atlas.orr(cancer="NSCLC", line="later", by="none").iloc[0]
    assert int(k) == api["k"]
    assert float(est) == pytest.approx(api["orr"], abs=1e-6)
    assert float(lo) == pytest.approx(api["ci_lb"], abs=1e-6)
    assert float(hi) == pytest.approx(api["ci_ub"], abs=1e-6)
    parsed = subprocess.run([rscript, "-e", "invisible(parse(file = 'duck.R'))"], cwd=tmp_path,
                            capture_output=True, text=True)
    assert parsed.returncode == 0, parsed.stderr
    has_duckdb = subprocess.run([rscript, "-e", "quit(status = !requireNamespace('duckdb', quietly = TRUE))"],
                                capture_output=True).returncode == 0
    if has_duckdb:
        import shutil

        shutil.copy(atlas.path, tmp_path / "atlas.duckdb")
        ran = subprocess.run([rscript, "duck.R"], cwd=tmp_path, capture_output=True, text=True)
        assert ran.returncode == 0, ran.stderr


def test_cli_closes_the_store(atlas):
    """After any command the store can be opened for writing by someone else."""
    run("landscape", "phases", "--db", atlas.path)
    run("orr", "--db", atlas.path)
    from ici_atlas.store.db import open_store

    with open_store(atlas.path) as con:
        assert con.execute("SELECT count(*) FROM trials").fetchone()[0] > 0


def test_store_error_for_a_missing_store(tmp_path):
    with pytest.raises(StoreError, match="No ici-atlas database"):
        Atlas(tmp_path / "nope.duckdb").trials()


def test_importing_the_package_stays_light():
    code = "import sys, ici_atlas; print('pandas' in sys.modules, 'duckdb' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.split() == ["False", "False"]
