"""The autograded assignments: built, leak-free, editable, fair, and graded with integrity.

One build of every assignment (into a temporary folder) and one grading run over a folder
of submissions are shared by the tests. The submissions are made here from the reference
solutions and the blank student notebooks:

- the reference and the blank notebook of each assignment;
- one *wrong* submission per classic mistake (the reference with one line replaced), each
  of which must fail exactly the check that targets it, with a message naming the mistake;
- correct alternatives, which must score full marks;
- answers computed for another student id, which must not score;
- *attacks* (the blank notebook with one cell added): each must score what the blank
  notebook scores and leave every other submission's score as it is.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import jupytext
import nbformat
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import build_assignments  # noqa: E402

pytestmark = [pytest.mark.book, pytest.mark.xdist_group("assignments")]

ASSIGNMENTS = ("loss_gradients", "backprop", "gradient_descent", "evolution_strategies")
#: Limits of the shared grading run (seconds); generous, the machine may be busy.
LIMITS = ["--timeout", "300", "--cell-timeout", "120"]


# --- the build ------------------------------------------------------------------------------

_BUILT: list[Path] = []


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> Path:
    """Every assignment built into a temporary folder (the repository is not touched)."""
    return build_once(tmp_path_factory)


def build_once(tmp_path_factory) -> Path:
    """The build of every assignment, made once per session (other test modules use it).

    To test an existing build instead (while working on the tests themselves), set
    ``BPBOOK_BUILT_ASSIGNMENTS`` to the ``--output`` folder of ``build_assignments.py``.
    """
    existing = os.environ.get("BPBOOK_BUILT_ASSIGNMENTS")
    if existing:
        return Path(existing)
    if not _BUILT:
        out = tmp_path_factory.mktemp("assignments")
        result = subprocess.run(
            [sys.executable, str(ROOT / "tools" / "build_assignments.py"), "--no-run-tests",
             "--output", str(out)],
            capture_output=True, text=True, timeout=1200, cwd=ROOT,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        _BUILT.append(out)
    return _BUILT[0]


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
            elif inside and len(stripped) > 3 and not stripped.startswith("#"):
                code.append(stripped)
    return code, prose


def public_tests(name: str) -> list[str]:
    return [m.group(1) for cell in master_cells(name) if cell.cell_type == "code"
            for m in [re.search(r"^def (test_\w+)\(", cell.source, flags=re.M)] if m]


def checks_module(name: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        f"test_checks_{name}", ROOT / "assignments" / name / "checks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def secret_strings(name: str) -> list[str]:
    """Strings only the grader knows: the failure messages of the hidden checks, and the
    code of the checks."""
    source = (ROOT / "assignments" / name / "checks.py").read_text()
    shared = inspect.getsource(checks_module(name).student_data)
    master = build_assignments.masters()[name].read_text()  # public failure messages
    messages = [m for m in re.findall(r'"([^"\n]{40,})"', source)
                if "{" not in m and m not in shared and m not in master]
    return messages + ["@check(", "from grading_checks import"]


def test_every_assignment_has_a_master_and_checks():
    assert set(build_assignments.masters()) == set(ASSIGNMENTS)
    for name in ASSIGNMENTS:
        assert (ROOT / "assignments" / name / "checks.py").is_file()


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_masters_follow_the_notation_page(name):
    """W^(l) is weights[l-1], the L2 penalty is (α/2)Σ‖W‖² with gradient αW, M probes."""
    text = build_assignments.masters()[name].read_text()
    checks = (ROOT / "assignments" / name / "checks.py").read_text()
    for forbidden in (r"zs\[l\]` is", r"W_l", r"\\frac\{\\lambda\}\{2m\}", r"l2 / m\b",
                      r"\\lambda\}\{m\}", r"\bF\(\\theta", r"\(\\delta\s*W_l\)"):
        assert not re.search(forbidden, text), (name, forbidden)
        assert not re.search(forbidden, checks), (name, forbidden)
    assert "Notation page" in " ".join(text.split())


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_student_data_is_the_same_in_master_and_checks(name):
    """The notebook makes the student's data with the function the grader uses."""
    function = inspect.getsource(checks_module(name).student_data).strip()
    cells = [c.source for c in master_cells(name) if "def student_data(" in c.source]
    assert len(cells) == 1 and cells[0].startswith(function), name


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_student_data_differs_between_students(name):
    module = checks_module(name)

    def numbers(data) -> np.ndarray:
        flat = []
        for item in data:
            if hasattr(item, "weights"):
                flat += [np.ravel(W) for W in item.weights]
            elif hasattr(item, "X_train"):
                flat.append(np.ravel(item.X_train[:5]))
            else:
                flat.append(np.ravel(np.asarray(item, dtype=float)))
        return np.concatenate(flat)

    alice, bob = numbers(module.student_data("alice")), numbers(module.student_data("bob"))
    assert alice.shape != bob.shape or not np.allclose(alice, bob)
    assert np.array_equal(alice, numbers(module.student_data("alice")))
    with pytest.raises(ValueError, match="STUDENT_ID"):
        module.student_data(...)


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_student_notebook_has_no_solutions_and_no_hidden_tests(built, name):
    code, prose = solution_text(name)
    assert code, f"{name}: found no solution code in the master"
    for path in (build_assignments.student_notebook(name, built),
                 built / "pages" / f"{name}.ipynb"):
        nb = nbformat.read(path, as_version=4)
        text = path.read_text()
        lines = {line.strip() for cell in nb.cells if cell.cell_type == "code"
                 for line in cell.source.splitlines()}
        leaked = [line for line in code if line in lines]
        assert not leaked, f"{path.name} contains solution code: {leaked}"
        assert not [p for p in prose if p in text], f"{path.name} contains a written solution"
        assert "BEGIN SOLUTION" not in text and "# SOLUTION" not in text
        assert not [s for s in secret_strings(name) if s in text], path.name
        tests = nb.metadata["otter"]["tests"]
        shipped = re.findall(r"^def (test_\w+)\(", "\n".join(tests.values()), flags=re.M)
        assert sorted(shipped) == sorted(public_tests(name))


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_answer_cells_are_editable_and_only_machinery_is_locked(built, name):
    """otter locks question cells outside solution blocks; every answer must be editable."""
    nb = nbformat.read(build_assignments.student_notebook(name, built), as_version=4)
    answers = 0
    for cell in nb.cells:
        source, meta = cell.source, cell.metadata
        placeholder = cell.cell_type == "code" and re.search(r"(=|^\s*)\s*\.\.\.\s*$", source,
                                                             flags=re.M)
        written = cell.cell_type == "markdown" and "Type your answer here" in source
        if "STUDENT_ID =" in source:
            assert meta.get("editable", True) is True
        elif placeholder or written:
            answers += 1
            assert meta.get("editable", True) is True, source[:80]
            assert re.fullmatch(r"q\d+", meta.get("bpbook", {}).get("answer", "")), source[:80]
        elif "otter.Notebook(" in source or "def student_data(" in source or \
                source.startswith("grader.check("):
            assert meta.get("editable") is False, source[:80]
        elif cell.cell_type == "code":
            assert meta.get("editable", True) is True, f"needlessly locked: {source[:80]}"
    questions = {q for q, c in checks_module(name).QUESTIONS.items()}
    assert answers >= len(questions)


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_book_page_links_the_bundle_and_shows_public_tests(built, name):
    page = nbformat.read(built / "pages" / f"{name}.ipynb", as_version=4)
    assert page.metadata["mystnb"] == {"execution_mode": "off"}
    assert page.cells[0].cell_type == "markdown" and page.cells[0].source.startswith("# ")
    assert f"{{download}}`the student bundle <{name}-student.zip>`" in page.cells[1].source
    assert (built / "pages" / f"{name}-student.zip").is_file()
    assert not any("otter.Notebook(" in c.source for c in page.cells)
    boxes = [c.source for c in page.cells if "The public tests run by" in c.source]
    checks = [c for c in page.cells if c.source.startswith("grader.check(")]
    assert len(boxes) == len(checks) > 0
    for public in public_tests(name):
        assert any(f"def {public}(" in box for box in boxes), public


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_student_bundle_holds_the_notebook_and_the_package_and_nothing_secret(built, name):
    code, prose = solution_text(name)
    package = {p.name: p.read_bytes() for p in (ROOT / "src" / "bpbook").glob("*.py")}
    with zipfile.ZipFile(build_assignments.bundle(name, built)) as bundle:
        names = sorted(bundle.namelist())
        wheel_name = next(n for n in names if n.endswith(".whl"))
        assert names == sorted([f"{name}/{name}.ipynb", f"{name}/README.md",
                                f"{name}/requirements.txt", wheel_name])
        # The notebook is the student notebook (checked for leaks above), byte for byte.
        notebook = build_assignments.student_notebook(name, built).read_bytes()
        assert bundle.read(f"{name}/{name}.ipynb") == notebook
        for member in (f"{name}/README.md", f"{name}/requirements.txt"):
            text = bundle.read(member).decode()
            assert not [line for line in code if len(line) > 25 and line in text], member
            assert not [p for p in prose if p in text], member
            assert not [s for s in secret_strings(name) if s in text], member
        requirements = bundle.read(f"{name}/requirements.txt").decode()
        assert f"./{Path(wheel_name).name}" in requirements and "otter-grader" in requirements
        wheel = zipfile.ZipFile(bundle.open(wheel_name))
    # The wheel holds the published package, byte for byte, and metadata: nothing else.
    files = {Path(n).name: wheel.read(n) for n in wheel.namelist() if n.startswith("bpbook/")}
    assert files == package
    assert all(n.startswith(("bpbook/", "bpbook-")) for n in wheel.namelist())


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_autograder_is_self_contained_and_holds_no_solution(built, name):
    """No master, no reference notebook, no written solution, no copy of a solution block.

    (The checks compute what is expected, so single lines of an answer, such as a loop
    header, may appear in them; three consecutive lines of a solution may not, unless two
    of them are printed by the question itself.)
    """
    _, prose = solution_text(name)
    blocks = solution_blocks(name)
    student = nbformat.read(build_assignments.student_notebook(name, built), as_version=4)
    public = {line.strip() for cell in student.cells for line in cell.source.splitlines()}
    with zipfile.ZipFile(build_assignments.autograder_zip(name, built)) as archive:
        names = set(archive.namelist())
        assert {"checks.py", "assignment.json", "grade.py", "grading_checks.py",
                "grading_runner.py", "grading_sandbox.py", "requirements.txt", "setup.sh",
                "run_autograder"} <= names
        assert any(n.startswith("bpbook-") and n.endswith(".whl") for n in names)
        assert not any(n.endswith((".md", ".ipynb")) and n != "README.md" for n in names)
        for member in names - {n for n in names if n.endswith(".whl")}:
            lines = [line.strip() for line in archive.read(member).decode().splitlines()]
            text = "\n".join(lines)
            assert not [p for p in prose if p in text], member
            for block in blocks:
                for i in range(len(block) - 2):
                    window = block[i:i + 3]
                    if sum(line in public for line in window) >= 2:
                        continue  # mostly a call the question prints
                    assert "\n".join(window) not in text, (member, window)
        requirements = archive.read("requirements.txt").decode()
        for package in ("numpy", "sympy", "scikit-learn", "ipython"):
            assert package in requirements


