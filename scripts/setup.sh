# Sourced by scripts/main.sh and scripts/test.sh: idempotent set-up steps.

PYTHON="${PYTHON:-python3}"

setup_python() {  # setup_python [extra]
    local extra="${1:-}"
    if [ ! -x .venv/bin/python ]; then
        "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "ici-atlas needs Python 3.11+")'
        "$PYTHON" -m venv .venv
    fi
    local stamp=".venv/.installed-${extra:-base}"
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
        .venv/bin/python -m pip install --quiet --upgrade pip >&2
        if [ -n "$extra" ]; then
            .venv/bin/python -m pip install --quiet -e ".[$extra]" >&2
        else
            .venv/bin/python -m pip install --quiet -e . >&2
        fi
        touch "$stamp"
    fi
}

setup_system_packages() {
    # R with metafor/lme4 for the statistical reference checks; Chromium for browser tests.
    local need=()
    command -v Rscript >/dev/null 2>&1 && Rscript -e 'library(metafor); library(lme4); library(jsonlite)' >/dev/null 2>&1 \
        || need+=(r-base-core r-cran-metafor r-cran-lme4 r-cran-jsonlite)
    command -v chromium >/dev/null 2>&1 || need+=(chromium)
    command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
    if [ ${#need[@]} -gt 0 ]; then
        if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
            echo "Installing system packages: ${need[*]}" >&2
            apt-get update -qq >&2
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
        else
            echo "Note: missing system packages (${need[*]}); install them with apt to run every check." >&2
        fi
    fi
}
