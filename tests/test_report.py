"""``streamsim report``: notebooks chosen by name, parameters that exist, code-free HTML."""

from __future__ import annotations

import ast
import json
import re
import subprocess
from pathlib import Path

import pytest

from streamsim.workbench.cli import main
from streamsim.workbench.report import NOTEBOOKS_DIR, REPORT, SMALL, select_notebooks

NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))


def _parameter_names(notebook: Path) -> set[str]:
    """The names a notebook's papermill ``parameters`` cell assigns."""
    cells = json.loads(notebook.read_text())["cells"]
    cell = next(c for c in cells if "parameters" in c.get("metadata", {}).get("tags", []))
    tree = ast.parse("".join(cell["source"]))
    return {
        t.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for t in node.targets
        if isinstance(t, ast.Name)
    }


def test_every_notebook_has_report_parameters() -> None:
    assert set(REPORT) == {nb.stem for nb in NOTEBOOKS}


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_report_and_small_parameters_name_real_notebook_parameters(notebook: Path) -> None:
    # papermill injects unknown names silently: a typo would run the notebook at full size.
    names = _parameter_names(notebook)
    assert set(REPORT.get(notebook.stem, {})) <= names
    assert set(SMALL.get(notebook.stem, {})) <= names


def test_every_notebook_has_small_parameters() -> None:
    assert set(SMALL) == {nb.stem for nb in NOTEBOOKS}


