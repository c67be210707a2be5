"""Shared fixtures.

Real data lives outside the repository, in ``../shared/data`` (override with
``ICI_ATLAS_SHARED_DATA``). Where it is missing, tests that need it skip with the
reason; with ``ICI_ATLAS_STRICT=1`` (set by ``.ci/run``) any skip of a test that
needs real data, R or a browser fails instead.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
STRICT = os.environ.get("ICI_ATLAS_STRICT", "") not in ("", "0", "false", "no")


def _shared_data_path() -> Path:
    env = os.environ.get("ICI_ATLAS_SHARED_DATA")
    return Path(env) if env else (REPO_ROOT.parent / "shared" / "data")


def skip_or_fail(reason: str) -> None:
    """Skip with ``reason``; under ICI_ATLAS_STRICT=1 fail instead."""
    if STRICT:
        pytest.fail(f"{reason} (ICI_ATLAS_STRICT=1 turns this skip into a failure)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path to ../shared/data (or $ICI_ATLAS_SHARED_DATA); skip/fail if absent."""
    path = _shared_data_path()
    if not path.is_dir():
        skip_or_fail(f"shared data folder {path} not found; set ICI_ATLAS_SHARED_DATA")
    return path


@pytest.fixture(scope="session")
def ctgov_data(shared_data: Path) -> Path:
    path = shared_data / "ctgov"
    if not path.is_dir():
        skip_or_fail(f"{path} not found")
    return path


@pytest.fixture(scope="session")
def registries(shared_data: Path) -> Path:
    """The other registries' records (ICTRP, EUCTR, CTIS, ISRCTN, ChiCTR) in the shared data."""
    path = shared_data / "registries"
    if not path.is_dir():
        skip_or_fail(f"{path} not found")
    return path


@pytest.fixture(scope="session")
def rscript() -> str:
    """Path to Rscript with metafor installed; skip/fail if absent."""
    exe = shutil.which("Rscript")
    if not exe:
        skip_or_fail("Rscript not found; install r-base-core r-cran-metafor r-cran-lme4")
    return exe


@pytest.fixture()
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "test.duckdb"
