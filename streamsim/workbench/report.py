"""``streamsim report`` (``make report``): the notebooks, executed and exported as code-free HTML.

Every notebook in ``notebooks/`` runs top to bottom with papermill, with the report-sized
parameters in ``REPORT`` (or, with ``--small``, the ``SMALL`` parameters the test suite runs). Each is exported with nbconvert's
HTMLExporter without code inputs and with its figures embedded, into ``reports/`` (git-ignored),
next to an ``index.html`` that links them and records the parameters used.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from streamsim.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS_DIR = ROOT / "notebooks"
DEFAULT_OUT = ROOT / "reports"
KERNEL = "python3"
#: The kernel draws figures inline (as PNG outputs) even if the caller's backend is Agg, and
#: saves each as PNG and SVG in ``<out>/figures/`` (streamsim.workbench.figbackend).
INLINE_BACKEND = "module://streamsim.workbench.figbackend"
#: The kernel's own log (e.g. "Kernel is running over TCP without encryption": it listens on
#: loopback only; an interrupt at shutdown) is not news for a report reader: silenced.
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=CRITICAL"]

#: Report-sized parameters per notebook: bigger than the tests', the whole report in a few
#: minutes on a 2-core machine. A notebook missing here runs with its own defaults.
REPORT: dict[str, dict[str, Any]] = {
    "01_stream_walkthrough": {},
    "02_stream_latency": {"players": 40, "days": 7, "sweep_players": 200, "sweep_days": 3},
    "03_retry_behaviour": {"players": 100, "days": 3, "seed": 3, "poison_rate": 0.004},
    "04_badge_tuning": {"players": 3000, "days": 30, "live_players": 15, "live_days": 5},
    "05_stakeholder_report": {
        "players": 25,
        "days": 7,
        "population_players": 3000,
        "population_days": 30,
    },
    "06_at_scale": {"ramp_seconds": 10.0, "poison_rate": 10_000.0, "poison_seconds": 10.0},
}

#: Small parameters per notebook: what the test suite runs (and ``--small``), so it stays fast.
SMALL: dict[str, dict[str, Any]] = {
    "01_stream_walkthrough": {},
    "02_stream_latency": {
        "players": 4,
        "days": 3,
        "sweep_players": 20,
        "sweep_days": 2,
        "batch_sizes": [1, 100],
        "batching_windows": [0, 1],
        "poll_intervals": [0.25, 1.0],
        "loads": [5, 50],
    },
    "03_retry_behaviour": {
        "players": 20,
        "days": 2,
        "seed": 5,
        "poison_rate": 0.006,
        "quiet_rate": 0.05,
    },
    "04_badge_tuning": {
        "players": 200,
        "days": 14,
        "live_players": 4,
        "live_days": 3,
        "tuning_players": 200,
    },
    "05_stakeholder_report": {
        "players": 4,
        "days": 3,
        "population_players": 200,
        "population_days": 14,
        "failure_players": 20,
        "failure_days": 2,
        "failure_seed": 5,
        "poison_rate": 0.006,
        "failure_rate_per_second": 0.05,
    },
    "06_at_scale": {
        "ramp_rates": [100, 1600],
        "ramp_settings": [[10, 1], [100, 4]],
        "ramp_seconds": 4.0,
        "poison_rate": 100.0,
        "poison_seconds": 2.0,
        "players": 10_000,
    },
}


@dataclass
class Built:
    """One notebook's outcome: where its HTML is, how long it took, or why it failed."""

    name: str
    title: str
    parameters: dict[str, Any]
    seconds: float
    html: Path | None = None
    executed: Path | None = None
    error: str | None = None
    notes: list[str] = field(default_factory=list)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--out DIR``, ``--only NAME`` (repeatable) and ``--small``."""
    parser.add_argument(
        "--out",
        metavar="DIR",
        default=None,
        help=f"where to write the HTML (default: {DEFAULT_OUT})",
    )
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help="only this notebook (its name, file name or a unique prefix such as 03); repeatable",
    )
    parser.add_argument(
        "-p",
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a notebook parameter (VALUE as JSON, else text), e.g. -p players=50; "
        "applies to every chosen notebook that has it; repeatable",
    )
    parser.add_argument(
        "--small",
        action="store_true",
        help="use the test suite's small parameters (fast; SMALL in streamsim.workbench.report)",
    )


def main(args: argparse.Namespace) -> int:
    """Run, export and index the chosen notebooks; 0 if all ran, 1 if any failed."""
    notebooks = select_notebooks(args.only)
    parameters = apply_overrides(
        SMALL if args.small else REPORT, parse_parameters(args.parameter or []), notebooks
    )
    out = Path(args.out) if args.out else DEFAULT_OUT
    try:  # before any notebook runs: a file there, or a read-only place, is one line
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        from streamsim.workbench.runguard import OutputError

        raise OutputError(f"--out {out} cannot be a folder: {exc.strerror or exc}") from None
    size = "small (test)" if args.small else "report"
    print(f"streamsim report: {len(notebooks)} notebook(s), {size} parameters, into {out}")
    started = time.monotonic()
    built = []
    for notebook in notebooks:
        result = build(notebook, dict(parameters.get(notebook.stem, {})), out)
        built.append(result)
        if result.error:
            print(f"  {result.name:<28} FAILED after {result.seconds:5.1f} s: {result.error}")
        else:
            print(f"  {result.name:<28} {result.seconds:6.1f} s  -> {result.html}")
    index = write_index(out, built, size)
    failed = [b.name for b in built if b.error]
    total = time.monotonic() - started
    print(
        f"index: {index}  ({total:.0f} s in all{', FAILED: ' + ', '.join(failed) if failed else ''})"
    )
    return 1 if failed else 0


def parse_parameters(items: Sequence[str]) -> dict[str, Any]:
    """``["players=50", "name=typical"]`` → ``{"players": 50, "name": "typical"}`` (JSON values,
    else text); ConfigError names a malformed item."""
    out: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise ConfigError(f"report parameter {item!r} must look like name=value")
        try:
            out[name] = json.loads(text)
        except ValueError:
            out[name] = text
    return out


def notebook_parameters(notebook: Path) -> set[str]:
    """The names a notebook's papermill ``parameters`` cell assigns."""
    import ast

    import nbformat

    nb = nbformat.read(str(notebook), as_version=4)
    for cell in nb.cells:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            tree = ast.parse(cell.source)
            return {
                t.id
                for node in tree.body
                if isinstance(node, ast.Assign)
                for t in node.targets
                if isinstance(t, ast.Name)
            }
    return set()


