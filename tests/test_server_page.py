"""The search page at / in a real headless Chromium (Debian's package, driven by
Playwright; Playwright never downloads a browser): pick a collection, type a
query, see the expected document with its snippet highlighted, score and metadata."""

from __future__ import annotations

import os
import shutil

import pytest
from serving import Server

import vecdex

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium (.ci/run installs it)"),
]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with Server(tmp_path_factory.mktemp("page") / "page.db") as server:
        with vecdex.Client(server.url) as client:
            client.collection("recipes", create=True).add([("soup", "Tomato soup with basil and cream.")])
            client.collection("news", create=True).add([
                {"id": "rain", "text": "Heavy rain flooded the river valley overnight.", "metadata": {"year": 2021}},
                {"id": "bank", "text": "The central bank raised interest rates again.", "metadata": {"year": 2023}},
                {"id": "fire", "text": "Bushfires threatened homes near Sydney.", "metadata": {"year": 2001}},
            ])
        yield server


@pytest.fixture(scope="module")
def browser():
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield launched
        launched.close()


def test_type_a_query_and_see_the_expected_document(served, browser):
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(served.url + "/")
    page.wait_for_selector("#collection option[value='news']", state="attached")
    page.select_option("#collection", "news")
    page.select_option("#mode", "hybrid")
    page.fill("#query", "river flooding")
    page.click("#go")
    first = page.locator("#hits li.hit").first
    first.wait_for()
    assert first.get_attribute("data-id") == "rain"
    assert first.locator(".hit-id").inner_text() == "rain"
    assert [m.inner_text() for m in first.locator(".hit-snippet mark").all()] == ["river"]
    assert first.locator(".hit-score").inner_text().startswith("score ")
    assert '"year":2021' in first.locator(".hit-meta").inner_text()
    assert "hits in" in page.inner_text("#status")
    # Another mode, and an error shown as a message, not a broken page.
    page.select_option("#mode", "lexical")
    page.fill("#query", "Sydney")
    page.click("#go")
    page.wait_for_function("document.querySelector('#hits li.hit')?.dataset.id === 'fire'")
    page.fill("#query", "zzqqxx")
    page.select_option("#mode", "dense")
    page.click("#go")
    page.wait_for_selector("#status.error")
    assert "none of the words" in page.inner_text("#status")
    assert errors == []
    page.close()
