"""The one schema of the ici-atlas store and its numbered migrations.

Nothing else in the package creates tables. Three kinds of tables:

- **core and literature tables** (``CORE``, ``LITERATURE``): created when a store is first
  opened for writing, upgraded in place by :data:`MIGRATIONS`;
- **derived tables** (``DERIVED``: the trial tables of ``ici-atlas classify``) and the
  **registry ORR tables** (``REGISTRY_ORR``: ``ici-atlas orr-extract``): rebuilt from the raw
  records by the run that owns them, which asks this module for their definition
  (:func:`create_tables`); a store that has never been classified has none of them.

The version is the ``schema_version`` row of ``meta``. A writable connection upgrades an
older store in one transaction per step (:func:`migrate`); a read-only connection never
writes and refuses an older store with the command that upgrades it.
"""

from __future__ import annotations

from typing import Callable

import duckdb

SCHEMA_VERSION = "6"

CORE = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT
);
CREATE SEQUENCE IF NOT EXISTS run_id_seq START 1;
CREATE TABLE IF NOT EXISTS runs (
    run_id          BIGINT PRIMARY KEY,
    kind            TEXT NOT NULL,      -- fetch | load | classify | lit-search ...
    source          TEXT NOT NULL,      -- API base URL or local path
    query           TEXT,               -- the exact query text sent (or NULL for local files)
    params          JSON,               -- every other parameter, as JSON
    reported_total  BIGINT,             -- what the source said it had
    stored_total    BIGINT,             -- what this run stored (distinct records)
    new_records     BIGINT,
    updated_records BIGINT,
    unchanged_records BIGINT,
    quarantined     BIGINT,
    status          TEXT NOT NULL,      -- running | ok | incomplete | failed | interrupted
    message         TEXT,
    started_at      TIMESTAMP NOT NULL,
    finished_at     TIMESTAMP,
    tool_version    TEXT NOT NULL,
    resumed_from    BIGINT,             -- run_id of the interrupted run this one continued
    query_key       TEXT,               -- hash of the query without its update window
    resume_key      TEXT                -- hash of everything that must match to resume
);
CREATE TABLE IF NOT EXISTS raw_studies (
    nct_id             TEXT PRIMARY KEY,
    json_zstd          BLOB NOT NULL,   -- the study JSON (API v2 shape), Zstandard-compressed:
                                        -- study_json(json_zstd) gives the text (raw_json.py)
    content_hash       TEXT NOT NULL,   -- sha256 of the canonical JSON, to detect changes
    source             TEXT NOT NULL,
    source_format      TEXT NOT NULL,   -- v2-json | v1-json | ctgov-xml
    last_update_posted DATE,
    downloaded_at      TIMESTAMP NOT NULL,
    run_id             BIGINT,
    original           TEXT,            -- the record as found, when converted to v2 (v1 JSON, XML)
    has_results        BOOLEAN NOT NULL -- the record has a resultsSection (posted results)
);
CREATE TABLE IF NOT EXISTS quarantine (
    run_id         BIGINT,
    source         TEXT NOT NULL,
    record_ref     TEXT NOT NULL,       -- NCT ID, file name or page/position: where to find it
    field          TEXT,                -- the field that was missing or malformed
    reason         TEXT NOT NULL,
    raw            TEXT,                -- the record as received (may be truncated text)
    quarantined_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS record_warnings (  -- a kept record with a field read one safe way
    run_id         BIGINT,
    record_ref     TEXT NOT NULL,       -- NCT ID
    field          TEXT NOT NULL,
    reason         TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS nct_aliases (  -- an earlier NCT ID the registry lists for a record
    alias          TEXT PRIMARY KEY,    -- identificationModule.nctIdAliases[*]
    nct_id         TEXT NOT NULL        -- the record's own (canonical) NCT ID
);
CREATE TABLE IF NOT EXISTS registrations (  -- a registration in a registry other than ClinicalTrials.gov
    display_id        TEXT PRIMARY KEY,  -- the register's ID as shown: ChiCTR2400084905, EUCTR2012-003632-23 ...
    registry          TEXT NOT NULL,     -- CHICTR, EUCTR, CTIS, ISRCTN, JPRN ... (CTGOV for rows of ICTRP exports)
    trial_id          TEXT NOT NULL,     -- the register's own ID, normalised
    title             TEXT,
    registration_date TEXT,              -- ISO, as precise as the register gives it
    model_json        JSON NOT NULL,     -- the fields read (ici_atlas.sources.registries.model)
    study_zstd        BLOB NOT NULL,     -- the same as a ClinicalTrials.gov v2 study (for the classifiers)
    raw_zstd          BLOB,              -- the record as found
    content_hash      TEXT NOT NULL,
    source            TEXT,
    source_format     TEXT,              -- ictrp-csv, ictrp-xml, euctr-text, ctis-json, isrctn-json, chictr-html ...
    ref               TEXT,              -- file (and item) it was read from
    run_id            BIGINT,
    loaded_at         TIMESTAMP
);
CREATE TABLE IF NOT EXISTS snapshots (    -- a release written by ici-atlas snapshot / update
    version        TEXT PRIMARY KEY,    -- YY.MINOR: year of the search, then a counter
    data_hash      TEXT NOT NULL,       -- sha256 over the exported tables (same data, same hash)
    created_at     TIMESTAMP NOT NULL,
    path           TEXT,                -- where it was written (local; never shared)
    tool_version   TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS snapshot_changes (  -- what changed between two snapshots (ici-atlas update)
    version_from   TEXT NOT NULL,
    version_to     TEXT NOT NULL,
    section        TEXT NOT NULL,       -- added | removed | changed | approvals | orr_arms | counts
    item           TEXT NOT NULL,       -- NCT ID, approval event, ORR arm or landscape count
    field          TEXT,
    before         TEXT,                -- JSON
    after          TEXT                 -- JSON
);
CREATE TABLE IF NOT EXISTS run_chunks (   -- one query chunk of a fetch run
    run_id          BIGINT NOT NULL,
    chunk_index     INTEGER NOT NULL,
    query           TEXT NOT NULL,       -- query.intr of this chunk
    params          JSON,                -- the other request parameters of this chunk
    reported_total  BIGINT,              -- totalCount the API gave for this chunk
    received        BIGINT,              -- distinct NCT IDs received for this chunk
    quarantined     BIGINT,              -- records of this chunk sent to quarantine
    pages_studies   BIGINT,              -- studies received over all pages (with repeats)
    status          TEXT NOT NULL,       -- running | done
    PRIMARY KEY (run_id, chunk_index)
);
CREATE TABLE IF NOT EXISTS run_pages (    -- one completed page (committed with its studies)
    run_id          BIGINT NOT NULL,
    chunk_index     INTEGER NOT NULL,
    page_index      INTEGER NOT NULL,
    page_token      TEXT,                -- token sent (NULL for the first page)
    next_page_token TEXT,                -- token received (NULL on the last page)
    n_studies       INTEGER NOT NULL,
    fetched_at      TIMESTAMP NOT NULL,
    PRIMARY KEY (run_id, chunk_index, page_index)
);
CREATE TABLE IF NOT EXISTS run_records (  -- which records a run received (and from which chunk)
    run_id          BIGINT NOT NULL,
    chunk_index     INTEGER NOT NULL,
    nct_id          TEXT NOT NULL,
    PRIMARY KEY (run_id, chunk_index, nct_id)
);
"""

LITERATURE = """
CREATE TABLE IF NOT EXISTS pubmed_records (
    pmid              TEXT PRIMARY KEY,
    title             TEXT,
    abstract          TEXT,
    authors           JSON,
    journal           TEXT,
    year              INTEGER,
    doi               TEXT,
    publication_types JSON,
    mesh_headings     JSON,
    keywords          JSON,
    nct_ids           JSON,
    record            JSON NOT NULL,   -- every parsed field
    xml               TEXT,            -- the PubmedArticle as received
    source            TEXT NOT NULL,
    downloaded_at     TIMESTAMP NOT NULL,
    run_id            BIGINT
);
CREATE TABLE IF NOT EXISTS lit_search_hits (
    run_id BIGINT NOT NULL,
    pmid   TEXT NOT NULL,
    PRIMARY KEY (run_id, pmid)
);
CREATE TABLE IF NOT EXISTS pubmed_trial_links (
    pmid   TEXT NOT NULL,
    nct_id TEXT NOT NULL,
    PRIMARY KEY (pmid, nct_id)
);
CREATE TABLE IF NOT EXISTS lit_imported (
    record_id         TEXT PRIMARY KEY,
    source_file       TEXT NOT NULL,
    format            TEXT NOT NULL,
    pmid              TEXT,
    doi               TEXT,
    title             TEXT NOT NULL,
    abstract          TEXT,
    year              INTEGER,
    authors           JSON,
    journal           TEXT,
    publication_types JSON,
    keywords          JSON,
    nct_ids           JSON,
    imported_at       TIMESTAMP NOT NULL,
    run_id            BIGINT
);
CREATE TABLE IF NOT EXISTS lit_duplicates (
    record_id    TEXT PRIMARY KEY,
    canonical_id TEXT NOT NULL,
    rule         TEXT NOT NULL      -- pmid | doi | title+year
);
CREATE SEQUENCE IF NOT EXISTS lit_decision_seq START 1;
CREATE TABLE IF NOT EXISTS lit_decisions (
    seq        BIGINT PRIMARY KEY,
    record_id  TEXT NOT NULL,
    stage      TEXT NOT NULL,
    decision   TEXT NOT NULL,
    reason     TEXT,
    reviewer   TEXT NOT NULL,      -- a person's name, or rule:<name> for automation
    decided_at TIMESTAMP NOT NULL
);
"""

LITERATURE_TABLES = ("pubmed_records", "lit_search_hits", "pubmed_trial_links", "lit_imported",
                     "lit_duplicates", "lit_decisions")

#: Derived trial tables (``ici-atlas classify``): table -> column definitions. Multi-valued
#: concepts are typed lists (``VARCHAR[]``, empty when there is none); their long tables
#: (``trial_agents`` ...) hold the evidence of each value (matched term, field, rule).
DERIVED: dict[str, str] = {
    "trials": """
        nct_id VARCHAR PRIMARY KEY, brief_title VARCHAR, official_title VARCHAR, acronym VARCHAR,
        overall_status VARCHAR, study_type VARCHAR, phases VARCHAR, phase_label VARCHAR NOT NULL,
        start_date DATE, start_year INTEGER, first_posted DATE, last_update_posted DATE,
        lead_sponsor VARCHAR, sponsor_class VARCHAR, enrollment BIGINT, has_results BOOLEAN,
        is_pd1_pdl1 BOOLEAN NOT NULL, agents VARCHAR[] NOT NULL, target_class VARCHAR[] NOT NULL,
        bispecific BOOLEAN NOT NULL, bispecific_other_target VARCHAR[] NOT NULL,
        monotherapy_arm BOOLEAN NOT NULL, partner_classes VARCHAR[] NOT NULL,
        cancer_groups VARCHAR[] NOT NULL, oncotree_codes VARCHAR[] NOT NULL,
        line_of_therapy VARCHAR, setting VARCHAR, countries VARCHAR[] NOT NULL,
        pd1_rule VARCHAR, line_rule VARCHAR, setting_rule VARCHAR, exposure VARCHAR,
        registry VARCHAR NOT NULL DEFAULT 'CTGOV', trial_key VARCHAR, link_basis VARCHAR,
        representative BOOLEAN NOT NULL DEFAULT TRUE""",
    "trial_agents": """
        nct_id VARCHAR NOT NULL, agent_id VARCHAR NOT NULL, target_class VARCHAR NOT NULL,
        bispecific BOOLEAN NOT NULL, other_target VARCHAR, intervention_name VARCHAR,
        matched_term VARCHAR NOT NULL, matched_field VARCHAR NOT NULL""",
    "trial_arms": """
        nct_id VARCHAR NOT NULL, arm_label VARCHAR, arm_type VARCHAR, pd1_agents VARCHAR[] NOT NULL,
        partner_classes VARCHAR[] NOT NULL, other_drugs VARCHAR[] NOT NULL,
        is_pd1_monotherapy BOOLEAN NOT NULL""",
    "trial_partners": """
        nct_id VARCHAR NOT NULL, arm_label VARCHAR, intervention_name VARCHAR, partner_drug VARCHAR,
        partner_class VARCHAR NOT NULL, matched_term VARCHAR, rule VARCHAR NOT NULL""",
    "trial_cancers": """
        nct_id VARCHAR NOT NULL, cancer_group VARCHAR NOT NULL, oncotree_code VARCHAR,
        matched_text VARCHAR, rule VARCHAR NOT NULL""",
    "trial_countries": "nct_id VARCHAR NOT NULL, country VARCHAR NOT NULL",
}
DERIVED_TABLES = tuple(DERIVED)

#: The list-typed columns of the derived tables (``;``-joined text before schema 3).
LIST_COLUMNS: dict[str, tuple[str, ...]] = {
    "trials": ("agents", "target_class", "bispecific_other_target", "partner_classes",
               "cancer_groups", "oncotree_codes", "countries"),
    "trial_arms": ("pd1_agents", "partner_classes", "other_drugs"),
}

#: ORR read from posted registry results (``ici-atlas orr-extract``).
REGISTRY_ORR: dict[str, str] = {
    "orr_extracted": """
        nct_id VARCHAR, outcome_index INTEGER, outcome_type VARCHAR, outcome_title VARCHAR,
        rule VARCHAR, matched_text VARCHAR, time_frame VARCHAR, population VARCHAR,
        param_type VARCHAR, unit VARCHAR, group_id VARCHAR, group_title VARCHAR,
        group_description VARCHAR, subgroup VARCHAR, n INTEGER, responders INTEGER,
        responders_source VARCHAR, orr_percent DOUBLE, ci_level DOUBLE, ci_lower DOUBLE,
        ci_upper DOUBLE, arm_label VARCHAR, arm_match VARCHAR, arm_match_confidence VARCHAR,
        is_pd1_monotherapy BOOLEAN, results_from VARCHAR, preferred BOOLEAN, note VARCHAR,
        run_id BIGINT""",
    "orr_extract_problems": "nct_id VARCHAR, field VARCHAR, reason VARCHAR, run_id BIGINT",
}


def column_types(table: str) -> list[tuple[str, str]]:
    """``[(column, type), ...]`` of a derived or registry-ORR table, in order."""
    spec = {**DERIVED, **REGISTRY_ORR}[table]
    out = []
    for part in spec.split(","):
        words = part.split()
        if words:
            out.append((words[0], words[1]))
    return out


def create_tables(con: duckdb.DuckDBPyConnection, tables: dict[str, str]) -> None:
    """Drop and create the given rebuildable tables (derived or registry ORR)."""
    for table, columns in tables.items():
        con.execute(f"DROP TABLE IF EXISTS {table}")
        con.execute(f"CREATE TABLE {table} ({columns})")


def table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return tables_present(con, (name,)) == {name}


def tables_present(con: duckdb.DuckDBPyConnection, names) -> set[str]:
    """Which of ``names`` exist (one catalogue query)."""
    rows = con.execute("SELECT table_name FROM duckdb_tables() WHERE list_contains(?, table_name)",
                       [list(names)]).fetchall()
    return {r[0] for r in rows}


def stored_version(con: duckdb.DuckDBPyConnection) -> str | None:
    """The store's schema version, or None for a database without ici-atlas's ``meta``."""
    if not table_exists(con, "meta"):
        return None
    row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return row[0] if row else None


# ------------------------------------------------------------------------------ migrations

def _v1_to_v2(con: duckdb.DuckDBPyConnection) -> None:
    """Schema 1 -> 2: ``raw_studies.json`` (text) becomes ``json_zstd`` (Zstandard BLOB)
    plus ``has_results``, batch by batch."""
    import orjson

    from .raw_json import pack_json

    columns = ("content_hash", "source", "source_format", "last_update_posted",
               "downloaded_at", "run_id", "original")
    con.execute("ALTER TABLE raw_studies RENAME TO raw_studies_v1")
    con.execute(CORE)
    all_ids = [r[0] for r in con.execute("SELECT nct_id FROM raw_studies_v1").fetchall()]
    for start in range(0, len(all_ids), 2_000):
        batch = con.execute(
            "SELECT nct_id, json FROM raw_studies_v1 WHERE nct_id IN "
            "(SELECT unnest(?::VARCHAR[]))", [all_ids[start:start + 2_000]]).fetchall()
        ids = [nct for nct, _ in batch]
        packed, results = [], []
        for _, text in batch:
            data = text.encode("utf-8")
            packed.append(pack_json(data))
            try:
                results.append(isinstance(study := orjson.loads(data), dict)
                               and "resultsSection" in study)
            except orjson.JSONDecodeError:
                results.append(False)
        con.execute(
            f"INSERT INTO raw_studies (nct_id, json_zstd, has_results, {', '.join(columns)}) "
            f"SELECT u.nct_id, u.json_zstd, u.has_results, {', '.join('v.' + c for c in columns)} "
            "FROM (SELECT unnest(?::VARCHAR[]) AS nct_id, unnest(?::BLOB[]) AS json_zstd, "
            "unnest(?::BOOLEAN[]) AS has_results) u JOIN raw_studies_v1 v USING (nct_id)",
            [ids, packed, results])
    con.execute("DROP TABLE raw_studies_v1")


def _v2_to_v3(con: duckdb.DuckDBPyConnection) -> None:
    """Schema 2 -> 3: the literature tables join the one schema (created here instead of on
    first use), the multi-valued columns of the derived tables become typed lists,
    ``trials`` gains ``exposure`` (filled by the next ``ici-atlas classify``)."""
    con.execute(CORE)
    con.execute(LITERATURE)
    if table_exists(con, "trials"):
        con.execute("ALTER TABLE trials ADD COLUMN IF NOT EXISTS exposure VARCHAR")
    for table, columns in LIST_COLUMNS.items():
        if not table_exists(con, table):
            continue
        types = dict(con.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ?",
            [table]).fetchall())
        for column in columns:
            if types.get(column) == "VARCHAR":
                con.execute(
                    f"ALTER TABLE {table} ALTER {column} SET DATA TYPE VARCHAR[] USING "
                    f"coalesce(list_filter(string_split({column}, ';'), lambda x: x <> ''), [])")


def _v3_to_v4(con: duckdb.DuckDBPyConnection) -> None:
    """Schema 3 -> 4: ``record_warnings`` (kept records with a field read one safe way) and
    ``nct_aliases`` (earlier NCT IDs of stored records, filled from them here)."""
    import orjson

    from ..sources.ctgov_files import study_aliases
    from .raw_json import unpack_json

    con.execute(CORE)
    ids = [r[0] for r in con.execute("SELECT nct_id FROM raw_studies").fetchall()]
    for start in range(0, len(ids), 2_000):
        rows = con.execute(
            "SELECT nct_id, json_zstd FROM raw_studies WHERE nct_id IN "
            "(SELECT unnest(?::VARCHAR[]))", [ids[start:start + 2_000]]).fetchall()
        pairs = [(alias, nct) for nct, packed in rows
                 for alias in study_aliases(orjson.loads(unpack_json(packed)), nct)]
        if pairs:
            con.executemany("INSERT OR REPLACE INTO nct_aliases VALUES (?, ?)", pairs)


def _v4_to_v5(con: duckdb.DuckDBPyConnection) -> None:
    """Schema 4 -> 5: ``snapshots`` and ``snapshot_changes`` (releases and what changed)."""
    con.execute(CORE)


def _v5_to_v6(con: duckdb.DuckDBPyConnection) -> None:
    """Schema 5 -> 6: ``registrations`` (other registries), and ``trials`` learns which
    registry a row comes from and which trial it belongs to (``trial_key``; one
    ``representative`` row per trial in the de-duplicated union). A ClinicalTrials.gov-only
    store keeps its meaning: every row its own trial."""
    con.execute(CORE)
    if table_exists(con, "trials"):
        con.execute("ALTER TABLE trials ADD COLUMN IF NOT EXISTS registry VARCHAR DEFAULT 'CTGOV'")
        con.execute("ALTER TABLE trials ADD COLUMN IF NOT EXISTS trial_key VARCHAR")
        con.execute("ALTER TABLE trials ADD COLUMN IF NOT EXISTS link_basis VARCHAR")
        con.execute("ALTER TABLE trials ADD COLUMN IF NOT EXISTS representative BOOLEAN "
                    "DEFAULT TRUE")
        con.execute("UPDATE trials SET trial_key = nct_id WHERE trial_key IS NULL")


#: version reached -> the step from the version before it. Each runs in one transaction.
MIGRATIONS: dict[int, Callable[[duckdb.DuckDBPyConnection], None]] = {
    2: _v1_to_v2,
    3: _v2_to_v3,
    4: _v3_to_v4,
    5: _v4_to_v5,
    6: _v5_to_v6,
}


def migrate(con: duckdb.DuckDBPyConnection, version: str) -> list[int]:
    """Upgrade a store at ``version`` to :data:`SCHEMA_VERSION`, one numbered step at a time
    (each in its own transaction); returns the steps run."""
    done = []
    current = int(version)
    while current < int(SCHEMA_VERSION):
        step = MIGRATIONS[current + 1]
        con.execute("BEGIN TRANSACTION")
        try:
            step(con)
            con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
                        [str(current + 1)])
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
        current += 1
        done.append(current)
    return done


def initialise(con: duckdb.DuckDBPyConnection) -> None:
    """Create the core and literature tables of a new store and record its version."""
    con.execute(CORE)
    con.execute(LITERATURE)
    con.execute("INSERT INTO meta VALUES ('schema_version', ?)", [SCHEMA_VERSION])