def solution_blocks(name: str) -> list[list[str]]:
    """The master's solutions as blocks of consecutive non-empty code lines."""
    blocks, in_block = [], False
    for cell in master_cells(name):
        if cell.cell_type == "raw":
            in_block = {"# BEGIN SOLUTION": True, "# END SOLUTION": False}.get(
                cell.source.strip(), in_block)
            continue
        if cell.cell_type != "code" or "BEGIN TEST CONFIG" in cell.source:
            continue
        lines = [line.strip() for line in cell.source.splitlines()]
        if in_block:
            blocks.append([line for line in lines if line and not line.startswith("#")])
    return blocks


def test_autograder_zip_is_reproducible(tmp_path):
    """Built twice (wheel included), the zip has the same bytes, so its hash identifies it.

    Both builds run here, one after the other: the package may change between this
    session's first build and now, while other work goes on in the same tree.
    """
    first = build_assignments.write_autograder("backprop", build_assignments.build_wheel(),
                                               tmp_path / "one").read_bytes()
    build_assignments.build_wheel.cache_clear()
    again = build_assignments.write_autograder("backprop", build_assignments.build_wheel(),
                                               tmp_path / "two").read_bytes()
    assert again == first


def test_building_an_unknown_assignment_names_it(tmp_path):
    with pytest.raises(ValueError, match="unknown assignment 'nope'.*backprop"):
        build_assignments.build("nope", output=tmp_path)


