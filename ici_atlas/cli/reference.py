"""Render the CLI reference (docs/cli.md) from the commands' own ``--help`` texts.

``python -m ici_atlas.cli.reference > docs/cli.md`` regenerates it; a test checks the
committed file is current, so the docs cannot drift from the code.
"""

from __future__ import annotations

import sys
from typing import Iterator

import click


def _walk(cmd: click.Command, path: list[str]) -> Iterator[tuple[list[str], click.Command]]:
    yield path, cmd
    if isinstance(cmd, click.Group):
        ctx = click.Context(cmd, info_name=path[-1])
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)
            if sub is not None:
                yield from _walk(sub, path + [name])


def iter_commands() -> Iterator[tuple[str, click.Command]]:
    from . import cli

    for path, cmd in _walk(cli, ["ici-atlas"]):
        yield " ".join(path), cmd


def render_cli_reference() -> str:
    parts = [
        "# CLI reference\n",
        "Generated from `--help` by `python -m ici_atlas.cli.reference > docs/cli.md`; "
        "do not edit by hand.\n",
    ]
    for name, cmd in iter_commands():
        ctx = click.Context(cmd, info_name=name)
        help_text = cmd.get_help(ctx)
        parts.append(f"## `{name}`\n\n```text\n{help_text}\n```\n")
    return "\n".join(parts)


if __name__ == "__main__":  # pragma: no cover
    sys.stdout.write(render_cli_reference())
