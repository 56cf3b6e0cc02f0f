"""Shared test settings and the one build of the book that the book tests share."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parents[1]

settings.register_profile(
    "default", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("ci", parent=settings.get_profile("default"), derandomize=True)
settings.load_profile("ci" if os.environ.get("CI") else "default")


def toc_files() -> list[str]:
    """Every page of the book, in table-of-contents order (paths without suffix)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", [toc]):
        files += [entry["file"] for entry in part.get("chapters", [])]
    return files


@pytest.fixture(scope="session")
def built_book(tmp_path_factory) -> Path:
    """Build the whole book from scratch into a temporary folder; return its ``_build``.

    Tests using it belong to the xdist group "book", so the build runs once per session.
    To test an existing build instead (while working on the tests themselves), set
    ``BPBOOK_BUILT_BOOK`` to its ``_build`` folder.
    """
    existing = os.environ.get("BPBOOK_BUILT_BOOK")
    if existing:
        return Path(existing)
    out = tmp_path_factory.mktemp("book")
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "build_book.py"), "--path-output", str(out)],
        capture_output=True, text=True, timeout=3600, cwd=ROOT,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"book build failed:\n{log[-8000:]}"
    # Sphinx's own messages ("WARNING: ...") fail the build under -W already; this also
    # catches any that a future Sphinx reports without failing. The kernel's log line
    # "[IPKernelApp] WARNING | ... TCP" is about its loopback transport, not the book.
    problems = [line for line in log.splitlines() if re.search(r"\b(WARNING|ERROR):", line)]
    assert not problems, "\n".join(problems)
    return out / "_build"