# --- submissions ----------------------------------------------------------------------------

def reference(name: str, built: Path):
    return nbformat.read(build_assignments.reference_notebook(name, built), as_version=4)


def blank(name: str, built: Path):
    return nbformat.read(build_assignments.student_notebook(name, built), as_version=4)


def replace_once(nb, old: str, new: str):
    """A copy of ``nb`` with ``old`` replaced by ``new`` in the one code cell holding it."""
    nb = nbformat.from_dict(nb)
    hits = [cell for cell in nb.cells if cell.cell_type == "code" and old in cell.source]
    assert len(hits) == 1 and hits[0].source.count(old) == 1, f"{old!r} is not unique"
    hits[0].source = hits[0].source.replace(old, new)
    return nb


def with_cell(nb, source: str, position: int | None = None):
    """A copy of ``nb`` with a code cell added (at the end, by default)."""
    nb = nbformat.from_dict(nb)
    cell = nbformat.v4.new_code_cell(source)
    nb.cells.insert(len(nb.cells) if position is None else position, cell)
    return nb


class Mistake:
    """A wrong submission: the reference with ``old`` replaced by ``new`` in one code cell.

    ``fails`` lists every check it must fail (``question/check``); ``message`` is a pattern
    the first of those checks' messages must contain (the named mistake).
    """

    def __init__(self, assignment, name, old, new, fails, message):
        self.assignment, self.name, self.old, self.new = assignment, name, old, new
        self.fails = set(fails)
        self.message = message

    @property
    def filename(self) -> str:
        return f"wrong_{self.assignment}_{slug(self.name)}.ipynb"


def slug(text: str) -> str:
    return re.sub(r"\W+", "_", text)


