"""The screenshot helper: False without a browser, a real PNG with one."""

from __future__ import annotations

import pytest

from sftlab.report import screenshot
from sftlab.report.screenshot import find_browser


def test_no_browser_returns_false(tmp_path, monkeypatch):
    monkeypatch.delenv("SFTLAB_CHROMIUM", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    page = tmp_path / "p.html"
    page.write_text("<p>hi</p>")
    assert screenshot(page, tmp_path / "p.png") is False
    assert not (tmp_path / "p.png").exists()


@pytest.mark.skipif(find_browser() is None, reason="no Chromium-based browser installed")
def test_screenshot_writes_png(tmp_path):
    page = tmp_path / "p.html"
    page.write_text("<h1>sftlab</h1>")
    assert screenshot(page, tmp_path / "shot" / "p.png", width=400, height=300)
    png = (tmp_path / "shot" / "p.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(png[16:20], "big") == 400
    assert sorted(p.name for p in (tmp_path / "shot").iterdir()) == ["p.png"]  # no temporary file left
