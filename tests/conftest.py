"""Shared test settings and the one build of the book that the book tests share."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
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


#: A repository for the launch-button tests; nothing is fetched from it.
TEST_REPOSITORY = ("https://github.com/test-owner/test-book", "test-branch")


def build(output: Path, *options: str, repository: tuple[str, str] = ("", "")) -> str:
    """Run ``tools/build_book.py`` into ``output``; return its log, failing on a warning.

    The repository setting is given explicitly (empty by default), so the result does not
    depend on ``_config.yml`` or on the environment the tests run in (the CI sets it).
    """
    env = {**os.environ, "BPBOOK_REPOSITORY_URL": repository[0],
           "BPBOOK_REPOSITORY_BRANCH": repository[1], "BPBOOK_JUPYTERHUB_URL": ""}
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "build_book.py"), "--path-output", str(output),
         *options],
        capture_output=True, text=True, timeout=3600, cwd=ROOT, env=env,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"book build failed:\n{log[-8000:]}"
    # Sphinx's own messages ("WARNING: ...") fail the build under -W already; this also
    # catches any that a future Sphinx reports without failing. The kernel's log line
    # "[IPKernelApp] WARNING | ... TCP" is about its loopback transport, not the book.
    problems = [line for line in log.splitlines() if re.search(r"\b(WARNING|ERROR):", line)]
    assert not problems, "\n".join(problems)
    return log


@pytest.fixture(scope="session")
def built_book(tmp_path_factory) -> Path:
    """Build the whole book from scratch into a temporary folder; return its ``_build``.

    The build has no repository set, so its pages have no launch buttons. Tests using it
    belong to the xdist group "book", so the build runs once per session. To test an
    existing build instead (while working on the tests themselves), set
    ``BPBOOK_BUILT_BOOK`` to its ``_build`` folder.
    """
    existing = os.environ.get("BPBOOK_BUILT_BOOK")
    if existing:
        return Path(existing)
    out = tmp_path_factory.mktemp("book")
    build(out)
    return out / "_build"


@pytest.fixture(scope="session")
def published_book(built_book, tmp_path_factory) -> Path:
    """The book as the GitHub workflow publishes it: the PDF first, then the website,
    with the repository set to :data:`TEST_REPOSITORY`; return its ``_build``.

    It starts from a copy of :func:`built_book`, whose cache holds every chapter's
    execution, so nothing is executed again. ``BPBOOK_PUBLISHED_BOOK`` names an existing
    one instead.
    """
    existing = os.environ.get("BPBOOK_PUBLISHED_BOOK")
    if existing:
        return Path(existing)
    out = tmp_path_factory.mktemp("published")
    shutil.copytree(built_book, out / "_build", symlinks=True)
    build(out, "--pdf", repository=TEST_REPOSITORY)
    build(out, repository=TEST_REPOSITORY)
    return out / "_build"


@contextmanager
def jupyterlab(root: Path, env: dict[str, str], log: Path, *options: str) -> Iterator[str]:
    """JupyterLab serving ``root`` on a free loopback port; yields its URL once it answers.

    ``env`` is the server's whole environment (its Jupyter folders, its PATH); ``options``
    are added to the command line; the server's output goes to ``log``, whose end is the
    failure message if the server does not answer within two minutes.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [str(Path(sys.executable).parent / "jupyter"), "lab", "--no-browser",
               f"--port={port}", "--ServerApp.ip=127.0.0.1", f"--ServerApp.root_dir={root}",
               *options]
    if os.geteuid() == 0:
        command.append("--allow-root")
    url = f"http://127.0.0.1:{port}"
    with open(log, "w") as output:
        server = subprocess.Popen(command, env=env, cwd=root, stdout=output,
                                  stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    urllib.request.urlopen(f"{url}/api/status", timeout=2)
                    break
                except urllib.error.HTTPError:
                    break  # it answers, and asks for the token the test was given
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        pytest.fail("JupyterLab did not start: " + log.read_text()[-3000:])
                    time.sleep(0.5)
            yield url
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