def apply_overrides(
    base: dict[str, dict[str, Any]], overrides: dict[str, Any], notebooks: Sequence[Path]
) -> dict[str, dict[str, Any]]:
    """``base`` with ``overrides`` set in every chosen notebook that has the parameter; a name
    no chosen notebook has is refused (papermill would inject it silently)."""
    out = {k: dict(v) for k, v in base.items()}
    used: set[str] = set()
    for notebook in notebooks:
        names = notebook_parameters(notebook)
        for name, value in overrides.items():
            if name in names:
                out.setdefault(notebook.stem, {})[name] = value
                used.add(name)
    unknown = sorted(set(overrides) - used)
    if unknown:
        chosen = ", ".join(nb.stem for nb in notebooks)
        raise ConfigError(
            f"no chosen notebook ({chosen}) has the parameter(s) {', '.join(unknown)}"
        )
    return out


def select_notebooks(names: Sequence[str] | None, directory: Path = NOTEBOOKS_DIR) -> list[Path]:
    """The notebooks to run, in file order; ``names`` may be stems, file names or unique
    prefixes. ConfigError names an unknown or ambiguous one."""
    available = sorted(directory.glob("*.ipynb"))
    if not available:
        raise ConfigError(f"no notebooks found in {directory}")
    if not names:
        return available
    chosen: set[Path] = set()
    for name in names:
        stem = name.removesuffix(".ipynb")
        exact = [nb for nb in available if nb.stem == stem]
        matches = exact or [nb for nb in available if nb.stem.startswith(stem)]
        if not matches:
            known = ", ".join(nb.stem for nb in available)
            raise ConfigError(f"unknown notebook {name!r}; known: {known}")
        if len(matches) > 1:
            found = ", ".join(nb.stem for nb in matches)
            raise ConfigError(f"notebook name {name!r} is ambiguous: it matches {found}")
        chosen.add(matches[0])
    return [nb for nb in available if nb in chosen]


