"""Where things live: data directory, database path, API addresses, shared data.

Every location can be set by an environment variable; the CLI options override them.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

CTGOV_API_DEFAULT = "https://clinicaltrials.gov/api/v2"
PUBMED_API_DEFAULT = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils"
CTIS_API_DEFAULT = "https://euclinicaltrials.eu/ctis-public-api"
ISRCTN_API_DEFAULT = "https://www.isrctn.com/api"

ENV_DATA_DIR = "ICI_ATLAS_DATA_DIR"
ENV_DB = "ICI_ATLAS_DB"
ENV_CTGOV_API = "ICI_ATLAS_CTGOV_API"
ENV_PUBMED_API = "ICI_ATLAS_PUBMED_API"
ENV_CTIS_API = "ICI_ATLAS_CTIS_API"
ENV_ISRCTN_API = "ICI_ATLAS_ISRCTN_API"
ENV_SHARED_DATA = "ICI_ATLAS_SHARED_DATA"


def data_dir() -> Path:
    """The user's data directory for ici-atlas (created on demand by callers that write)."""
    env = os.environ.get(ENV_DATA_DIR)
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir("ici-atlas", appauthor=False))


def default_db_path() -> Path:
    env = os.environ.get(ENV_DB)
    if env:
        return Path(env).expanduser()
    return data_dir() / "ici-atlas.duckdb"


def ctgov_api_url(cli_value: str | None = None) -> str:
    return (cli_value or os.environ.get(ENV_CTGOV_API) or CTGOV_API_DEFAULT).rstrip("/")


def pubmed_api_url(cli_value: str | None = None) -> str:
    return (cli_value or os.environ.get(ENV_PUBMED_API) or PUBMED_API_DEFAULT).rstrip("/")


def registry_api_url(registry: str, cli_value: str | None = None) -> str:
    """The API base URL of ``ctgov``, ``ctis`` or ``isrctn`` (option, else environment,
    else the public address)."""
    env, default = {"ctgov": (ENV_CTGOV_API, CTGOV_API_DEFAULT),
                    "ctis": (ENV_CTIS_API, CTIS_API_DEFAULT),
                    "isrctn": (ENV_ISRCTN_API, ISRCTN_API_DEFAULT)}[registry]
    return (cli_value or os.environ.get(env) or default).rstrip("/")


def package_path(*parts: str) -> Path:
    """A path inside the installed package (vocabularies, curated data, templates)."""
    return Path(__file__).resolve().parent.joinpath(*parts)
