"""The web app in a real browser: headless Debian Chromium driven by Playwright.

Asks a question and opens a citation, signs in as admin, uploads a document (with a <script> and an
onerror image inside), asks about it, removes it, and checks that nothing from the document ran and that
the page fetched nothing from outside this machine. Set UPDATE_SCREENSHOT=1 to refresh docs/screenshot-chat.png.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "screenshot-chat.png"
PASSWORD = "test-admin-pw"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium "
                                                    "(apt-get install -y chromium)"),
]

# `__name` would be read as Markdown emphasis by the loader, so the probes use plain names.
HOSTILE = """---
title: Zephyr Loyalty Index <img src=x onerror="window.cxPwned='title'">
topic: metrics
---

# Zephyr Loyalty Index

## What is the Zephyr Loyalty Index?

The Zephyr Loyalty Index is a fictional loyalty metric that multiplies repeat purchases by referral intent \
<script>window.cxPwned='script'; document.title='pwned'</script>. The Zephyr Loyalty Index was invented \
for testing <img src=x onerror="window.cxPwned='img'; document.title='pwned'"> and is reported on a scale \
from 0 to 500 ${document.title='template'} {{constructor.constructor('window.cxPwned=1')()}}.
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def admin_app(real_index, real_copilot, tmp_path_factory):
    """The app on its own copy of the session index, with an admin password."""
    from copilot import Copilot
    from copilot import ui

    folder = tmp_path_factory.mktemp("browser") / "index"
    shutil.copytree(real_index, folder)
    cp = Copilot(folder, embedder=real_copilot.embedder)
    cp.answer("What is NPS?")  # warm
    mp = pytest.MonkeyPatch()
    mp.setenv(ui.ADMIN_ENV, PASSWORD)
    try:
        app = ui.build_app(cp)
    finally:
        mp.undo()
    _, url, _ = ui.launch(app, "127.0.0.1", _free_port(), block=False, quiet=True)
    yield url, cp
    app.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                              args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield b
        b.close()


def _ask(page, question: str) -> None:
    before = page.locator("#cx-chat [data-testid=bot]").count()
    page.fill("#cx-question textarea", question)
    page.keyboard.press("Enter")
    page.wait_for_function(
        """(n) => { const bots = document.querySelectorAll('#cx-chat [data-testid=bot]');
                    return bots.length > n && !bots[bots.length - 1].querySelector('.cx-thinking')
                           && document.querySelector('#cx-sources .cx-question') !== null; }""",
        arg=before, timeout=20000)
    page.wait_for_function("(q) => document.querySelector('#cx-sources .cx-question').innerText === q",
                           arg=question, timeout=20000)


def test_chat_library_and_safety_in_a_browser(admin_app, browser, tmp_path):
    url, cp = admin_app
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(20000)
    outside: list[str] = []

    def offline(route):
        if route.request.url.startswith(url) or route.request.url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", offline)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.accept()))
    page.goto(url)
    page.wait_for_selector("#cx-question textarea")

    # ask, see an answer with a citation, open the citation and see its passage
    _ask(page, "What is the difference between CSAT and NPS?")
    answer = page.locator("#cx-chat [data-testid=bot]").last
    assert "satisf" in answer.inner_text()
    marker = answer.locator("a.cx-cite").first
    assert marker.inner_text() == "1"
    passage = page.locator("#cx-src-0-1 .cx-passage")
    assert not passage.is_visible()
    marker.click()
    page.wait_for_selector("#cx-src-0-1 .cx-passage", state="visible")
    assert page.locator("#cx-src-0-1 mark").count() >= 1
    expected = cp.answer("What is the difference between CSAT and NPS?").citations[0]
    summary = page.inner_text("#cx-src-0-1 summary")
    assert expected.source in summary and expected.title in summary
    if os.environ.get("UPDATE_SCREENSHOT") == "1" or not SCREENSHOT.exists():
        page.mouse.move(0, 0)
        page.wait_for_timeout(400)  # let the highlight settle
        SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOT))

    # a declined question looks different
    _ask(page, "What is the best pizza in Naples?")
    assert page.locator("#cx-chat [data-testid=bot]").last.locator(".cx-declined").count() == 1

    # the library needs the admin password
    page.click("#cx-library-tab-button")
    assert not page.locator("#cx-upload").is_visible()
    page.fill("#cx-password input", "wrong")
    page.click("#cx-login-btn")
    page.wait_for_selector("text=Wrong password.")
    page.fill("#cx-password input", PASSWORD)
    page.click("#cx-login-btn")
    page.wait_for_selector("#cx-upload", state="visible")

    # upload a document with active content in it, and a broken one beside it
    doc = tmp_path / "zephyr-index.md"
    doc.write_text(HOSTILE, encoding="utf-8")
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 this is not really a PDF")
    page.set_input_files("#cx-upload input[type=file]", [str(doc), str(broken)])
    page.wait_for_function("() => ['zephyr-index', 'broken'].every("
                           "n => document.querySelector('#cx-upload').innerText.includes(n))")
    page.click("#cx-load")
    page.wait_for_selector("#cx-outcome .cx-badge")
    outcome = page.inner_text("#cx-outcome")
    assert "1 added, 1 failed" in outcome and "1 chunk" in outcome and "broken.pdf" in outcome
    assert any(s["source"] == "zephyr-index.md" for s in cp.sources())
    assert sorted(p.name for p in (cp.index_dir / "uploads").iterdir()) == ["zephyr-index.md"]
    assert "Zephyr Loyalty Index <img" in page.inner_text("#cx-table")  # the title shows as text

    # ask about it: the answer cites it, and its passage shows the markup as text
    page.click("#cx-ask-tab-button")
    _ask(page, "What is the Zephyr Loyalty Index?")
    answer = page.locator("#cx-chat [data-testid=bot]").last
    answer.locator("a.cx-cite").first.click()
    opened = page.locator("#cx-sources details.cx-src[open]").first
    assert "zephyr-index.md" in opened.inner_text()
    assert "<script>" in opened.locator(".cx-passage").inner_text()
    assert "<script>" in answer.inner_text()

    # remove it
    page.click("#cx-library-tab-button")
    page.click("#cx-remove-choice input")
    page.keyboard.type("zephyr")
    page.get_by_role("option", name="zephyr-index.md").click()
    page.click("#cx-remove")
    page.wait_for_selector("#cx-remove-msg .cx-notice")
    assert "Removed zephyr-index.md" in page.inner_text("#cx-remove-msg")
    assert dialogs and "zephyr-index.md" in dialogs[-1]
    assert all(s["source"] != "zephyr-index.md" for s in cp.sources())
    assert not (cp.index_dir / "uploads" / "zephyr-index.md").exists()
    page.click("#cx-ask-tab-button")
    _ask(page, "What is the Zephyr Loyalty Index?")
    assert "zephyr-index.md" not in page.inner_text("#cx-sources")

    # nothing from the document ran, and nothing was fetched from outside this machine
    assert page.evaluate("window.cxPwned") is None
    assert page.title() == "CX Copilot"
    assert outside == []
    page.close()
