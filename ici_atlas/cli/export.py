"""``ici-atlas export``: the group that every area adds its exporters to.

An area module adds a subcommand with ``@export_group.command("name")``.
"""

from __future__ import annotations

import click

from .common import SuggestingGroup

export_group = SuggestingGroup(
    "export",
    help=(
        "Write a dataset to stdout or a file (CSV, TSV, JSON, Parquet).\n\n"
        "\b\nExample:\n  ici-atlas export trials --format tsv > trials.tsv"
    ),
)


def register(group: click.Group) -> None:
    group.add_command(export_group)
