"""The autograder zip grades on its own: a fresh environment from its requirements.

What a container (Gradescope's, or ``otter grade``-style Docker) does with the zip, without
Docker: unpack it, create a fresh virtual environment, install ``requirements.txt`` (which
brings the ``bpbook`` wheel shipped in the zip), and run the grader as ``run_autograder``
does on a reference and on a wrong submission.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import build_assignments  # noqa: E402

import test_assignments  # noqa: E402
from test_assignments import reference, replace_once  # noqa: E402

pytestmark = [pytest.mark.book, pytest.mark.xdist_group("assignments")]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """The session's build of every assignment (shared with tests/test_assignments.py)."""
    return test_assignments.build_once(tmp_path_factory)


@pytest.fixture(scope="module")
def environment(built, tmp_path_factory):
    """The unpacked autograder of ``loss_gradients`` and a fresh venv built from it."""
    work = tmp_path_factory.mktemp("gradescope")
    source = work / "source"
    with zipfile.ZipFile(build_assignments.autograder_zip("loss_gradients", built)) as archive:
        archive.extractall(source)
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    install = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "-r",
         "requirements.txt"], cwd=source, capture_output=True, text=True, timeout=1800)
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    return source, venv


def run_autograder(environment, notebook, tmp_path) -> dict:
    source, venv = environment
    submission = tmp_path / "submission"
    submission.mkdir()
    nbformat.write(notebook, submission / "loss_gradients.ipynb")
    (tmp_path / "submission_metadata.json").write_text(
        json.dumps({"users": [{"sid": "s0042", "email": "student@example.org"}]}))
    results = tmp_path / "results" / "results.json"
    finished = subprocess.run(
        [str(venv / "bin" / "python"), "grade.py", "--gradescope", str(submission),
         "--autograder-folder", str(source), "--results", str(results)],
        cwd=source, capture_output=True, text=True, timeout=900)
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    return json.loads(results.read_text())


def test_the_environment_has_what_grading_needs_and_no_more(environment):
    _, venv = environment
    probe = subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "import bpbook, sympy, sklearn, IPython, importlib.util as u; print(bpbook.__file__);"
         "print(u.find_spec('otter'), u.find_spec('jupyterlab'))"],
        capture_output=True, text=True, check=True)
    location, missing = probe.stdout.splitlines()
    assert str(venv) in location  # the wheel from the zip, not the repository
    assert missing == "None None"


def test_the_reference_scores_full_marks(environment, built, tmp_path):
    results = run_autograder(environment, reference("loss_gradients", built), tmp_path)
    total = sum(test["max_score"] for test in results["tests"])
    assert total > 0 and results["score"] == total
    assert all(test["score"] == test["max_score"] for test in results["tests"])


def test_a_wrong_submission_fails_the_check_that_names_its_mistake(environment, built,
                                                                   tmp_path):
    wrong = replace_once(reference("loss_gradients", built), "error * g.derivative(Z)",
                         "error * g.function(Z)")
    results = run_autograder(environment, wrong, tmp_path)
    failed = [t for t in results["tests"] if t["score"] < t["max_score"]]
    assert [t["name"] for t in failed] == ["q3 derivative_factor (hidden)"]
    assert "instead of its derivative" in " ".join(failed[0]["output"].split())
    assert results["score"] == sum(t["max_score"] for t in results["tests"]) - 2
