"""The README's commands are real: every subcommand is listed, every command line shown parses,
every ``make`` target named exists (a new user copies them)."""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _bash_lines() -> list[str]:
    """Command lines in the README's bash blocks, continuations joined, comments dropped."""
    lines: list[str] = []
    for block in re.findall(r"```bash\n(.*?)```", README, flags=re.S):
        joined = block.replace("\\\n", " ")
        lines += [ln.split("#")[0].strip() for ln in joined.splitlines()]
    return [ln for ln in lines if ln]


def _subcommands() -> list[str]:
    from streamsim.workbench.cli import build_parser

    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return list(action.choices)


def test_the_readme_names_every_subcommand_in_its_commands_block() -> None:
    section = README.split("## Commands")[1].split("\n## ")[0]
    block = re.findall(r"```bash\n(.*?)```", section, flags=re.S)[0]
    named = set(re.findall(r"streamsim ([a-z]+(?: \| [a-z]+)*)", block))
    words = {w for group in named for w in group.split(" | ")}
    assert set(_subcommands()) <= words, set(_subcommands()) - words


LITERAL = [
    ln for ln in _bash_lines() if ln.startswith("streamsim ") and not re.search(r"[\[|]", ln)
]


@pytest.mark.parametrize("line", LITERAL)
def test_every_literal_streamsim_line_in_the_readme_parses(line: str) -> None:
    from streamsim.workbench.cli import build_parser

    args = build_parser().parse_args(shlex.split(line)[1:])
    assert args.func is not None


def test_the_literal_lines_cover_most_commands() -> None:
    assert len(LITERAL) >= 15 and {ln.split()[1] for ln in LITERAL} >= {
        "run",
        "walkthrough",
        "trigger",
        "sweep",
        "scale",
        "serve",
        "report",
        "deploy",
        "collect",
    }


def test_every_make_target_the_readme_names_exists() -> None:
    targets = set(re.findall(r"^([a-z][a-z-]*):", (ROOT / "Makefile").read_text(), flags=re.M))
    named = set(re.findall(r"`?make ([a-z][a-z-]*)", README))
    assert named and named <= targets, named - targets


def test_every_notebook_is_in_the_readme_table() -> None:
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    notebooks = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
    assert notebooks
    assert [nb.stem for nb in notebooks if f"| `{nb.stem}` |" not in text] == []