RECURSION = "delta = (delta @ net.weights[l - 1]) * net.activation.derivative(zs[l - 2])"
MISTAKES = [
    # backprop
    Mistake("backprop", "g instead of g'", RECURSION,
            "delta = (delta @ net.weights[l - 1]) * net.activation.function(zs[l - 2])",
            ["q1/recursion"], r"g\(Z\^\(\d\)\), the activation, instead of its derivative"),
    Mistake("backprop", "missing transpose", RECURSION,
            "delta = (delta @ net.weights[l - 1].T) * net.activation.derivative(zs[l - 2])",
            ["q1/recursion"], r"W\^\(\d\)ᵀ|differ in width"),
    Mistake("backprop", "g' at the layer above", RECURSION,
            "delta = (delta @ net.weights[l - 1]) * net.activation.derivative(zs[l - 1])",
            ["q1/recursion"], r"layer above"),
    Mistake("backprop", "g' of the activation", RECURSION,
            "delta = (delta @ net.weights[l - 1]) * net.activation.derivative(activations[l - 1])",
            ["q1/recursion"], r"g' of the activation"),
    Mistake("backprop", "no recursion", RECURSION, "delta = delta",
            ["q1/recursion"], r"should be \(δ\^\(\d\) W\^\(\d\)\) ⊙ g'"),
    Mistake("backprop", "bias gradient is a mean", "grad_b[l - 1] = delta.sum(axis=0)",
            "grad_b[l - 1] = delta.mean(axis=0)", ["q1/gradients"], r"not their mean"),
    Mistake("backprop", "weight gradient divided by m again",
            "grad_W[l - 1] = delta.T @ activations[l - 1] + l2",
            "grad_W[l - 1] = delta.T @ activations[l - 1] / len(delta) + l2",
            ["q1/gradients"], r"divided by m once too often"),
    Mistake("backprop", "penalty depends on m", "+ l2 * net.weights[l - 1]",
            "+ l2 / len(delta) * net.weights[l - 1]", ["q1/l2_penalty"], r"\(α/m\) W"),
    Mistake("backprop", "biases penalised", "grad_b[l - 1] = delta.sum(axis=0)",
            "grad_b[l - 1] = delta.sum(axis=0) + l2 * net.biases[l - 1]",
            ["q1/l2_penalty"], r"biases are not penalised"),
    Mistake("backprop", "DeltaMLP without the penalty",
            "E = E + losses.l2_penalty(self.weights, l2)", "E = E",
            ["q2/loss_with_penalty"], r"without the penalty"),
    Mistake("backprop", "DeltaMLP calls the package",
            "grad_W, grad_b, _ = backward(self, zs, activations, delta_L, l2)",
            "_, grad_W, grad_b = MLP.gradients(self, X, Y, loss, l2)",
            ["q2/loss_with_penalty", "q2/uses_your_backward"], r"MLP\.gradients"),
    Mistake("backprop", "input gradient without 1/m",
            "return per_example / len(per_example) @ net.weights[0]",
            "return per_example @ net.weights[0]", ["q3/input_gradient"], r"m times too large"),
    # loss_gradients
    Mistake("loss_gradients", "derivative with respect to a",
            "dE_dz = sp.simplify(sp.diff(E_tanh, z))",
            "dE_dz = sp.simplify((a_tanh - y) / (a_tanh * (1 - a_tanh)))",
            ["q1/derivative"], r"with respect to the output a"),
    Mistake("loss_gradients", "not simplified", "dE_dz = sp.simplify(sp.diff(E_tanh, z))",
            "dE_dz = sp.diff(E_tanh, z)", ["q1/simplified"], r"not simplified"),
    Mistake("loss_gradients", "sum instead of mean",
            "return (probabilities - np.asarray(Y, dtype=np.float64)) / len(Z)",
            "return probabilities - np.asarray(Y, dtype=np.float64)",
            ["q2/matches_reference"], r"m times too large"),
    Mistake("loss_gradients", "softmax that overflows",
            "probabilities = activations.softmax(Z)",
            "probabilities = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)",
            ["q2/large_logits"], r"inf or nan"),
    Mistake("loss_gradients", "calls the package's gradient",
            "return (probabilities - np.asarray(Y, dtype=np.float64)) / len(Z)",
            "return losses.softmax_cross_entropy_gradient(Z, Y)",
            ["q2/shape", "q2/matches_reference", "q2/large_logits",
             "q2/checked_with_differences"], r"softmax_cross_entropy_gradient"),
    Mistake("loss_gradients", "g instead of g'", "error * g.derivative(Z)",
            "error * g.function(Z)", ["q3/derivative_factor"], r"instead of\s+its derivative"),
    Mistake("loss_gradients", "squared error without the 2", "return 2.0 / len(Z)",
            "return 1.0 / len(Z)", ["q3/factor_two_over_m"], r"factor 2"),
    Mistake("loss_gradients", "one-sided difference",
            "grad[j] = (f(x + step) - f(x - step)) / (2 * h)",
            "grad[j] = (f(x + step) - f(x)) / h", ["q4/second_order"], r"order h, not h²"),
    Mistake("loss_gradients", "x changed in place",
            "grad[j] = (f(x + step) - f(x - step)) / (2 * h)",
            "x[j] += h\n        f_plus = f(x)\n        x[j] -= 2 * h\n"
            "        grad[j] = (f_plus - f(x)) / (2 * h)",
            ["q4/leaves_x_unchanged"], r"x was changed"),
    Mistake("loss_gradients", "one-dimensional x only", "for j in np.ndindex(x.shape):",
            "for j in range(len(x)):", ["q4/matrix_argument"], r"two-dimensional x"),
    Mistake("loss_gradients", "class weights ignored",
            "return per_example[:, None] * (activations.softmax(Z) - Y) / len(Z)",
            "return (activations.softmax(Z) - Y) / len(Z)", ["q5/weighted_delta"],
            r"ignores the class weights"),
    Mistake("loss_gradients", "class weights on columns",
            "return per_example[:, None] * (activations.softmax(Z) - Y) / len(Z)",
            "return np.asarray(class_weights)[None, :] * (activations.softmax(Z) - Y) / len(Z)",
            ["q5/weighted_delta"], r"columns"),
    # gradient_descent
    Mistake("gradient_descent", "1 over lambda_max", "return 2.0 * (1.0 + momentum)",
            "return 1.0 * (1.0 + momentum)", ["q1/two_over_lambda_max"], r"one step"),
    Mistake("gradient_descent", "largest diagonal entry",
            "/ float(np.linalg.eigvalsh(A).max())", "/ float(np.max(np.diag(A)))",
            ["q1/two_over_lambda_max"], r"diagonal entry"),
    Mistake("gradient_descent", "momentum ignored", "return 2.0 * (1.0 + momentum)",
            "return 2.0 * (1.0 + 0 * momentum)", ["q1/with_momentum"], r"ignored"),
    Mistake("gradient_descent", "no column of ones",
            "X_tilde = np.hstack([X_train, np.ones((m, 1))])", "X_tilde = X_train",
            ["q2/hessian"], r"lacks the bias"),
    Mistake("gradient_descent", "measured, not predicted",
            "eta_star_digits = critical_learning_rate(A_digits)",
            "eta_star_digits = 2 / largest_curvature(linear_net, X_train, Y_train, loss='mse')",
            ["q2/uses_your_rate"], r"measured"),
    Mistake("gradient_descent", "arbitrary rates",
            "eta_stable, eta_diverged = 0.95 * eta_star_digits, 1.05 * eta_star_digits",
            "eta_stable, eta_diverged = 0.001, 10.0", ["q2/divergence_shown"],
            r"0\.95 and 1\.05"),
    Mistake("gradient_descent", "best parameters not restored",
            "net.weights, net.biases = best", "net.weights = net.weights",
            ["q3/best_parameters_restored"], r"last epoch"),
    Mistake("gradient_descent", "patience off by one", "elif epoch - best_epoch >= patience:",
            "elif epoch - best_epoch > patience:", ["q3/stopping_epoch"], r"went on"),
    Mistake("gradient_descent", "training loss for stopping",
            "\n        loss = net.loss(X_val, y_val,",
            "\n        loss = net.loss(X_train, y_train,",
            ["q3/validation_losses"], r"val_losses should hold"),
    # evolution_strategies
    Mistake("evolution_strategies", "no 1/sigma", "/ (M * sigma)", "/ M", ["q1/formula"],
            r"division by σ is missing"),
    Mistake("evolution_strategies", "sum instead of mean", "/ (M * sigma)", "/ sigma",
            ["q1/formula"], r"sum over the probes"),
    Mistake("evolution_strategies", "wrong sign", "return epsilons.T @ probe_losses",
            "return -epsilons.T @ probe_losses", ["q1/formula"], r"wrong sign"),
    Mistake("evolution_strategies", "global random state", "rng.standard_normal((M, theta.size))",
            "np.random.standard_normal((M, theta.size))", ["q1/uses_the_generator"],
            r"not from\s+np\.random"),
    Mistake("evolution_strategies", "cosines from the formula",
            "cosines[M] = float(g @ exact / (np.linalg.norm(g) * np.linalg.norm(exact)))",
            "cosines[M] = float(np.sqrt(M / (M + n)))", ["q2/cosines_from_your_estimates"],
            r"is not the cosine"),
    Mistake("evolution_strategies", "no baseline",
            "lambda T: objective(T) - objective(theta0)", "objective",
            ["q2/cosines_from_your_estimates"], r"minus its\s+value"),
]

