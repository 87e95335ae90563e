"""The report page renders in headless Chromium, from disk, with no network."""

import json
import re
import shutil
import subprocess
from html import unescape

import numpy as np
import pytest
from PIL import Image

from sianode_flows.report import ReportData, ReportOptions, build_report
from sianode_flows.report.build import draw_figures
from sianode_flows.report.page import render_page
from tests.report.generation_docs import fill, generation_documents

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="headless Chromium not installed (Debian: apt-get install chromium; CI installs it)",
)


def chromium(page, profile, *args):
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            *args,
            page.resolve().as_uri(),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )


def screenshot(page, png, profile):
    chromium(page, profile, f"--screenshot={png}", "--window-size=1280,2000")
    return np.asarray(Image.open(png).convert("RGB"), dtype=float)


# Run in a copy of the page (the report itself has no script): where each verdict cell
# of the ranked table lies, and what of the window and of its scrolling box shows.
MEASURE_VERDICTS = """<script>
const table = document.getElementById("ranked-candidates");
const box = table.parentElement.getBoundingClientRect();
const cells = [...table.querySelectorAll("tbody td.verdict")].map((td) => {
  const r = td.getBoundingClientRect();
  return {text: td.textContent, left: r.left, right: r.right};
});
document.body.dataset.measured = JSON.stringify({
  window: document.documentElement.clientWidth, box: [box.left, box.right], cells,
});
</script>"""


def measure_verdicts(page, profile, width):
    measured = page.with_name("measured.html")
    measured.write_text(page.read_text().replace("</body>", MEASURE_VERDICTS + "</body>"))
    dom = chromium(measured, profile, "--dump-dom", f"--window-size={width},900").stdout
    return json.loads(unescape(re.search(r'data-measured="([^"]*)"', dom).group(1)))


def test_report_renders_in_headless_chromium(screened_store, tmp_path):
    report = build_report(screened_store, tmp_path / "site")
    pixels = screenshot(report.page, tmp_path / "shot.png", tmp_path / "profile")
    assert pixels.shape[:2] == (2000, 1280)
    assert pixels.std() > 20, "the screenshot is blank"
    # the figures were drawn: many distinct colors, and some of the fit's red
    colors = np.unique(pixels.reshape(-1, 3).astype(np.uint8), axis=0)
    assert len(colors) > 500
    red = (pixels[..., 0] > 180) & (pixels[..., 1] < 90) & (pixels[..., 2] < 90)
    assert red.sum() > 200


def test_empty_report_renders_its_notice(memory_store, tmp_path):
    report = build_report(memory_store, tmp_path / "site")
    pixels = screenshot(report.page, tmp_path / "shot.png", tmp_path / "profile")
    assert pixels.std() > 5  # the heading and the notice, on white


def test_verdicts_show_in_a_1400_px_window(verdict_fits, tmp_path):
    # every column the table can have, long database identifiers, and every verdict
    data = ReportData(location="built fits", fits=verdict_fits)
    options = ReportOptions(min_capacity=1500)
    folder = tmp_path / "site"
    page = folder / "report.html"
    page.write_text(render_page(data, draw_figures(data, folder, options), options))
    measured = measure_verdicts(page, tmp_path / "profile", 1400)
    assert measured["window"] <= 1400
    assert [c["text"] for c in measured["cells"]] == [f.shown_verdict for f in verdict_fits]
    visible_left = max(0, measured["box"][0])
    visible_right = min(measured["window"], measured["box"][1])
    for cell in measured["cells"]:
        assert visible_left <= cell["left"] and cell["right"] <= visible_right, cell


# Run in a copy of the page once everything has loaded: each image and table of the
# generation section, whether the image decoded and what of each shows.
MEASURE_GENERATION = """<script>
window.addEventListener("load", () => {
  const section = document.getElementById("generation");
  const box = (element) => element.getBoundingClientRect();
  const images = [...section.querySelectorAll("img")].map((img) => ({
    file: img.dataset.file, complete: img.complete, natural: img.naturalWidth,
    width: box(img).width, height: box(img).height,
  }));
  const tables = [...section.querySelectorAll("table")].map((table) => ({
    id: table.id, rows: table.tBodies[0].rows.length, width: box(table).width,
    height: box(table).height, shown: table.offsetParent !== null,
  }));
  document.body.dataset.measured = JSON.stringify({images, tables});
});
</script>"""


def test_generation_section_renders(memory_store, tmp_path):
    fill(memory_store, generation_documents())
    report = build_report(memory_store, tmp_path / "site")
    measured = report.page.with_name("measured.html")
    measured.write_text(report.page.read_text().replace("</body>", MEASURE_GENERATION + "</body>"))
    dom = chromium(measured, tmp_path / "profile", "--dump-dom", "--window-size=1400,900").stdout
    found = json.loads(unescape(re.search(r'data-measured="([^"]*)"', dom).group(1)))
    files = [image["file"] for image in found["images"]]
    assert files == [
        "figures/generation_sweep_model_r_t.png",
        "figures/generation_best_01_generated_Li30Si7Ge_0123456789_structure.png",
        "figures/generation_best_01_generated_Li30Si7Ge_0123456789_fit.png",
    ]
    for image in found["images"]:  # decoded, and laid out at a readable size
        assert image["complete"] and image["natural"] > 600, image
        assert image["width"] > 300 and image["height"] > 200, image
    tables = {table["id"]: table for table in found["tables"]}
    assert set(tables) == {
        "generation-metrics-1",
        "generation-metrics-2",
        "conditioning-sweeps",
        "sweep-model-r_t",
        "generated-best",
    }
    for table in tables.values():
        assert table["shown"] and table["width"] > 100 and table["height"] > 30, table
    assert tables["sweep-model-r_t"]["rows"] == 5  # four targets and the control
