"""Open the built website in a real browser (headless Chromium) and use it as a reader would.

Checks, on every page: it loads with no JavaScript error, its mathematics is typeset by
MathJax, and axe-core finds no accessibility violation of impact "serious" or "critical",
in the light and in the dark colour scheme. On every page with an experiment, moving the
slider shows another frame, with no kernel behind the page: the proof that the
precomputed widgets work; and the slider tells assistive technology its name and the
value it shows.

The test runs offline: what the pages take from CDNs is served from local copies
(``tools/offline_browser.py``), and any other outside request is refused and reported.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from conftest import ROOT, toc_files

sys.path.insert(0, str(ROOT / "tools"))
import offline_browser  # noqa: E402

pytestmark = [pytest.mark.book, pytest.mark.xdist_group("book")]

PAGES = toc_files()
CHAPTER_PAGES = [p for p in PAGES if p.startswith("chapters/")]

#: axe-core rules not run, each with the reason. None is needed today: what the audit
#: found is fixed by tools/static/bpbook-a11y.{css,js} and tools/bpbook_site.py.
DISABLED_AXE_RULES: dict[str, str] = {}


@pytest.fixture(scope="module")
def site(built_book):
    with offline_browser.serve(built_book / "html") as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    if not offline_browser.NODE_MODULES.is_dir():
        pytest.fail("local CDN copies missing: run tools/install_browser_test_deps.sh")
    if not Path(offline_browser.CHROMIUM).exists():
        pytest.fail("Chromium missing: run tools/install_browser_test_deps.sh")
    with offline_browser.chromium() as chromium:
        yield chromium


@pytest.mark.parametrize("name", PAGES)
def test_page_loads_cleanly_and_typesets_math(browser, site, name):
    page, errors, refused = offline_browser.open_page(browser, f"{site}/{name}.html")
    try:
        assert not errors, f"JavaScript errors on {name}: {errors}"
        # Fonts and style sheets from a CDN are cosmetic; scripts are not.
        scripts = [u for u in refused if not re.search(r"\.(woff2?|ttf|eot|otf|css)(\?|$)", u)]
        assert not scripts, f"{name} needs scripts we do not mirror: {scripts}"
        if page.evaluate("document.querySelectorAll('span.math, div.math').length"):
            assert offline_browser.wait_for_math(page) > 0, f"MathJax typeset nothing on {name}"
            failed = page.evaluate(
                "Array.from(document.querySelectorAll('mjx-merror')).map(e => e.textContent)"
            )
            assert not failed, f"MathJax errors on {name}: {failed}"
    finally:
        page.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("name", PAGES)
def test_page_has_no_serious_accessibility_violation(browser, site, name, scheme):
    page, _, _ = offline_browser.open_page(browser, f"{site}/{name}.html", dark=scheme == "dark")
    try:
        if page.evaluate("document.querySelectorAll('span.math, div.math').length"):
            offline_browser.wait_for_math(page)
        if page.locator("script[type='application/vnd.jupyter.widget-view+json']").count():
            # the widgets are rendered
            page.wait_for_selector(".noUi-handle", timeout=offline_browser.LOAD_TIMEOUT_MS)
        violations = offline_browser.accessibility_violations(
            page, disabled_rules=tuple(DISABLED_AXE_RULES)
        )
        assert not violations, (
            f"axe-core on {name} ({scheme}):\n" + offline_browser.describe_violations(violations)
        )
    finally:
        page.close()


def _visible_frame(explorer) -> str:
    """The tail of the image source of the frame the explorer currently shows."""
    return explorer.evaluate(
        """box => {
            const shown = Array.from(box.querySelectorAll('img'))
                .filter(img => img.getClientRects().length > 0);
            return shown.length ? shown[0].src.slice(-200) : '';
        }"""
    )


@pytest.mark.parametrize("name", CHAPTER_PAGES)
def test_sliders_change_the_frame_without_a_kernel(browser, site, name, built_book):
    html = (built_book / "html" / f"{name}.html").read_text()
    if "application/vnd.jupyter.widget-state+json" not in html:
        pytest.skip(f"{name} has no widgets")
    page, errors, _ = offline_browser.open_page(browser, f"{site}/{name}.html")
    try:
        page.wait_for_selector(".noUi-handle", timeout=offline_browser.LOAD_TIMEOUT_MS)
        # An explorer is a VBox holding a slider and the frames (a Stack of images).
        box = page.locator(".widget-vbox", has=page.locator(".noUi-handle")).last
        handle = box.locator(".noUi-handle").first
        element = box.element_handle()
        before = _visible_frame(element)
        assert before, f"the first frame on {name} shows no image"
        handle.focus()
        for key in ["ArrowRight"] * 3 + ["ArrowLeft"] * 6:
            page.keyboard.press(key)
            page.wait_for_timeout(100)
            if _visible_frame(element) != before:
                break
        after = _visible_frame(element)
        assert after and after != before, f"moving the slider on {name} did not change the frame"
        assert not errors, f"JavaScript errors on {name}: {errors}"
        # What a screen reader announces: the slider's name, and the value it shows.
        label, value_text, shown = handle.evaluate(
            """h => [h.getAttribute('aria-label'), h.getAttribute('aria-valuetext'),
                     h.closest('.widget-slider').querySelector('.widget-readout').textContent]"""
        )
        assert label and label.startswith("slider"), f"unnamed slider on {name}: {label!r}"
        assert value_text == shown.strip(), f"slider on {name} says {value_text!r}, shows {shown!r}"
    finally:
        page.close()


def test_cdn_mirror_covers_the_scripts_the_pages_reference():
    """The mirror answers for the CDN files the build references, and for nothing else."""
    mirrored = [
        "https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js",
        "https://cdn.jsdelivr.net/npm/requirejs@2.3.4/require.js",
        "https://cdn.jsdelivr.net/npm/@jupyter-widgets/html-manager@1.0.6/dist/embed-amd.js",
    ]
    for url in mirrored:
        assert offline_browser.local_asset(url) is not None, url
    assert offline_browser.AXE.is_file(), "axe-core missing: run tools/install_browser_test_deps.sh"
    assert offline_browser.local_asset("https://example.org/script.js") is None
