"""The docs stay true: CLI reference current, README setup and tour runnable, public API."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import faceledger

REPO = Path(__file__).resolve().parent.parent


def _load_script(name: str):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_reference_is_current() -> None:
    expected = _load_script("cli_docs").render()
    actual = (REPO / "docs" / "cli.md").read_text()
    assert actual == expected, (
        "docs/cli.md is stale: run .venv/bin/python scripts/cli_docs.py > docs/cli.md"
    )


def test_readme_setup_is_exactly_the_two_make_commands() -> None:
    readme = (REPO / "README.md").read_text()
    setup = readme.split("## Setup", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in setup.strip().splitlines()]
    assert commands == ["make demo", "make test"]


def test_readme_tour_uses_only_real_commands() -> None:
    from faceledger.cli import main

    readme = (REPO / "README.md").read_text()
    tour = readme.split("## A quick tour", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    for line in tour.strip().splitlines():
        words = line.split("#")[0].split()
        if not words or words[0] != "faceledger" or words[1].startswith("-"):
            continue
        assert words[1] in main.commands, f"README mentions unknown command: {line}"


def test_ci_runs_the_readme_test_command() -> None:
    assert re.search(r"^make test$", (REPO / ".ci" / "run").read_text(), re.M)


def test_public_surface_is_curated() -> None:
    assert faceledger.__all__ == [
        "Conflict", "FaceLedger", "FaceledgerError", "Forbidden", "Intake", "Invalid", "NotFound",
        "Settings", "Unavailable", "__version__", "load_settings",
    ]  # fmt: skip
    for name in faceledger.__all__:
        assert getattr(faceledger, name) is not None, name
    assert re.fullmatch(r"\d+\.\d+\.\d+", faceledger.__version__)
