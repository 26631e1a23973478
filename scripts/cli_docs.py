"""Write docs/cli.md from the commands' own --help text (a test checks it is current).

Usage: .venv/bin/python scripts/cli_docs.py > docs/cli.md
"""

from __future__ import annotations

import click
from click.testing import CliRunner

from faceledger.cli import main

HEADER = """# Command-line reference

Generated from each command's `--help` by `scripts/cli_docs.py`; `tests/test_docs.py` fails
when it is out of date. Stable contracts (`detect --json`, `compare --json`,
`policy evaluate --json`) are described in ARCHITECTURE.md and only ever gain keys.
"""


def walk(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths: list[tuple[str, ...]] = []
    for name in sorted(group.commands):
        command = group.commands[name]
        paths.append((*prefix, name))
        if isinstance(command, click.Group):
            paths.extend(walk(command, (*prefix, name)))
    return paths


def render() -> str:
    runner = CliRunner()
    parts = [HEADER]
    for path in [(), *walk(main)]:
        result = runner.invoke(main, [*path, "--help"], prog_name="faceledger", terminal_width=100)
        title = " ".join(("faceledger", *path))
        parts.append(f"## {title}\n\n```\n{result.output.rstrip()}\n```\n")
    return "\n".join(parts)


if __name__ == "__main__":
    click.echo(render(), nl=False)
