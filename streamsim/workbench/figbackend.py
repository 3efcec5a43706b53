"""A matplotlib backend for ``streamsim report``: the inline backend, plus every figure saved.

``streamsim report`` runs each notebook's kernel with ``MPLBACKEND`` set to this module and
``STREAMSIM_FIGURES_DIR`` / ``STREAMSIM_FIGURES_PREFIX`` set: each figure a cell shows is drawn
inline as usual (PNG in the notebook, embedded in the HTML) and also saved as PNG and SVG in
``reports/figures/``, named after its title, so a figure can go into a slide on its own. The
titles are listed in ``figures.json`` there; a figure without a title is saved as 'untitled'
(the report's test fails on it: a figure out of its page needs a title that stands alone).
"""

from __future__ import annotations

import json
import os
import re
import weakref
from pathlib import Path
from typing import Any

import matplotlib_inline.backend_inline as _inline
from matplotlib import pyplot as plt
from matplotlib.figure import Figure
from matplotlib_inline.backend_inline import (  # noqa: F401 - the backend's interface
    FigureCanvas,
    new_figure_manager,
    new_figure_manager_given_figure,
)

_saved: weakref.WeakSet[Figure] = weakref.WeakSet()


def figure_title(fig: Figure) -> str:
    """The figure's suptitle, else its axes' titles joined; '' when there is none."""
    suptitle = getattr(fig, "_suptitle", None)  # matplotlib keeps it private
    sup = suptitle.get_text() if suptitle is not None else ""
    if sup.strip():
        return sup.strip()
    titles = [ax.get_title().strip() for ax in fig.axes if ax.get_title().strip()]
    return " · ".join(dict.fromkeys(titles))


def save_figure(fig: Figure, directory: Path, prefix: str) -> list[Path]:
    """Save ``fig`` as PNG and SVG in ``directory``; record its title in figures.json."""
    directory.mkdir(parents=True, exist_ok=True)
    index_file = directory / "figures.json"
    index: list[dict[str, Any]] = json.loads(index_file.read_text()) if index_file.is_file() else []
    title = figure_title(fig)
    number = sum(1 for e in index if e.get("notebook") == prefix) + 1
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60] or "untitled"
    stem = f"{prefix}-{number:02d}-{slug}"
    paths = [directory / f"{stem}.{ext}" for ext in ("png", "svg")]
    for path in paths:
        fig.savefig(path, bbox_inches="tight", dpi=120 if path.suffix == ".png" else None)
    index.append({"notebook": prefix, "title": title, "files": [p.name for p in paths]})
    index_file.write_text(json.dumps(index, indent=1))
    return paths


def _save_open_figures() -> None:
    directory = os.environ.get("STREAMSIM_FIGURES_DIR")
    if not directory:
        return
    prefix = os.environ.get("STREAMSIM_FIGURES_PREFIX", "figure")
    for number in plt.get_fignums():
        fig = plt.figure(number)
        if fig in _saved or not fig.axes:
            continue
        save_figure(fig, Path(directory), prefix)
        _saved.add(fig)


def show(close: bool | None = None, block: bool | None = None) -> None:
    """Save, then show inline."""
    _save_open_figures()
    _inline.show(close, block)


def flush_figures() -> None:
    """After each cell: save the figures the cell drew, then let the inline backend show them."""
    if getattr(_inline.show, "_draw_called", False):
        _save_open_figures()
    _inline.flush_figures()


def _enable() -> None:
    """Inside a kernel: interactive mode, the inline display hooks, our flush after each cell."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with the kernel
        return
    ip = get_ipython()
    if ip is None:
        return
    from IPython.core.pylabtools import activate_matplotlib

    activate_matplotlib("module://" + __name__)
    ip.events.register("post_execute", flush_figures)
    # The inline backend's display hooks (and its own flush, a no-op after ours).
    _inline.configure_inline_support(ip, "module://matplotlib_inline.backend_inline")
    try:
        ip.events.unregister("post_execute", _inline.flush_figures)
    except ValueError:
        pass


_enable()
