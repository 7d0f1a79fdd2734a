"""Headless Chromium for the explorer's tests and perf script (selenium driving Debian's
`chromium` and `chromium-driver`). Not used when writing pages: nothing here runs in a report."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

CHROMIUM = os.environ.get("CAPABILITY_TESTS_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CAPABILITY_TESTS_CHROMEDRIVER", "/usr/bin/chromedriver")


def missing_browser() -> str | None:
    """Why no headless browser can run here (None when one can)."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install 'capability-tests[test]')"
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (Path(path).is_file() or shutil.which(path)):
            return f"{path} not found (apt-get install chromium chromium-driver)"
    return None


def start_browser(width: int = 1400, height: int = 1000):
    """A headless Chromium with its console log (`driver.get_log('browser')`) and its network
    requests (`requested_urls`) captured."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                f"--window-size={width},{height}", "--disable-extensions",
                "--no-first-run", "--disable-background-networking"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def requested_urls(driver) -> list[str]:
    """Every URL the page asked the network stack for since the last call (the DevTools
    `Network.requestWillBeSent` events of the performance log), whatever the scheme."""
    import json

    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"]).get("message", {})
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def console_errors(driver) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry.get("level") == "SEVERE"]
