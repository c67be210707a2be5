"""The pipeline benchmark script runs end to end (``--quick``: 2,000 replicated studies)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.shared_data


def test_bench_pipeline_quick(ctgov_data, tmp_path):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_pipeline.py"), "--quick", "--json",
         "--workdir", str(tmp_path)],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "ICI_ATLAS_SHARED_DATA": str(ctgov_data.parent)},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["studies"] == 2000
    # The script itself checks stored == trials == n; here the measurements must be sane.
    assert result["base_studies"] > 1000  # PROVENANCE.md: 2,112 v2 JSON records
    assert result["floor_seconds"] > 0 and result["pipeline_seconds"] > 0
    assert result["pipeline_seconds"] >= result["load_seconds"] > 0
    assert 0 < result["floor_peak_rss_bytes"] < 8 * 1024**3
    assert result["ratio"] == pytest.approx(
        result["pipeline_seconds"] / result["floor_seconds"], rel=0.05
    )
    assert isinstance(result["ratio_ok"], bool) and isinstance(result["rss_ok"], bool)
    assert not any(tmp_path.iterdir()), "the temporary input and store must be removed"