#: Correct answers written differently from the reference: full marks.
ALTERNATIVES = [
    ("backprop", "derivative from the output", RECURSION,
     "delta = (delta @ net.weights[l - 1]) * net.activation.derivative_from_output("
     "activations[l - 1])"),
    ("backprop", "transpose of the column form", RECURSION,
     "delta = (net.weights[l - 1].T @ delta.T).T * net.activation.derivative(zs[l - 2])"),
    ("loss_gradients", "restore by arithmetic",
     "grad[j] = (f(x + step) - f(x - step)) / (2 * h)",
     "x[j] += h\n        f_plus = f(x)\n        x[j] -= 2 * h\n        f_minus = f(x)\n"
     "        x[j] += h\n        grad[j] = (f_plus - f_minus) / (2 * h)"),
    ("gradient_descent", "spectral norm", "/ float(np.linalg.eigvalsh(A).max())",
     "/ float(np.linalg.norm(A, 2))"),
    ("evolution_strategies", "transposed draws", "rng.standard_normal((M, theta.size))",
     "rng.standard_normal((theta.size, M)).T"),
    ("evolution_strategies", "one call per probe",
     "probe_losses = np.asarray(E(theta + sigma * epsilons), dtype=np.float64)",
     "probe_losses = np.array([E((theta + sigma * e)[None, :])[0] for e in epsilons])"),
]


# --- attacks: each is the blank notebook plus this cell -------------------------------------

ATTACKS = {
    # (b) of the review: replace otter's runner and NumPy's comparisons in the kernel.
    "monkeypatched_runner": ("backprop", """
import numpy as np
import otter.test_files.exception_test as _et
from otter.test_files.abstract_test import TestCaseResult as _R
def _run(self, env):
    self.test_case_results = [_R(test_case=tc, message="ok", passed=True) for tc in self.test_cases]
_et.ExceptionTestFile.run = _run
np.allclose = np.isclose = np.array_equal = lambda *a, **k: True
import bpbook.gradcheck
bpbook.gradcheck.GradientCheck.passed = lambda self, tolerance=1e-7: True
"""),
    # (a): the package's implementation, by alias, by getattr and by exec of its source.
    "package_by_alias": ("loss_gradients", """
from bpbook.losses import softmax_cross_entropy_gradient as _sce
def softmax_ce_delta(Z, Y):
    return _sce(Z, Y)
q2_error = 0.0
"""),
    "package_by_getattr": ("loss_gradients", """
import bpbook.losses as _l
def softmax_ce_delta(Z, Y):
    return getattr(_l, "softmax_cross_entropy_" + "gradient")(Z, Y)
"""),
    "package_by_source": ("loss_gradients", """
import inspect, bpbook.losses as _l
_ns = dict(vars(_l))
exec(inspect.getsource(_l.softmax_cross_entropy_gradient), _ns)
exec(open(_l.__file__).read(), _ns)
def softmax_ce_delta(Z, Y):
    return _ns["softmax_cross_entropy_gradient"](Z, Y)
"""),
    "backward_from_the_package": ("backprop", """
import bpbook.backprop as _bp
from bpbook import MLP as _MLP
class DeltaMLP(_MLP):
    def gradients(self, X, Y, loss="mse", l2=0.0):
        return _bp.theta_delta_gradients(self, X, Y, loss, l2)
def input_gradient(net, X, Y, loss="mse"):
    from bpbook.gradcheck import numerical_gradient
    X = np.asarray(X, dtype=float)
    return numerical_gradient(lambda X_: net.loss(X_, Y, loss), X.copy())
"""),
    "es_from_the_package": ("evolution_strategies", """
def es_estimate(E, theta, sigma, M, rng):
    from bpbook.evolution import es_gradient
    eps = rng.standard_normal((M, np.size(theta)))
    return es_gradient(E(theta + sigma * eps), eps, sigma)
"""),
    # (c): read the hidden checks, the masters and the autograder, and use them.
    "reads_masters_and_checks": ("backprop", """
import glob, os, re, zipfile
_found = []
for _pattern in ["ROOT/assignments/*/*.md", "ROOT/assignments/*/checks.py",
                 "BUILT/*/autograder/*.zip", "/tmp/**/*.md", "/tmp/**/checks.py", "/in/*",
                 "/pkg/**/*.md"]:
    _found += glob.glob(_pattern, recursive=True)
for _path in _found:
    if _path.endswith("backprop.md"):
        _code = open(_path).read()
        for _block in re.findall(r"```\\{code-cell\\} ipython3\\n(.*?)```", _code, re.S):
            try:
                exec(_block.replace("# SOLUTION", ""))
            except Exception:
                pass
print("found", _found)
"""),
    # (d): overwrite a classmate, leave a process behind, tamper with the autograder.
    "overwrites_classmate": ("backprop", """
import glob
for _path in glob.glob("SUBMISSIONS/*.ipynb") + glob.glob("/tmp/**/*.ipynb", recursive=True):
    try:
        with open(_path, "w") as _f:
            _f.write("{}")
    except OSError:
        pass
"""),
    "process_left_behind": ("backprop", """
import os, time, glob
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(6)
        for _path in glob.glob("OUTPUT/scores.*") + glob.glob("/tmp/**/scores.*", recursive=True):
            try:
                open(_path, "a").write("\\nzz_victim,hacked,100\\n")
            except OSError:
                pass
        open("/tmp/still-running", "w").write("yes")
        time.sleep(60)
    os._exit(0)
"""),
    "tampers_with_autograder": ("backprop", """
import glob
for _path in (glob.glob("BUILT/*/autograder/*.zip") + glob.glob("ROOT/tools/*.py")
              + glob.glob("/tmp/**/*autograder*", recursive=True)):
    try:
        open(_path, "wb").write(b"tampered")
    except OSError:
        pass
"""),
    # Kill the grading run, from the notebook and from a function the checks call.
    "kills_the_grader": ("backprop", """
import os, signal
for _pid in [os.getppid(), 1]:
    try:
        os.kill(_pid, signal.SIGKILL)
    except OSError:
        pass
for _pid in os.listdir("/proc"):
    if _pid.isdigit() and int(_pid) != os.getpid():
        try:
            os.kill(int(_pid), signal.SIGKILL)
        except OSError:
            pass
try:
    os.kill(-1, signal.SIGKILL)
except OSError:
    pass
os.killpg(0, signal.SIGKILL)
"""),
    # Resource exhaustion: memory, processes, disk, output.
    "exhausts_resources": ("backprop", """
import os, time
try:
    _hog = bytearray(8 << 30)
except MemoryError:
    pass
_children = 0
try:
    for _ in range(2000):
        if os.fork() == 0:
            time.sleep(30)
            os._exit(0)
        _children += 1
except OSError:
    pass
try:
    with open("/tmp/big", "wb") as _f:
        for _ in range(4096):
            _f.write(b"x" * (1 << 20))
except OSError:
    pass
print("x" * (50 << 20))
"""),
    # os._exit and SystemExit inside the functions the hidden checks call.
    "exits_in_hidden_checks": ("backprop", """
import os
def backward(net, zs, activations, delta_L, l2=0.0):
    if l2:
        os._exit(0)
    raise SystemExit(1)
def input_gradient(net, X, Y, loss="mse"):
    raise SystemExit("stop")
"""),
}

