"""The report page renders in headless Chromium, from disk, with no network."""

import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from sianode_flows.report import build_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="headless Chromium not installed (Debian: apt-get install chromium; CI installs it)",
)


def screenshot(page, png, profile):
    subprocess.run(
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
            f"--screenshot={png}",
            "--window-size=1280,2000",
            page.resolve().as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return np.asarray(Image.open(png).convert("RGB"), dtype=float)


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
