"""``streamsim report --small`` built once per test session (the ``small_report`` fixture in
conftest.py): every notebook executed with its small parameters and exported, which the notebook
tests (each notebook runs), the report test (code-free HTML) and the browser test (each page
renders offline) all read, instead of executing the notebooks two or three times."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SmallReport:
    """The report folder and what the command printed."""

    out: Path
    returncode: int
    stdout: str
    stderr: str
    #: The run folder notebook 02 compares with (its ``compare_with`` parameter).
    compare_with: Path

    def line(self, stem: str) -> str:
        """The command's line for one notebook (its seconds and page, or FAILED and why)."""
        return next(
            (ln for ln in self.stdout.splitlines() if ln.strip().startswith(stem + " ")), ""
        )


def small_run_folder(folder: Path) -> Path:
    """A run folder in a second: a small virtual run, saved as ``streamsim`` saves runs."""
    from streamsim import Scenario, simulate
    from streamsim.workbench.runfolder import save_run

    run = simulate(Scenario(players=3, days=2, rate=20.0, seed=2))
    return save_run(folder, run.tables, run.config, run.summary, run.destination)


def build_small_report(base: Path) -> SmallReport:
    """Run the CLI in a child process, as a user would (its own kernel per notebook)."""
    other = small_run_folder(base / "other-run")
    out = base / "report"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "streamsim.workbench.cli",
            "report",
            "--small",
            "-p",
            f"compare_with={other}",  # README: compare a local run with another in 02
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=base,
    )
    return SmallReport(out, done.returncode, done.stdout, done.stderr, other)