#: Attacks given as a whole notebook rather than a cell.
BAD_METADATA = {"fake_autograder_path": "/tmp/evil", "fake_autograder_relative": "../../evil"}


def _attack_source(source: str, built: Path, folder: Path, output: Path) -> str:
    return (source.replace("ROOT", str(ROOT)).replace("BUILT", str(built))
            .replace("SUBMISSIONS", str(folder)).replace("OUTPUT", str(output)))


@pytest.fixture(scope="session")
def graded(built, tmp_path_factory) -> dict:
    """Grade one folder holding every submission above; return grades by file name.

    Returned too: the folder, the output folder, and the hashes of the autograders and of
    the victim's file before grading.
    """
    folder = tmp_path_factory.mktemp("submissions")
    output = folder.with_name(folder.name + "-grades")
    for name in ASSIGNMENTS:
        nbformat.write(reference(name, built), folder / f"reference_{name}.ipynb")
        nbformat.write(blank(name, built), folder / f"blank_{name}.ipynb")
    for mistake in MISTAKES:
        wrong = replace_once(reference(mistake.assignment, built), mistake.old, mistake.new)
        nbformat.write(wrong, folder / mistake.filename)
    for assignment, label, old, new in ALTERNATIVES:
        right = replace_once(reference(assignment, built), old, new)
        nbformat.write(right, folder / f"right_{assignment}_{slug(label)}.ipynb")
    for label, (assignment, source) in ATTACKS.items():
        # At the end, so that its definitions replace the blank answers.
        attack = with_cell(blank(assignment, built), _attack_source(source, built, folder, output))
        nbformat.write(attack, folder / f"attack_{label}.ipynb")
    for label, path in BAD_METADATA.items():
        nb = reference("backprop", built)
        nb.metadata["otter"] = {"assignment_name": path}
        nbformat.write(nb, folder / f"attack_{label}.ipynb")
    # Robustness: the reference with an exit in its last cell, or a crash in a hidden call.
    nbformat.write(with_cell(reference("backprop", built), "import os\nos._exit(0)"),
                   folder / "robust_exit_in_last_cell.ipynb")
    nbformat.write(replace_once(reference("backprop", built), "    L = net.n_layers\n",
                                "    L = net.n_layers\n    if l2:\n        raise SystemExit\n"),
                   folder / "robust_system_exit_with_l2.ipynb")
    # Answers computed for someone else: graded as "bob", computed for "alice".
    shared = _shared_saliency(built)
    nbformat.write(shared, folder / "bob.ipynb")
    nbformat.write(shared, folder / "alice.ipynb")
    # The victim and a blank graded after the attacks.
    nbformat.write(reference("backprop", built), folder / "zz_victim.ipynb")
    nbformat.write(blank("backprop", built), folder / "zzz_blank_after_attacks.ipynb")
    (folder / "notes.txt").write_text("not a notebook")
    (folder / "sub").mkdir()
    nbformat.write(reference("loss_gradients", built), folder / "sub" / "Smith_LG.IPYNB")
    (folder / "not_json.ipynb").write_text('{"cells": [{"cell_type": "code", "sou')
    victim = hashlib.sha256((folder / "zz_victim.ipynb").read_bytes()).hexdigest()
    zips = {name: hashlib.sha256(build_assignments.autograder_zip(name, built).read_bytes())
            .hexdigest() for name in ASSIGNMENTS}
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "grade.py"), str(folder), "--autograders",
         str(built), "--output", str(output), "--jobs", "2", *LIMITS],
        capture_output=True, text=True, timeout=3000, cwd=ROOT,
    )
    seconds = time.perf_counter() - started
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    data = json.loads((output / "scores.json").read_text())
    return {"grades": {Path(g["submission"]).name: g for g in data["grades"]},
            "data": data, "folder": folder, "output": output, "stdout": result.stdout,
            "victim": victim, "zips": zips, "seconds": seconds,
            "count": len(data["grades"])}


def _shared_saliency(built: Path):
    """The reference with my_saliency and my_pixel typed in, as computed for "alice"."""
    from bpbook.backprop import minibatch_deltas

    net, digit, label = checks_module("backprop").student_data("alice")
    deltas = minibatch_deltas(net, digit[None, :], np.array([label]), "softmax_cross_entropy")
    saliency = deltas[0] @ net.weights[0]
    values = "np.array([" + ", ".join(repr(float(v)) for v in saliency.ravel()) + "])[None, :]"
    nb = replace_once(reference("backprop", built), "my_saliency = input_gradient(",
                      f"my_saliency = {values}\n_unused = input_gradient(")
    return replace_once(nb, "my_pixel = int(np.argmax(np.abs(my_saliency)))",
                        f"my_pixel = {int(np.argmax(np.abs(saliency)))}")


