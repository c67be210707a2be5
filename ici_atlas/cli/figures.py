"""``ici-atlas figures``: the group that every area adds its figure writers to.

An area module adds a subcommand with ``@figures_group.command("name")``.
"""

from __future__ import annotations

import click

from .common import SuggestingGroup

figures_group = SuggestingGroup(
    "figures",
    help=(
        "Write the review's figures as PNG and SVG.\n\n"
        "\b\nExample:\n  ici-atlas figures landscape --out figures/"
    ),
)


def register(group: click.Group) -> None:
    group.add_command(figures_group)
