"""Render the CLI reference (docs/cli.md) from the commands' own ``--help`` texts.

``python -m ici_atlas.cli.reference > docs/cli.md`` regenerates it; a test checks the
committed file is current, so the docs cannot drift from the code.
"""

from __future__ import annotations

import sys
from typing import Iterator

import click


def _walk(ctx: click.Context, path: list[str]) -> Iterator[tuple[list[str], click.Context]]:
    yield path, ctx
    cmd = ctx.command
    if isinstance(cmd, click.Group):
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)
            if sub is not None:
                child = sub.make_context(name, [], parent=ctx, resilient_parsing=True)
                yield from _walk(child, path + [name])


def _root_context() -> click.Context:
    from . import cli

    # fixed widths: the reference must not depend on the terminal it is generated in
    return cli.make_context("ici-atlas", [], resilient_parsing=True,
                            terminal_width=100, max_content_width=100)


def iter_commands() -> Iterator[tuple[str, click.Command]]:
    for path, ctx in _walk(_root_context(), ["ici-atlas"]):
        yield " ".join(path), ctx.command


def render_cli_reference() -> str:
    parts = [
        "# CLI reference\n",
        "Generated from `--help` by `python -m ici_atlas.cli.reference > docs/cli.md`; "
        "do not edit by hand.\n",
    ]
    for path, ctx in _walk(_root_context(), ["ici-atlas"]):
        parts.append(f"## `{' '.join(path)}`\n\n```text\n{ctx.command.get_help(ctx)}\n```\n")
    return "\n".join(parts)


if __name__ == "__main__":  # pragma: no cover
    sys.stdout.write(render_cli_reference())