def score(graded, filename):
    return graded["grades"][filename]


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_reference_scores_full_marks_and_blank_scores_nothing(graded, name):
    ref, empty = score(graded, f"reference_{name}.ipynb"), score(graded, f"blank_{name}.ipynb")
    assert ref["status"] == "graded" and ref["possible"] > 0, ref["reason"]
    assert ref["score"] == ref["possible"], [c for c in ref["checks"] if not c["passed"]]
    assert empty["status"] == "graded" and empty["score"] == 0
    assert empty["possible"] == ref["possible"]
    manual = [q for q, question in checks_module(name).QUESTIONS.items() if question.manual]
    assert sorted(ref["pending"]) == sorted(manual)


@pytest.mark.parametrize("mistake", MISTAKES, ids=lambda m: f"{m.assignment}: {m.name}")
def test_each_mistake_fails_exactly_its_check_with_a_message_that_names_it(graded, mistake):
    result = score(graded, mistake.filename)
    assert result["status"] == "graded", result["reason"]
    failed = {f"{c['question']}/{c['name']}" for c in result["checks"] if not c["passed"]}
    assert failed == mistake.fails
    messages = [c["message"] for c in result["checks"] if not c["passed"]]
    assert re.search(mistake.message, messages[0]), messages


@pytest.mark.parametrize("alternative", ALTERNATIVES, ids=lambda a: f"{a[0]}: {a[1]}")
def test_correct_alternatives_score_full_marks(graded, alternative):
    assignment, label = alternative[:2]
    result = score(graded, f"right_{assignment}_{slug(label)}.ipynb")
    assert result["score"] == result["possible"], [
        (c["name"], c["message"]) for c in result["checks"] if not c["passed"]]


def test_a_missing_transpose_scores_no_less_than_no_recursion(graded):
    transpose = score(graded, "wrong_backprop_missing_transpose.ipynb")["score"]
    nothing = score(graded, "wrong_backprop_no_recursion.ipynb")["score"]
    assert transpose >= nothing > 0


def test_a_wrong_rate_formula_costs_only_its_own_check(graded):
    """The review's cascade: 1/λ in question 1 cost 10 of 15 points; now only question 1's."""
    result = score(graded, "wrong_gradient_descent_1_over_lambda_max.ipynb")
    assert result["questions"]["q2"][0] == result["questions"]["q2"][1]
    assert result["score"] == result["possible"] - 2


def test_answers_computed_for_another_student_do_not_score(graded):
    alice, bob = score(graded, "alice.ipynb"), score(graded, "bob.ipynb")
    assert alice["score"] == alice["possible"]
    assert "q3/your_saliency" in {f"{c['question']}/{c['name']}" for c in bob["checks"]
                                  if not c["passed"]}


def test_hidden_inputs_depend_on_the_student(graded):
    import grading_checks

    seeds = {grading_checks.student_seed("backprop", s, "recursion") for s in ("a", "b", "c")}
    assert len(seeds) == 3


def test_robust_to_an_exit_at_the_end_and_a_system_exit_in_a_hidden_call(graded):
    exit_late = score(graded, "robust_exit_in_last_cell.ipynb")
    assert exit_late["status"] == "graded" and exit_late["score"] == exit_late["possible"]
    system_exit = score(graded, "robust_system_exit_with_l2.ipynb")
    failed = {c["name"] for c in system_exit["checks"] if not c["passed"]}
    assert failed <= {"l2_penalty", "loss_with_penalty", "uses_your_backward"}
    assert "l2_penalty" in failed


# --- the attacks ----------------------------------------------------------------------------

@pytest.mark.parametrize("label", sorted(ATTACKS))
def test_attack_scores_what_the_blank_notebook_scores(graded, label):
    assignment = ATTACKS[label][0]
    result = score(graded, f"attack_{label}.ipynb")
    assert result["score"] == score(graded, f"blank_{assignment}.ipynb")["score"] == 0, [
        c["name"] for c in result["checks"] if c["passed"]]


@pytest.mark.parametrize("label", sorted(BAD_METADATA))
def test_a_fake_autograder_in_the_metadata_is_refused(graded, label):
    result = score(graded, f"attack_{label}.ipynb")
    assert result["status"] == "error" and result["score"] == 0
    assert "unknown assignment" in result["reason"]


def test_attacks_leave_every_other_score_unchanged(graded):
    for filename in ("zz_victim.ipynb", "reference_backprop.ipynb",
                     "reference_loss_gradients.ipynb"):
        result = score(graded, filename)
        assert result["score"] == result["possible"], filename
    assert score(graded, "zzz_blank_after_attacks.ipynb")["score"] == 0
    victim = graded["folder"] / "zz_victim.ipynb"
    assert hashlib.sha256(victim.read_bytes()).hexdigest() == graded["victim"]


def test_no_attack_changed_an_autograder_or_the_tools(graded, built):
    for name, digest in graded["zips"].items():
        zipped = build_assignments.autograder_zip(name, built).read_bytes()
        assert hashlib.sha256(zipped).hexdigest() == digest
        assert graded["data"]["autograders"][name] == digest
    assert (ROOT / "tools" / "grade.py").read_text().startswith('"""Grade a folder')


def test_nothing_outlives_its_sandbox_and_the_scores_stay_as_written(graded):
    import psutil

    csv_before = (graded["output"] / "scores.csv").read_bytes()
    time.sleep(8)  # longer than the process left behind by the attack waits
    assert (graded["output"] / "scores.csv").read_bytes() == csv_before
    assert b"hacked" not in csv_before
    import grading_sandbox

    survivors = [p.pid for p in psutil.process_iter(["uids"])
                 if p.info["uids"] and p.info["uids"].real == grading_sandbox.SANDBOX_UID]
    assert not survivors
    assert not Path("/tmp/still-running").exists()


def test_the_run_survives_every_attack_and_grades_every_notebook(graded):
    expected = (2 * len(ASSIGNMENTS) + len(MISTAKES) + len(ALTERNATIVES) + len(ATTACKS)
                + len(BAD_METADATA) + 2 + 2 + 2 + 1 + 1)
    assert graded["count"] == expected
    errors = {name: g["reason"] for name, g in graded["grades"].items()
              if g["status"] == "error"}
    assert set(errors) == {"attack_fake_autograder_path.ipynb",
                           "attack_fake_autograder_relative.ipynb", "not_json.ipynb"}, errors
    assert "not a Jupyter notebook" in errors["not_json.ipynb"]


