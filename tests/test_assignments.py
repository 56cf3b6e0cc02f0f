"""The autograded assignments: they build, hide what they must, and grade correctly.

One build of every assignment (into a temporary folder) and one grading run over a
folder of submissions are shared by the tests. The submissions are made here from the
reference solutions: the reference itself, the blank student notebook, one *wrong*
submission per classic mistake (the solution code with one line replaced), and
submissions that raise, loop forever or are not notebooks at all.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import build_assignments  # noqa: E402
import grade  # noqa: E402

pytestmark = [pytest.mark.book, pytest.mark.xdist_group("assignments")]

ASSIGNMENTS = ("loss_gradients", "backprop", "gradient_descent", "evolution_strategies")
CELL_TIMEOUT = 30
NOTEBOOK_TIMEOUT = 300


class Mistake:
    """A wrong submission: the reference with ``old`` replaced by ``new`` in one code cell."""

    def __init__(self, assignment: str, name: str, old: str, new: str, targeted_by: str):
        self.assignment, self.name = assignment, name
        self.old, self.new, self.targeted_by = old, new, targeted_by

    @property
    def filename(self) -> str:
        slug = re.sub(r"\W+", "_", self.name)
        return f"wrong_{self.assignment}_{slug}.ipynb"


MISTAKES = [
    Mistake("loss_gradients", "derivative with respect to a, not z",
            "dE_dz = sp.simplify(sp.diff(E_tanh, z))",
            "dE_dz = sp.simplify((a_tanh - y) / (a_tanh * (1 - a_tanh)))",
            "q1/test_differentiated_with_respect_to_z"),
    Mistake("loss_gradients", "sum instead of mean (no 1/m)",
            "return (activations.softmax(Z) - Y) / Z.shape[0]",
            "return activations.softmax(Z) - Y",
            "q2/test_divides_by_m"),
    Mistake("loss_gradients", "softmax that overflows",
            "return (activations.softmax(Z) - Y) / Z.shape[0]",
            "return (np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True) - Y) / Z.shape[0]",
            "q2/test_large_logits"),
    Mistake("loss_gradients", "calls the package's gradient",
            "return (activations.softmax(Z) - Y) / Z.shape[0]",
            "return losses.softmax_cross_entropy_gradient(Z, Y)",
            "q2/test_computes_it_itself"),
    Mistake("loss_gradients", "g instead of g' in the output delta",
            "* g.derivative(Z)", "* g.function(Z)",
            "q3/test_sigmoid_uses_derivative"),
    Mistake("loss_gradients", "one-sided difference",
            "grad[j] = (f(x + step) - f(x - step)) / (2 * h)",
            "grad[j] = (f(x + step) - f(x)) / h",
            "q4/test_error_is_second_order"),
    Mistake("backprop", "g instead of g' in the recursion",
            "net.activation.derivative(zs[l - 1])", "net.activation.function(zs[l - 1])",
            "q1/test_uses_derivative_not_activation"),
    Mistake("backprop", "missing transpose",
            "delta = (delta @ net.weights[l])", "delta = (delta @ net.weights[l].T)",
            "q1/test_transpose"),
    Mistake("backprop", "g' at the output layer",
            "net.activation.derivative(zs[l - 1])", "net.activation.derivative(zs[-1])",
            "q1/test_derivative_of_the_right_layer"),
    Mistake("backprop", "biases penalised",
            "grad_b[l] = delta.sum(axis=0)",
            "grad_b[l] = delta.sum(axis=0) + (l2 / m) * net.biases[l]",
            "q1/test_l2_penalty"),
    Mistake("gradient_descent", "1 over lambda_max",
            "return 2.0 / float(", "return 1.0 / float(",
            "q1/test_two_over_largest_eigenvalue"),
    Mistake("gradient_descent", "largest diagonal entry, not eigenvalue",
            "float(np.linalg.eigvalsh(np.asarray(A, dtype=np.float64)).max())",
            "float(np.max(np.diag(A)))",
            "q1/test_not_the_diagonal"),
    Mistake("gradient_descent", "no column of ones for the bias",
            "X_tilde = np.hstack([X_train, np.ones((m, 1))])", "X_tilde = X_train",
            "q2/test_predicted_rate"),
    Mistake("gradient_descent", "learning rate far too large",
            '"learning_rate": 0.5', '"learning_rate": 50.0',
            "q3/test_retrained"),
    Mistake("evolution_strategies", "ES estimate without 1/sigma",
            "return epsilons.T @ losses / (n * sigma)", "return epsilons.T @ losses / n",
            "q1/test_divides_by_sigma"),
    Mistake("evolution_strategies", "ES estimate without 1/n",
            "return epsilons.T @ losses / (n * sigma)", "return epsilons.T @ losses / sigma",
            "q1/test_average_not_sum"),
    Mistake("evolution_strategies", "global random state",
            "rng.standard_normal((n, theta.size))", "np.random.standard_normal((n, theta.size))",
            "q1/test_uses_the_generator"),
]


# --- the build ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """Every assignment built into a temporary folder (the repository is not touched)."""
    out = tmp_path_factory.mktemp("assignments")
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "build_assignments.py"), "--no-run-tests",
         "--output", str(out)],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def master_cells(name: str) -> list:
    return jupytext.read(build_assignments.masters()[name]).cells


def solution_text(name: str) -> tuple[list[str], list[str]]:
    """Code lines and Markdown paragraphs of the master that are solutions."""
    code, prose, in_block = [], [], False
    for cell in master_cells(name):
        source = cell.source
        if cell.cell_type == "raw":
            if source.strip() == "# BEGIN SOLUTION":
                in_block = True
            elif source.strip() == "# END SOLUTION":
                in_block = False
            continue
        if cell.cell_type == "markdown":
            if in_block:
                prose += [p.strip() for p in source.split("\n\n") if len(p.strip()) > 40]
            continue
        inside = False
        for line in source.splitlines():
            stripped = line.strip()
            if stripped == "# BEGIN SOLUTION":
                inside = True
            elif stripped == "# END SOLUTION":
                inside = False
            elif stripped.endswith("# SOLUTION"):
                code.append(stripped.removesuffix("# SOLUTION").strip())
            elif inside and len(stripped) > 3:
                code.append(stripped)
    return code, prose


def hidden_tests(name: str) -> tuple[list[str], list[str]]:
    """Names of the master's hidden and public test functions."""
    hidden, public = [], []
    for cell in master_cells(name):
        match = re.search(r"^def (test_\w+)\(", cell.source, flags=re.M)
        if cell.cell_type == "code" and match:
            is_hidden = re.search(r"^hidden:\s*true", cell.source, flags=re.M)
            (hidden if is_hidden else public).append(match.group(1))
    return hidden, public


