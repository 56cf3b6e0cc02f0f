"""Open the built website in a real browser (headless Chromium) and use it as a reader would.

Checks, on every page: it loads with no JavaScript error, and its mathematics is typeset
by MathJax. On every page with an experiment, moving the slider shows another frame,
with no kernel behind the page: the proof that the precomputed widgets work.

The test runs offline. The pages load require.js, the Jupyter widget manager and MathJax
from CDNs; those requests are answered from local copies installed from the npm registry
into ``tests/browser/node_modules`` (``tools/install_browser_test_deps.sh``), and every
other outside request is refused and reported.
"""

from __future__ import annotations

import http.server
import mimetypes
import os
import re
import shutil
import threading
from functools import partial
from pathlib import Path
from urllib.parse import urlparse

import pytest

from conftest import ROOT, toc_files

pytestmark = [pytest.mark.book, pytest.mark.xdist_group("book")]

NODE_MODULES = ROOT / "tests" / "browser" / "node_modules"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
# CDN URLs the pages use, mapped onto the npm packages that hold the same files.
CDN_PATTERNS = [
    (re.compile(r"^https://cdn\.jsdelivr\.net/npm/((?:@[^/]+/)?[^/@]+)@[^/]+/(.+)$"), r"\1/\2"),
    (re.compile(r"^https://cdnjs\.cloudflare\.com/ajax/libs/require\.js/[^/]+/require(?:\.min)?\.js$"),
     "requirejs/require.js"),
]


def local_asset(url: str) -> Path | None:
    """The local copy of a CDN file, or None if the URL is not one we mirror."""
    for pattern, replacement in CDN_PATTERNS:
        if pattern.match(url):
            path = NODE_MODULES / pattern.sub(replacement, url)
            return path if path.is_file() else None
    return None


@pytest.fixture(scope="module")
def site(built_book):
    """Serve the built HTML on a free loopback port for the duration of the module."""
    handler = partial(_QuietHandler, directory=str(built_book / "html"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


@pytest.fixture(scope="module")
def browser():
    if not NODE_MODULES.is_dir():
        pytest.fail("local CDN copies missing: run tools/install_browser_test_deps.sh")
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium missing: run tools/install_browser_test_deps.sh")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


def open_page(browser, url: str):
    """Open ``url`` offline; return the page, its JavaScript errors and refused requests."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    refused: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    site_origin = urlparse(url).netloc

    def route(request_route):
        request_url = request_route.request.url
        if urlparse(request_url).netloc == site_origin or request_url.startswith("data:"):
            return request_route.continue_()
        asset = local_asset(request_url)
        if asset is None:
            refused.append(request_url)
            return request_route.abort()
        content_type = mimetypes.guess_type(asset.name)[0] or "application/octet-stream"
        return request_route.fulfill(
            status=200, body=asset.read_bytes(), content_type=content_type,
            headers={"Access-Control-Allow-Origin": "*"},
        )

    page.route("**/*", route)
    page.goto(url, wait_until="load")
    page.wait_for_load_state("networkidle")
    return page, errors, refused


PAGES = toc_files()


@pytest.mark.parametrize("name", PAGES)
def test_page_loads_cleanly_and_typesets_math(browser, site, name):
    page, errors, refused = open_page(browser, f"{site}/{name}.html")
    try:
        assert not errors, f"JavaScript errors on {name}: {errors}"
        # Fonts from a CDN are cosmetic; scripts are not.
        scripts = [u for u in refused if not re.search(r"\.(woff2?|ttf|eot|otf|css)(\?|$)", u)]
        assert not scripts, f"{name} needs scripts we do not mirror: {scripts}"
        has_math = page.evaluate("document.querySelectorAll('.math, .MathJax_Preview, div.math, span.math').length") > 0
        if has_math:
            page.wait_for_function(
                "window.MathJax && MathJax.startup && MathJax.startup.document", timeout=30_000
            )
            page.evaluate("MathJax.startup.promise")
            typeset = page.evaluate("document.querySelectorAll('mjx-container').length")
            assert typeset > 0, f"MathJax typeset nothing on {name}"
            raw = page.evaluate(
                "Array.from(document.querySelectorAll('mjx-merror')).map(e => e.textContent)"
            )
            assert not raw, f"MathJax errors on {name}: {raw}"
    finally:
        page.close()


def _visible_frame(page, stack) -> str:
    """The image source of the frame the Stack currently shows."""
    return stack.evaluate(
        """stack => {
            const frames = Array.from(stack.children)
                .filter(c => c.offsetParent !== null || c.getClientRects().length > 0);
            const img = frames.length ? frames[0].querySelector('img') : null;
            return img ? img.src.slice(-200) : '';
        }"""
    )


@pytest.mark.parametrize("name", [p for p in PAGES if p.startswith("chapters/")])
def test_sliders_change_the_frame_without_a_kernel(browser, site, name, built_book):
    html = (built_book / "html" / f"{name}.html").read_text()
    if "application/vnd.jupyter.widget-state+json" not in html:
        pytest.skip(f"{name} has no widgets")
    page, errors, _ = open_page(browser, f"{site}/{name}.html")
    try:
        page.wait_for_selector(".widget-stack, .jupyter-widget-stack, .jupyter-widgets .noUi-handle", timeout=30_000)
        handles = page.locator(".noUi-handle")
        assert handles.count() > 0, f"no slider rendered on {name}"
        stacks = page.locator(".widget-stack, .jupyter-widget-stack")
        assert stacks.count() > 0, f"no frame stack rendered on {name}"
        stack = stacks.first.element_handle()
        before = _visible_frame(page, stack)
        assert before, f"the first frame on {name} shows no image"
        handles.first.focus()
        for _ in range(3):
            page.keyboard.press("ArrowRight")
        page.wait_for_timeout(300)
        after = _visible_frame(page, stack)
        if after == before:  # the initial value may sit at the right end
            for _ in range(6):
                page.keyboard.press("ArrowLeft")
            page.wait_for_timeout(300)
            after = _visible_frame(page, stack)
        assert after and after != before, f"moving the slider on {name} did not change the frame"
        assert not errors, f"JavaScript errors on {name}: {errors}"
    finally:
        page.close()


def test_cdn_mirror_covers_the_scripts_the_pages_reference():
    """The mirror answers for the CDN files the build references, and for nothing else."""
    assert local_asset("https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js") is not None
    assert local_asset(
        "https://cdnjs.cloudflare.com/ajax/libs/require.js/2.3.4/require.min.js"
    ) is not None
    assert local_asset(
        "https://cdn.jsdelivr.net/npm/@jupyter-widgets/html-manager@1.0.6/dist/embed-amd.js"
    ) is not None
    assert local_asset("https://example.org/script.js") is None
    assert os.path.isfile(CHROMIUM)