def test_notebooks_are_chosen_by_name_file_name_or_unique_prefix() -> None:
    first, third = NOTEBOOKS[0], NOTEBOOKS[2]
    assert select_notebooks(None) == NOTEBOOKS
    assert select_notebooks([third.stem, first.name, third.stem[:2]]) == [first, third]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("nope", r"unknown notebook 'nope'; known: 01_stream_walkthrough, "),
        ("0", r"notebook name '0' is ambiguous: it matches 01_stream_walkthrough, "),
    ],
)
def test_a_bad_notebook_name_is_one_line_and_exit_2(
    name: str, message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["report", "--only", name, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert re.match(r"streamsim: error: " + message, err)
    assert not any(tmp_path.iterdir())  # nothing ran, nothing was written


@pytest.mark.timeout(900)  # the shared small report (conftest.small_report) may be built here
@pytest.mark.slow
def test_report_writes_code_free_html_with_embedded_figures(small_report) -> None:  # type: ignore[no-untyped-def]
    # `streamsim report --small`, run once for the session (tests/smallreport.py).
    out = small_report.out
    assert "01_stream_walkthrough" in small_report.line("01_stream_walkthrough")
    page = (out / "01_stream_walkthrough.html").read_text()
    body = page[page.index("<body") :]
    assert "<title>01 · The blog, reproduced</title>" in page
    assert re.search(r'<img [^>]*src="data:image/png;base64,', body)  # the figure, embedded
    code_cells = re.findall(r'class="jp-Cell jp-CodeCell[^"]*"', body)
    assert code_cells and all("jp-mod-noInput" in c for c in code_cells)
    assert "jp-InputArea-editor" not in body
    assert "run_walkthrough(" not in body and "open_backend(" not in body
    assert "The blog, reproduced" in body  # the prose stays
    index = (out / "index.html").read_text()
    assert 'href="01_stream_walkthrough.html"' in index
    assert "small (test) parameters" in index
    assert (out / "executed" / "01_stream_walkthrough.ipynb").is_file()


# ---- issue 12: parameters, offline pages, saved figures, a real browser ----------------------


def test_report_parameters_parse_as_json_or_text() -> None:
    from streamsim.workbench.report import parse_parameters

    assert parse_parameters(["players=50", "name=typical", "rates=[1, 2]", "x=null"]) == {
        "players": 50,
        "name": "typical",
        "rates": [1, 2],
        "x": None,
    }


def test_a_report_parameter_goes_to_the_notebooks_that_have_it() -> None:
    from streamsim.workbench.report import apply_overrides

    chosen = select_notebooks(["04", "05"])
    out = apply_overrides(REPORT, {"players": 7, "tuning_players": 9}, chosen)
    assert out["04_badge_tuning"]["players"] == 7 and out["05_stakeholder_report"]["players"] == 7
    assert out["04_badge_tuning"]["tuning_players"] == 9
    assert "tuning_players" not in out["05_stakeholder_report"]
    assert REPORT["04_badge_tuning"]["players"] != 7  # the table itself is untouched


@pytest.mark.parametrize(
    ("item", "message"),
    [("nonsense", "must look like name=value"), ("playerz=3", "has the parameter")],
)
def test_a_bad_report_parameter_is_one_line_and_exit_2(
    item: str, message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["report", "--only", "05", "-p", item, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not any(tmp_path.iterdir())


def test_offline_html_drops_every_network_script() -> None:
    from streamsim.workbench.report import offline_html

    page = (
        '<head><script src="https://cdn.example/require.js"></script>'
        "<script>var local = 1;</script>"
        '<script type="module">const m = await import("https://cdn.example/m.mjs");</script>'
        '<script type="module">const ok = 1;</script>'
        "<script>var src = 'https://unpkg.com/embed.js'; document.body.append(src);</script></head>"
    )
    out = offline_html(page)
    assert "https://" not in out
    assert "var local = 1;" in out and "const ok = 1;" in out


def test_figures_are_saved_as_png_and_svg_with_their_title(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import matplotlib.pyplot as plt

    from streamsim.workbench.figbackend import figure_title, save_figure

    fig, ax = plt.subplots()
    ax.plot([0, 1])
    ax.set_title("Retries: one bad play, a day")
    paths = save_figure(fig, tmp_path, "03_x")
    plt.close(fig)
    assert [p.suffix for p in paths] == [".png", ".svg"] and all(p.stat().st_size for p in paths)
    assert paths[0].name == "03_x-01-retries-one-bad-play-a-day.png"
    index = json.loads((tmp_path / "figures.json").read_text())
    assert index == [
        {
            "notebook": "03_x",
            "title": "Retries: one bad play, a day",
            "files": [p.name for p in paths],
        }
    ]
    untitled, _ = plt.subplots()
    assert figure_title(untitled) == ""
    plt.close(untitled)


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=10000",
    "--disable-client-side-phishing-detection",
    "--disable-default-apps",
    "--no-pings",
    "--disable-domain-reliability",
    "--disable-features=OptimizationHints,Translate,MediaRouter,NetworkTimeServiceQuerying",
]
#: Chromium's own housekeeping (component updater, sign-in), which these flags do not stop:
#: the browser's traffic, not the page's; the proxy refuses it, so nothing leaves anyway.
BROWSER_SERVICE_HOSTS = ("update.googleapis.com", "accounts.google.com", "clients2.google.com")
#: Appended to a copy of each page: after load, record what loaded in an attribute --dump-dom shows.
PROBE = """<script>window.addEventListener("load", () => {
  const imgs = Array.from(document.images);
  const bad = imgs.filter((i) => !(i.complete && i.naturalWidth > 0)).length;
  const remote = performance.getEntriesByType("resource").map((e) => e.name)
    .filter((n) => !n.startsWith("data:") && !n.startsWith("file:"));
  document.documentElement.setAttribute("data-probe",
    JSON.stringify({images: imgs.length, broken: bad, remote: remote}));
});</script>"""


def _open_in_chromium(page: Path, tmp_path: Path, extra: str = "") -> tuple[dict, list[str]]:
    """Load a copy of ``page`` (with the probe) in headless Chromium behind a proxy that counts
    connection attempts: (the probe's findings, the URLs it was asked for)."""
    import socket
    import threading

    probe_page = tmp_path / f"probe-{page.name}"
    probe_page.write_text(page.read_text() + extra + PROBE)
    proxy = socket.socket()
    proxy.bind(("127.0.0.1", 0))
    proxy.listen()
    proxy.settimeout(0.2)
    attempts = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = proxy.accept()
            except OSError:
                continue
            request = conn.recv(300).decode("latin-1")
            conn.close()
            if not request.strip():
                continue  # a connection opened ahead (preconnect) that asked for nothing
            target = request.split(" ")[1] if " " in request else request
            if not any(host in target for host in BROWSER_SERVICE_HOSTS):
                attempts.append(target)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        done = subprocess.run(
            [
                str(CHROMIUM),
                *CHROMIUM_FLAGS,
                f"--user-data-dir={tmp_path / 'profile'}",
                f"--proxy-server=http://127.0.0.1:{proxy.getsockname()[1]}",
                "--proxy-bypass-list=<-loopback>",
                "--dump-dom",
                probe_page.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        stop.set()
        thread.join()
        proxy.close()
    found = re.search(r"data-probe=\"([^\"]*)\"", done.stdout)
    assert found, f"the probe did not run: {done.stderr[-2000:]}"
    return json.loads(found.group(1).replace("&quot;", '"')), attempts


@pytest.mark.timeout(900)  # the shared small report (conftest.small_report) may be built here
@pytest.mark.slow
def test_every_report_page_renders_offline_in_a_browser(tmp_path: Path, small_report) -> None:  # type: ignore[no-untyped-def]
    """Headless Chromium (Debian's package: `make browser`) opens each page: every figure
    loads and nothing is fetched from the network. Skipped locally without Chromium; in CI
    (CI=true) its absence fails the test."""
    import os

    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but /usr/bin/chromium is missing: run `make browser`")
        pytest.skip("headless Chromium is not installed: `make browser` installs it")
    out = small_report.out  # `streamsim report --small`, run once for the session
    assert small_report.returncode == 0, small_report.stdout + small_report.stderr
    stderr = small_report.stderr
    assert "Kernel is running over TCP" not in stderr and "WARNING" not in stderr
    figures = json.loads((out / "figures" / "figures.json").read_text())
    assert figures and all(f["title"] for f in figures)  # every saved figure stands alone
    assert all((out / "figures" / name).is_file() for f in figures for name in f["files"])
    pages = sorted(out.glob("*.html"))
    assert len(pages) == len(NOTEBOOKS) + 1
    # The check can fail: a page that fetches an image from the network is caught.
    planted, network = _open_in_chromium(
        pages[0], tmp_path, '<img src="http://example.com/figure.png">'
    )
    assert planted["broken"] >= 1 and network
    for page in pages:
        probe, network = _open_in_chromium(page, tmp_path)
        assert probe["broken"] == 0, page.name
        assert probe["remote"] == [] and network == [], (page.name, network)
        if page.name != "index.html":
            assert probe["images"] >= 1, page.name