def test_every_assignment_has_a_master():
    assert set(build_assignments.masters()) == set(ASSIGNMENTS)


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_student_notebook_has_no_solutions_and_no_hidden_tests(built, name):
    code, prose = solution_text(name)
    hidden, public = hidden_tests(name)
    assert code, f"{name}: found no solution code in the master"
    assert hidden and public, f"{name}: needs public and hidden tests"
    student = build_assignments.student_notebook(name, built)
    for path in (student, built / "pages" / f"{name}.ipynb"):
        nb = nbformat.read(path, as_version=4)
        text = path.read_text()
        lines = {line.strip() for cell in nb.cells if cell.cell_type == "code"
                 for line in cell.source.splitlines()}
        leaked = [line for line in code if line in lines]
        assert not leaked, f"{path.name} contains solution code: {leaked}"
        assert not [p for p in prose if p in text], f"{path.name} contains a written solution"
        assert "BEGIN SOLUTION" not in text and "# SOLUTION" not in text
        assert not [t for t in hidden if t in text], f"{path.name} contains hidden tests"
        tests = nb.metadata["otter"]["tests"]
        assert all("hidden=True" not in source for source in tests.values())
        shipped = re.findall(r"^def (test_\w+)\(", "\n".join(tests.values()), flags=re.M)
        assert sorted(shipped) == sorted(public), "every public test ships with the notebook"


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_book_page_shows_public_tests_and_is_not_executed(built, name):
    page = nbformat.read(built / "pages" / f"{name}.ipynb", as_version=4)
    assert page.metadata["mystnb"] == {"execution_mode": "off"}
    assert page.cells[0].cell_type == "markdown" and page.cells[0].source.startswith("# ")
    assert "otter.Notebook(" in page.cells[1].source
    boxes = [c.source for c in page.cells if "The public tests run by" in c.source]
    checks = [c for c in page.cells if c.source.startswith("grader.check(")]
    assert len(boxes) == len(checks) > 0
    for public in hidden_tests(name)[1]:
        assert any(f"def {public}(" in box for box in boxes), public