def build(notebook: Path, parameters: dict[str, Any], out: Path) -> Built:
    """Execute one notebook into ``out/executed/`` and export it to ``out/<name>.html``."""
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    executed_dir = out / "executed"
    executed_dir.mkdir(parents=True, exist_ok=True)
    executed = executed_dir / notebook.name
    result = Built(notebook.stem, notebook_title(notebook), parameters, 0.0, executed=executed)
    started = time.monotonic()
    saved = {k: os.environ.get(k) for k in _KERNEL_ENV}
    # The kernel inherits these: figures become PNGs in the page and files in out/figures/.
    os.environ.update(
        {
            "MPLBACKEND": INLINE_BACKEND,
            "STREAMSIM_FIGURES_DIR": str(out / "figures"),
            "STREAMSIM_FIGURES_PREFIX": notebook.stem,
        }
    )
    _forget_figures(out / "figures", notebook.stem)
    try:
        papermill.execute_notebook(
            str(notebook),
            str(executed),
            parameters=parameters,
            kernel_name=KERNEL,
            cwd=str(executed_dir),
            progress_bar=False,
            extra_arguments=KERNEL_ARGUMENTS,
        )
    except PapermillExecutionError as exc:
        result.error = (
            f"cell {exc.exec_count}: {exc.ename}: {_first_line(exc.evalue)} (see {executed})"
        )
    except Exception as exc:  # noqa: BLE001 - a kernel that dies or a bad notebook: report, go on
        result.error = f"{type(exc).__name__}: {_first_line(str(exc))}"
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    result.seconds = time.monotonic() - started
    if result.error is None:
        result.html = export_html(nbformat.read(str(executed), as_version=4), out, notebook.stem)
    return result


def export_html(nb: Any, out: Path, name: str) -> Path:
    """Code-free HTML with embedded figures; stderr output (warnings, progress) is left out."""
    from nbconvert import HTMLExporter

    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [
                o for o in cell.outputs if not (o.output_type == "stream" and o.name == "stderr")
            ]
    exporter = HTMLExporter(
        exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True
    )
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": _title(nb, name)}})
    path = out / f"{name}.html"
    path.write_text(offline_html(body), encoding="utf-8")
    return path


_KERNEL_ENV = ("MPLBACKEND", "STREAMSIM_FIGURES_DIR", "STREAMSIM_FIGURES_PREFIX")
#: Scripts nbconvert's template loads from a CDN (require.js, MathJax), imports (mermaid) or
#: injects (the widgets' renderer from unpkg): the pages need none of them to show their text,
#: tables and figures, and a report must render offline. A widget shows as its static output.
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.S | re.I)


def offline_html(page: str) -> str:
    """The page without scripts that fetch from the network: it renders from the file alone."""
    return _SCRIPT.sub(lambda m: "" if re.search(r"https?://", m.group(0)) else m.group(0), page)


def _forget_figures(directory: Path, prefix: str) -> None:
    """Remove a notebook's figures from an earlier report, so numbering starts afresh."""
    index_file = directory / "figures.json"
    if not index_file.is_file():
        return
    entries = json.loads(index_file.read_text())
    for entry in entries:
        if entry.get("notebook") == prefix:
            for name in entry.get("files", []):
                (directory / name).unlink(missing_ok=True)
    index_file.write_text(json.dumps([e for e in entries if e.get("notebook") != prefix], indent=1))


def write_index(out: Path, built: Sequence[Built], size: str) -> Path:
    """``index.html``: a link per notebook, with its run time and parameters."""
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    rows = []
    for b in built:
        link = (
            f'<a href="{html.escape(b.html.name)}">{html.escape(b.title)}</a>'
            if b.html
            else f"{html.escape(b.title)} <strong>(failed: {html.escape(b.error or '')})</strong>"
        )
        params = html.escape(json.dumps(b.parameters)) if b.parameters else "notebook defaults"
        rows.append(
            f"<tr><td>{link}</td><td><code>{html.escape(b.name)}</code></td>"
            f"<td>{b.seconds:.0f} s</td><td><code>{params}</code></td></tr>"
        )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>streamsim report</title>
<style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}
table{{border-collapse:collapse;width:100%}}td,th{{border-bottom:1px solid #ddd;padding:.4rem;
text-align:left;vertical-align:top}}code{{font-size:.85em}}</style></head>
<body><h1>streamsim report</h1>
<p>DynamoDB Streams pipelines: stream timing, retries and badges. Generated {stamp} with
{html.escape(size)} parameters; each page is a notebook from <code>notebooks/</code>, executed
top to bottom, shown without its code.</p>
<table><tr><th>notebook</th><th>file</th><th>run time</th><th>parameters</th></tr>
{chr(10).join(rows)}
</table></body></html>
"""
    path = out / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def notebook_title(notebook: Path) -> str:
    """The notebook's first Markdown heading, or its file name."""
    import nbformat

    try:
        nb = nbformat.read(str(notebook), as_version=4)
    except Exception:  # noqa: BLE001 - an unreadable notebook fails later, with a message
        return notebook.stem
    return _title(nb, notebook.stem)


def _title(nb: Any, fallback: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return fallback


def _first_line(text: str) -> str:
    lines = [line for line in str(text).splitlines() if line.strip()]
    return lines[0] if lines else ""


if __name__ == "__main__":  # pragma: no cover - `streamsim report` is the entry point
    parser = argparse.ArgumentParser(prog="streamsim report")
    add_arguments(parser)
    sys.exit(main(parser.parse_args()))
