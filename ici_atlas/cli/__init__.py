"""The ``ici-atlas`` command: a thin skin over the library.

Each area registers its commands in its own module (``ici_atlas/cli/<area>.py``,
exposing ``register(group)``); this module only assembles them and turns library
errors into one-line messages with a fix and a non-zero exit.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from .. import __version__
from ..errors import IciAtlasError
from .common import SuggestingGroup

# Top-level command -> the module whose ``register(group)`` adds it. Modules are imported
# only when one of their commands is used, so `ici-atlas fetch` does not pay for
# matplotlib, scipy or scikit-learn.
_COMMANDS: dict[str, str] = {
    "approvals": "ici_atlas.cli.approvals",
    "classify": "ici_atlas.cli.classify",
    "export": "ici_atlas.cli.export",
    "diff": "ici_atlas.cli.living",
    "fetch": "ici_atlas.cli.fetch",
    "figures": "ici_atlas.cli.figures",
    "landscape": "ici_atlas.cli.landscape",
    "lit": "ici_atlas.cli.lit",
    "orr": "ici_atlas.cli.efficacy",
    "orr-compare": "ici_atlas.cli.orr_extract",
    "orr-extract": "ici_atlas.cli.orr_extract",
    "pool": "ici_atlas.cli.pool",
    "quarantine": "ici_atlas.cli.fetch",
    "refs": "ici_atlas.cli.strategies",
    "regulators": "ici_atlas.cli.regulators",
    "report": "ici_atlas.cli.report",
    "run": "ici_atlas.cli.report",
    "runs": "ici_atlas.cli.fetch",
    "serve": "ici_atlas.cli.serve",
    "snapshot": "ici_atlas.cli.living",
    "strategies": "ici_atlas.cli.strategies",
    "timeline": "ici_atlas.cli.regulators",
    "trial": "ici_atlas.cli.classify",
    "update": "ici_atlas.cli.living",
    "warnings": "ici_atlas.cli.fetch",
}

# Groups whose subcommands come from several modules (``@export_group.command`` ...).
_GROUP_PROVIDERS: dict[str, tuple[str, ...]] = {
    "export": (
        "ici_atlas.cli.approvals", "ici_atlas.cli.classify", "ici_atlas.cli.efficacy",
        "ici_atlas.cli.landscape", "ici_atlas.cli.orr_extract", "ici_atlas.cli.regulators",
    ),
    "figures": (
        "ici_atlas.cli.approvals", "ici_atlas.cli.efficacy", "ici_atlas.cli.landscape",
        "ici_atlas.cli.strategies", "ici_atlas.cli.regulators",
    ),
}


class _Group(SuggestingGroup):
    """Click group that loads commands on demand and reports IciAtlasError as one line +
    fix, with an exit code per kind of error."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(_COMMANDS))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands and name in _COMMANDS:
            importlib.import_module(_COMMANDS[name]).register(self)
            for provider in _GROUP_PROVIDERS.get(name, ()):
                importlib.import_module(provider).register(self)
        return self.commands.get(name)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except IciAtlasError as exc:
            click.echo(f"Error: {exc.message}", err=True)
            if exc.fix:
                click.echo(f"Fix: {exc.fix}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("Interrupted. Run the same command again to resume.", err=True)
            ctx.exit(130)
        except BrokenPipeError:
            # the reader of stdout went away (`ici-atlas ... | head`): stop quietly
            _silence_stdout()
            ctx.exit(141)
        except (OSError, MemoryError) as exc:
            if os.environ.get(ENV_DEBUG):
                raise
            message, fix = describe_system_error(exc)
            click.echo(f"Error: {message}", err=True)
            click.echo(f"Fix: {fix}", err=True)
            ctx.exit(5)
        except Exception as exc:  # duckdb.Error is not importable without loading DuckDB
            if os.environ.get(ENV_DEBUG) or type(exc).__module__.split(".")[0] != "duckdb":
                raise
            click.echo(f"Error: the store failed: {type(exc).__name__}: "
                       f"{str(exc).splitlines()[0][:300]}", err=True)
            click.echo("Fix: check free disk space and memory (ICI_ATLAS_MEMORY_LIMIT); if the "
                       "file is damaged, rebuild it with `ici-atlas fetch` into a new --db. "
                       f"Set {ENV_DEBUG}=1 to see the traceback.", err=True)
            ctx.exit(5)


#: Set to show the traceback of system errors (disk full, permissions ...) instead of one line.
ENV_DEBUG = "ICI_ATLAS_DEBUG"


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def describe_system_error(exc: BaseException) -> tuple[str, str]:
    """One line and a fix for an operating-system error (disk full, no permission ...)."""
    import errno

    if isinstance(exc, MemoryError):
        return ("ran out of memory",
                "Set ICI_ATLAS_MEMORY_LIMIT lower (e.g. 2GB), close other programs, or work "
                "on a smaller input.")
    where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
    what = f"{exc.strerror or type(exc).__name__}{where}"
    fixes = {
        errno.ENOSPC: "Free disk space, or write to another disk (--db / -o PATH).",
        errno.EDQUOT: "Free disk space within your quota, or write elsewhere (--db / -o).",
        errno.EACCES: "Check the file's permissions, or use another path (--db / -o).",
        errno.EPERM: "Check the file's permissions, or use another path (--db / -o).",
        errno.EROFS: "The disk is read-only: write to another path (--db / -o).",
        errno.ENOENT: "Check the path exists.",
        errno.EISDIR: "Pass a file path, not a directory.",
    }
    fix = fixes.get(exc.errno, f"Set {ENV_DEBUG}=1 to see where it happened.")
    return f"system error: {what}", fix


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ici-atlas")
def cli() -> None:
    """ici-atlas: the anti-PD-1/PD-L1 evidence base, rebuilt on demand.

    Research tool: nothing it prints is clinical advice.

    \b
    Example:
      ici-atlas fetch --from ../shared/data/ctgov && ici-atlas classify && ici-atlas report
    """


def main() -> None:  # console-script entry point
    cli(prog_name="ici-atlas")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