def test_building_an_unknown_assignment_names_it(tmp_path):
    with pytest.raises(ValueError, match="unknown assignment 'nope'.*backprop"):
        build_assignments.build("nope", output=tmp_path)


# --- grading ------------------------------------------------------------------------------

def reference(name: str, built: Path):
    return nbformat.read(build_assignments.dist(name, built) / "autograder" / f"{name}.ipynb", 4)


def replace_once(nb, old: str, new: str):
    """A copy of ``nb`` with ``old`` replaced by ``new`` in the one code cell holding it."""
    nb = nbformat.from_dict(nb)
    hits = [cell for cell in nb.cells if cell.cell_type == "code" and old in cell.source]
    assert len(hits) == 1 and hits[0].source.count(old) == 1, f"{old!r} is not unique"
    hits[0].source = hits[0].source.replace(old, new)
    return nb


@pytest.fixture(scope="module")
def grades(built, tmp_path_factory) -> dict[str, grade.Grade]:
    """Grade one folder holding every submission below; return the grades by file name."""
    folder = tmp_path_factory.mktemp("submissions")
    for name in ASSIGNMENTS:
        nbformat.write(reference(name, built), folder / f"reference_{name}.ipynb")
        blank = build_assignments.student_notebook(name, built)
        (folder / f"blank_{name}.ipynb").write_text(blank.read_text())
    for mistake in MISTAKES:
        wrong = replace_once(reference(mistake.assignment, built), mistake.old, mistake.new)
        nbformat.write(wrong, folder / mistake.filename)
    raises = replace_once(
        reference("loss_gradients", built), "def mse_delta(",
        'raise RuntimeError("a bug in the student\'s code")\n\n\ndef mse_delta(',
    )
    nbformat.write(raises, folder / "raises.ipynb")
    loops = replace_once(
        reference("loss_gradients", built), "def central_difference(",
        "while True:\n    pass\n\n\ndef central_difference(",
    )
    nbformat.write(loops, folder / "loops.ipynb")
    (folder / "not_json.ipynb").write_text('{"cells": [{"cell_type": "code", "sou')
    results = grade.grade_all(
        folder, timeout=NOTEBOOK_TIMEOUT, cell_timeout=CELL_TIMEOUT, jobs=4, autograders=built
    )
    return {Path(g.submission).name: g for g in results}


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_reference_solution_scores_full_marks(grades, name):
    result = grades[f"reference_{name}.ipynb"]
    assert result.status == "graded", result.reason
    assert result.possible > 0 and result.score == result.possible, result.failed()
    hidden, public = hidden_tests(name)
    assert len(result.tests) == len(hidden) + len(public)


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_blank_student_notebook_scores_nothing(grades, name):
    result = grades[f"blank_{name}.ipynb"]
    assert result.status == "graded", result.reason
    assert result.score == 0 and result.possible == grades[f"reference_{name}.ipynb"].possible


