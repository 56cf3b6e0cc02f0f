"""The lint and type gates: ruff over the code, mypy over the package.

Both read their settings from ``pyproject.toml`` (which rules, which mypy flags, and why
each exception is there), so these tests, ``.pre-commit-config.yaml`` and a contributor
typing ``ruff check src tests tools bench`` or ``mypy`` all run the same checks. A
finding fails the test with the checker's own report, file and line first.
"""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT

#: What ruff checks: the package, its tests, the build tools and the benchmarks. Not the
#: chapters (MyST Markdown, which ruff does not read; their cells run in every build).
LINTED = ("src", "tests", "tools", "bench")


def run_ruff(*paths: str | Path, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``ruff check`` in the repository, one finding per line (``path:line:col: CODE``)."""
    options = ["--config", str(config)] if config else []
    return subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise",
         *options, *map(str, paths)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )


def run_mypy(*paths: str | Path, cache: Path) -> subprocess.CompletedProcess[str]:
    """``mypy`` in the repository (on ``files`` of pyproject.toml if no path is given)."""
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(cache), "--no-pretty",
         "--no-color-output", "--hide-error-context", *map(str, paths)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )


def codes(report: str) -> set[str]:
    """The rule codes in a report: ``F401`` from ruff, ``[arg-type]`` from mypy."""
    return set(re.findall(r": ([A-Z]+[0-9]+) ", report)) | set(
        re.findall(r"error: .*\[([a-z-]+)\]$", report, flags=re.MULTILINE)
    )


@pytest.fixture(scope="module")
def mypy_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # One cache for the module: the second run reads NumPy's stubs from it.
    return tmp_path_factory.mktemp("mypy-cache")


def test_ruff_finds_nothing():
    result = run_ruff(*LINTED)
    assert result.returncode == 0, (
        "ruff (configured in pyproject.toml) reports:\n" + result.stdout + result.stderr
        + "\nFix them; `ruff check --fix` fixes the import order and some others."
    )


def test_mypy_finds_nothing(mypy_cache):
    result = run_mypy(cache=mypy_cache)
    assert result.returncode == 0, (
        "mypy (configured in pyproject.toml) reports:\n" + result.stdout + result.stderr
    )
    assert "src/bpbook" not in result.stdout
    assert re.search(r"no issues found in \d+ source files", result.stdout), result.stdout


VIOLATIONS = '''\
import sys
import os


def pairs(first: list[int], second: list[int]) -> list[tuple[int, int]]:
    return list(zip(first, second))


def widths(layer_sizes: list[int]) -> list[int]:
    # The layer index l of the Notation page: allowed.
    return [layer_sizes[l] for l in range(1, len(layer_sizes))]
'''


def test_ruff_fails_on_a_finding(tmp_path):
    source = tmp_path / "violations.py"
    source.write_text(VIOLATIONS)
    result = run_ruff(source, config=ROOT / "pyproject.toml")
    assert result.returncode == 1, result.stdout + result.stderr
    # Imports out of order, one unused, zip() without strict=: all reported, with the line.
    found = codes(result.stdout)
    assert {"I001", "F401", "B905"} <= found, result.stdout
    assert f"{source}:6:" in result.stdout
    # The exception the Notation page needs stays an exception.
    assert "E741" not in found, result.stdout


def test_mypy_fails_on_a_finding(tmp_path, mypy_cache):
    # Wrong calls of the package's own functions, as a chapter or a module might make.
    source = tmp_path / "violations.py"
    source.write_text(
        "from bpbook.losses import mse\n"
        "from bpbook.network import MLP\n"
        "\n"
        "E = mse([[1.0]], [[0.0]], l2=0.1)\n"
        'net = MLP([2, 3, 1], activation="tanh", seed="zero")\n'
    )
    result = run_mypy(source, cache=mypy_cache)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{source}:4: error: Unexpected keyword argument \"l2\"" in result.stdout
    assert f"{source}:5: error:" in result.stdout
    assert {"call-arg", "arg-type"} <= codes(result.stdout), result.stdout


def test_pre_commit_runs_the_same_checks():
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    hooks = {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}
    # ruff on every file of the linted folders that a commit touches,
    assert hooks["ruff"]["entry"].endswith("ruff check")
    for folder in LINTED:
        assert re.search(hooks["ruff"]["files"], f"{folder}/module.py"), folder
    # mypy on the package as a whole (files = ... in pyproject.toml), not file by file:
    # a change in one module can break the calls in another.
    assert hooks["mypy"]["entry"].endswith("mypy")
    assert hooks["mypy"]["pass_filenames"] is False


def test_the_contributor_guide_names_what_exists():
    """CONTRIBUTING.md teaches with real names: its files and package objects exist."""
    guide = (ROOT / "CONTRIBUTING.md").read_text()
    paths = set(re.findall(r"\b((?:src/bpbook|tests|tools|bench|assignments)/[\w/.-]+\.(?:py|md))",
                           guide))
    assert len(paths) >= 10, paths
    missing = sorted(p for p in paths if not (ROOT / p).exists())
    assert not missing, f"CONTRIBUTING.md names files that do not exist: {missing}"
    names = set(re.findall(r"\bbpbook((?:\.\w+)+)", guide))
    assert len(names) >= 10, names
    unknown = []
    for dotted in sorted(names):
        parts = dotted.lstrip(".").split(".")
        try:
            obj = importlib.import_module(f"bpbook.{parts[0]}")
            for part in parts[1:]:
                obj = getattr(obj, part)
        except (ImportError, AttributeError):
            unknown.append("bpbook" + dotted)
    assert not unknown, f"CONTRIBUTING.md names what bpbook does not have: {unknown}"
