"""The ``ici-atlas`` command: a thin skin over the library.

Each area registers its commands in its own module (``ici_atlas/cli/<area>.py``,
exposing ``register(group)``); this module only assembles them and turns library
errors into one-line messages with a fix and a non-zero exit.
"""

from __future__ import annotations

import importlib
import sys

import click

from .. import __version__
from ..errors import IciAtlasError

# One line per area; each module defines ``register(group: click.Group) -> None``.
_COMMAND_MODULES: tuple[str, ...] = (
    "ici_atlas.cli.export",
    "ici_atlas.cli.classify",
    "ici_atlas.cli.fetch",
    "ici_atlas.cli.lit",
    "ici_atlas.cli.landscape",
    "ici_atlas.cli.efficacy",
    "ici_atlas.cli.strategies",
    "ici_atlas.cli.pool",
    "ici_atlas.cli.approvals",
)


class _Group(click.Group):
    """Click group that reports IciAtlasError as one line + fix, exit code per kind."""

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


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ici-atlas")
def cli() -> None:
    """ici-atlas: the anti-PD-1/PD-L1 evidence base, rebuilt on demand.

    Research tool: nothing it prints is clinical advice.

    \b
    Example:
      ici-atlas fetch --from ../shared/data/ctgov && ici-atlas classify && ici-atlas report
    """


for _name in _COMMAND_MODULES:
    importlib.import_module(_name).register(cli)


def main() -> None:  # console-script entry point
    cli(prog_name="ici-atlas")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