# --- what the lecturer gets -----------------------------------------------------------------

def test_scores_csv_has_ids_numeric_question_columns_and_pending_hand_grading(graded):
    import csv

    rows = list(csv.DictReader((graded["output"] / "scores.csv").read_text().splitlines()))
    assert list(rows[0])[:3] == ["student_id", "submission", "assignment"]
    for q in ("q1", "q2", "q3", "q4", "q5"):
        assert q in rows[0]
    by_file = {row["submission"]: row for row in rows}
    ref = by_file["reference_backprop.ipynb"]
    assert ref["student_id"] == "reference_backprop"
    assert [float(ref[q]) for q in ("q1", "q2", "q3")] == [9.0, 2.0, 4.0]
    assert ref["q4"] == "" and "q4 (2 points, by hand)" in ref["pending"]
    assert float(ref["score"]) == float(ref["possible"]) == 15.0
    assert by_file["sub/Smith_LG.IPYNB"]["student_id"] == "Smith_LG"
    assert by_file["sub/Smith_LG.IPYNB"]["status"] == "graded"


def test_feedback_names_the_mistake_and_shows_no_hidden_code(graded):
    text = (graded["output"] / "feedback" / "wrong_backprop_missing_transpose.md").read_text()
    assert "FAILED: `recursion`" in text and "Traceback" not in text
    assert "def " not in text and "assert " not in text
    for line in text.splitlines():
        if "passed:" in line:
            assert "recursion" not in line


def test_hand_graded_answers_are_collected_per_question(graded):
    sheet = (graded["output"] / "hand-grading" / "q4.md").read_text()
    assert "## reference_backprop" in sheet and "square" in sheet


def test_skipped_files_are_reported(graded):
    assert "notes.txt: not a notebook" in graded["stdout"]
    assert "notes.txt" in (graded["output"] / "skipped.txt").read_text()


def test_a_notebook_without_metadata_is_graded_with_assignment(built, tmp_path):
    folder = tmp_path / "backprop"
    folder.mkdir()
    nb = reference("backprop", built)
    del nb.metadata["otter"]
    nbformat.write(nb, folder / "s1234567_backprop.ipynb")
    nbformat.write(nb, folder / "s7654321_backprop (1).ipynb")
    command = [sys.executable, str(ROOT / "tools" / "grade.py"), str(folder), "--autograders",
               str(built), "--output", str(tmp_path / "out")]
    without = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert "no otter metadata" in without.stdout and "grade it with --assignment" in without.stdout
    with_name = subprocess.run(command + ["--assignment", "backprop", "--id-pattern",
                                          r"(?P<id>s\d{7})_"], capture_output=True, text=True,
                               cwd=ROOT, timeout=600)
    assert with_name.returncode == 0, with_name.stderr
    rows = (tmp_path / "out" / "scores.csv").read_text().splitlines()
    assert rows[1].startswith("s1234567,s1234567_backprop.ipynb,backprop,9,2,4,,15,15,100.0")
    assert rows[2].startswith("s7654321,")


def test_an_unknown_assignment_is_refused(built, tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "grade.py"), str(tmp_path), "--assignment",
         "../evil", "--autograders", str(built)], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode != 0 and "assignment" in result.stderr


def test_a_notebook_that_never_finishes_is_stopped_at_the_time_limit(built, tmp_path):
    folder = tmp_path / "loops"
    folder.mkdir()
    loop = "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True:\n    pass"
    nbformat.write(with_cell(blank("backprop", built), loop, position=4), folder / "loop.ipynb")
    nbformat.write(reference("backprop", built), folder / "honest.ipynb")
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "grade.py"), str(folder), "--autograders",
         str(built), "--output", str(tmp_path / "out"), "--timeout", "20"],
        capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert result.returncode == 0, result.stderr
    grades = {g["submission"]: g for g in
              json.loads((tmp_path / "out" / "scores.json").read_text())["grades"]}
    assert grades["loop.ipynb"]["score"] == 0
    assert any("time limit" in n for n in grades["loop.ipynb"]["notes"])
    assert grades["honest.ipynb"]["score"] == grades["honest.ipynb"]["possible"]
    assert time.perf_counter() - started < 300


def test_grading_time(graded):
    """Not a timed test: the time of the shared run, for the report (printed with -s)."""
    per_notebook = graded["seconds"] / graded["count"]
    print(f"\ngraded {graded['count']} notebooks in {graded['seconds']:.0f} s "
          f"({per_notebook:.1f} s each, 2 at a time)")
    assert graded["count"] > 0


def test_a_renamed_notebook_still_runs_its_public_tests(built, tmp_path):
    """A browser's second download is "backprop (1).ipynb": grader.check must still work."""
    from nbclient import NotebookClient

    student = blank("backprop", built)
    solved = reference("backprop", built)
    answer = next(c.source for c in solved.cells if c.source.startswith("def backward("))
    keep = [c for c in student.cells if c.cell_type == "code" and (
        "otter.Notebook(" in c.source or "STUDENT_ID" in c.source)]
    keep[1] = nbformat.v4.new_code_cell(keep[1].source.replace("STUDENT_ID = ...",
                                                               "STUDENT_ID = 's1'"))
    student.cells = [*keep, nbformat.v4.new_code_cell(answer),
                     nbformat.v4.new_code_cell('grader.check("q1")')]
    nbformat.write(student, tmp_path / "backprop (1).ipynb")
    nbformat.write(nbformat.v4.new_notebook(), tmp_path / "another notebook.ipynb")
    client = NotebookClient(student, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    output = "".join(str(o.get("data", {}).get("text/plain", "")) + str(o.get("text", ""))
                     for o in student.cells[-1].outputs)
    assert "q1 results: All test cases passed!" in output, output
