"""A PNG screenshot of a report through a headless Chromium, when one is installed.

On Debian/Ubuntu: ``apt-get install chromium``. Set ``SFTLAB_CHROMIUM`` to use
another Chromium-based browser binary.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from sftlab.io import default_mode

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def find_browser() -> str | None:
    """Path of a Chromium-based browser: ``$SFTLAB_CHROMIUM``, else the first of ``BROWSERS`` on PATH."""
    if os.environ.get("SFTLAB_CHROMIUM"):
        return shutil.which(os.environ["SFTLAB_CHROMIUM"])
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def screenshot(html_path, png_path, *, width: int = 1280, height: int = 2400, timeout: float = 120) -> bool:
    """Render ``html_path`` headless at ``width`` x ``height`` pixels into ``png_path``.

    Returns False, writing nothing, when no browser is found or it fails. The
    browser runs offline (no network services, a throwaway profile).
    """
    browser = find_browser()
    if browser is None:
        return False
    png_path = Path(png_path)
    png_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=png_path.parent, prefix=f".{png_path.name}.", suffix=".png")
    os.close(fd)
    with tempfile.TemporaryDirectory(prefix="sftlab-chromium-") as profile:
        cmd = [
            browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--hide-scrollbars", f"--user-data-dir={profile}", f"--screenshot={tmp}",
            f"--window-size={width},{height}", Path(html_path).resolve().as_uri(),
        ]  # fmt: skip
        try:
            done = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
            ok = done.returncode == 0 and os.path.getsize(tmp) > 0
        except (OSError, subprocess.TimeoutExpired):
            ok = False
    if ok:
        os.chmod(tmp, default_mode())
        os.replace(tmp, png_path)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return ok