@pytest.mark.parametrize("mistake", MISTAKES, ids=lambda m: f"{m.assignment}: {m.name}")
def test_wrong_submission_fails_the_test_that_targets_it(grades, mistake):
    result = grades[mistake.filename]
    assert result.status == "graded", result.reason
    assert 0 < result.score < result.possible, (result.score, result.failed())
    assert mistake.targeted_by in result.failed(), result.failed()


def test_mistakes_are_told_apart(grades):
    """Each targeted test fails only for mistakes of its kind, not for every wrong answer."""
    for mistake in MISTAKES:
        others = [m for m in MISTAKES if m.assignment == mistake.assignment
                  and m.targeted_by != mistake.targeted_by]
        passing = [m for m in others if mistake.targeted_by not in grades[m.filename].failed()]
        assert passing or not others, f"{mistake.targeted_by} fails for every mistake"


def test_a_submission_that_raises_scores_what_it_earned(grades):
    result = grades["raises.ipynb"]
    assert result.status == "graded", result.reason
    q3 = grades["reference_loss_gradients.ipynb"].questions["q3"][1]
    assert result.questions["q3"][0] == 0
    assert result.score == result.possible - q3


def test_a_cell_that_never_finishes_is_interrupted_and_the_rest_graded(grades):
    result = grades["loops.ipynb"]
    assert result.status == "graded", result.reason
    q4 = grades["reference_loss_gradients.ipynb"].questions["q4"][1]
    assert result.questions["q4"][0] == 0
    assert result.score == result.possible - q4


def test_a_file_that_is_not_a_notebook_scores_zero_with_a_reason(grades, built):
    assert grades["not_json.ipynb"].status == "error"
    assert "assignment" in grades["not_json.ipynb"].reason
    # Told which assignment it is, the grader reaches otter, which cannot read it either.
    folder = Path(grades["not_json.ipynb"].submission).parent
    result = grade.grade_notebook(folder / "not_json.ipynb", "loss_gradients", autograders=built)
    assert (result.status, result.score) == ("error", 0.0)
    assert re.search(r"JSON|json|Notebook", result.reason), result.reason


def test_every_other_submission_was_graded(grades):
    broken = {"not_json.ipynb"}
    assert all(g.status == "graded" for f, g in grades.items() if f not in broken)
    assert len(grades) == 2 * len(ASSIGNMENTS) + len(MISTAKES) + 3


def test_a_notebook_that_never_finishes_is_stopped_at_the_timeout(grades, built):
    loops = Path(grades["loops.ipynb"].submission)
    mine = os.getpid()  # other test processes may be grading at the same time
    assert not grade.marked_processes(owner=mine), "a previous grading left processes behind"
    result = grade.grade_notebook(loops, timeout=20, cell_timeout=600, autograders=built)
    assert result.status == "error" and result.score == 0
    assert "did not finish within 20 s" in result.reason
    # The kernel, busy in the endless loop, was killed with the worker.
    assert not grade.marked_processes(owner=mine), "the stopped notebook's processes still run"


def test_command_line_writes_a_table(grades, built, tmp_path):
    folder = tmp_path / "submissions"
    folder.mkdir()
    reference = grades["reference_backprop.ipynb"]
    (folder / "alice.ipynb").write_text(Path(reference.submission).read_text())
    full = f"{reference.possible:g}"
    (folder / "bob.ipynb").write_text("not a notebook")
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "grade.py"), str(folder), "--autograders",
         str(built), "--timeout", "120"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert f"| alice.ipynb | backprop | {full} / {full} | 100 | graded |" in result.stdout
    assert "| bob.ipynb | ? | 0 / 0 | 0 | error |" in result.stdout
    rows = (folder / "scores.csv").read_text().splitlines()
    assert rows[0].startswith("submission,assignment,score,possible,percent,status")
    assert rows[1].startswith(f"alice.ipynb,backprop,{full},{full},100.0,graded")
    assert (folder / "scores.json").is_file()
