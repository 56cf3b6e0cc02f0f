"""The parts of the grader, one at a time: value format, definitions, tripwires, sandbox.

These need no built assignment; the sandbox tests start a few bubblewrap sandboxes of a
second each.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import build_assignments  # noqa: E402
import grade  # noqa: E402
import grading_checks  # noqa: E402
import grading_runner  # noqa: E402
import grading_sandbox  # noqa: E402

# --- the value format -----------------------------------------------------------------------

def test_values_round_trip_as_plain_data():
    value = {"a": np.arange(6.0).reshape(2, 3), 3: (1, 2.5, None, True), "s": "text",
             "nan": float("nan"), "n": np.int64(4), "list": [np.float32(1.5)]}
    back = grading_runner.decode(json.loads(json.dumps(grading_runner.encode(value))))
    assert np.array_equal(back["a"], value["a"]) and back[3] == (1, 2.5, None, True)
    assert back["s"] == "text" and np.isnan(back["nan"]) and back["n"] == 4
    assert back["list"] == [1.5]


def test_objects_that_are_not_data_do_not_cross():
    class Sneaky:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    encoded = grading_runner.encode({"x": Sneaky(), "o": np.array([object()])})
    back = grading_runner.decode(encoded)
    assert isinstance(back["x"], grading_runner.Unsupported)
    assert isinstance(back["o"], grading_runner.Unsupported)
    # A pickled array is refused when decoded (np.load with allow_pickle=False).
    import base64
    import io

    buffer = io.BytesIO()
    np.save(buffer, np.array([Sneaky()], dtype=object), allow_pickle=True)
    forged = {"__ndarray__": base64.b64encode(buffer.getvalue()).decode()}
    with pytest.raises(ValueError):
        grading_runner.decode(forged)
    with pytest.raises(ValueError):
        grading_runner.decode({"__import__": "os"})


def test_records_and_networks_become_dicts():
    from bpbook import MLP
    from bpbook.optim import minimize

    path = minimize(lambda x: float(x @ x), lambda x: 2 * x, [1.0, 1.0], 0.1, steps=3)
    back = grading_runner.decode(grading_runner.encode(path))
    assert back.type_name == "Trajectory" and back["diverged"] is False
    net = grading_runner.decode(grading_runner.encode(MLP([2, 3, 1], seed=0)))
    assert [np.shape(w) for w in net["weights"]] == [(3, 2), (1, 3)]


def test_sympy_expressions_are_rebuilt_without_running_code():
    z, y = sp.symbols("z y", real=True)
    expression = -2 * y + sp.tanh(z) + sp.log(1 + sp.exp(z)) / 3
    text = grading_runner.decode(grading_runner.encode(expression))
    assert isinstance(text, grading_runner.SympyText)
    assert sp.simplify(grading_checks.parse_sympy(text) - expression) == 0
    for evil in ("__import__('os').system('echo pwned')", "Symbol('x').__class__",
                 "Add(Symbol('x'), eval('1'))", "Integer(1) + Integer(2)"):
        with pytest.raises(grading_checks.CheckFailed):
            grading_checks.parse_sympy(evil)


# --- the notebook's definitions -------------------------------------------------------------

def test_definitions_keep_what_the_answers_need_and_nothing_else():
    cells = [
        "import numpy as np\nSCALE = 2.0\nhistory = train_for_an_hour()",
        "%matplotlib inline\ndef f(x):\n    return SCALE * helper(x)",
        "helper = np.negative\nprint('side effect')\nfor i in range(3):\n    pass",
        "class C:\n    pass\nresult = f(3)",
    ]
    kept = [type(s).__name__ for s in grading_runner.definitions(cells, {"f"})]
    source = "\n".join(__import__("ast").unparse(s) for s in
                       grading_runner.definitions(cells, {"f"}))
    assert "SCALE = 2.0" in source and "helper = np.negative" in source
    assert "train_for_an_hour" not in source and "print(" not in source
    assert "result" not in source and "for i" not in source
    assert kept.count("FunctionDef") == 1 and kept.count("ClassDef") == 1


def test_the_grader_sets_the_student_id():
    source = "import x\nSTUDENT_ID = 'mine'  # my id\ndata = load(STUDENT_ID)"
    changed = grading_runner.set_student_id(source, "s7")
    assert "STUDENT_ID = 's7'" in changed and "'mine'" not in changed
    assert grading_runner.set_student_id("x = 1", "s7") == "x = 1"


# --- tripwires ------------------------------------------------------------------------------

@pytest.fixture
def tripwired(tmp_path):
    """bpbook with MLP.gradients and softmax_cross_entropy_gradient tripwired, imported."""
    grading_sandbox.copy_package(ROOT / "src", tmp_path,
                                 ("network.MLP.gradients",
                                  "losses.softmax_cross_entropy_gradient"))
    code = """
import importlib, inspect, sys
sys.path.insert(0, {path!r})
import bpbook, bpbook.losses as losses
from bpbook import MLP
from bpbook.losses import softmax_cross_entropy_gradient as alias
assert bpbook.__file__.startswith({path!r})
outcomes = []
def attempt(label, function):
    try:
        function()
        outcomes.append((label, "ran"))
    except Exception as error:
        outcomes.append((label, type(error).__name__))
Z, Y = [[1.0, 2.0]], [[1.0, 0.0]]
attempt("alias", lambda: alias(Z, Y))
attempt("getattr", lambda: getattr(losses, "softmax_cross_entropy_" + "gradient")(Z, Y))
namespace = dict(vars(losses))
exec(inspect.getsource(losses.softmax_cross_entropy_gradient), namespace)
attempt("exec of its source", lambda: namespace["softmax_cross_entropy_gradient"](Z, Y))
module = dict(vars(losses)); exec(open(losses.__file__).read(), module)
attempt("exec of the module file", lambda: module["softmax_cross_entropy_gradient"](Z, Y))
attempt("reload", lambda: importlib.reload(losses).softmax_cross_entropy_gradient(Z, Y))
attempt("method", lambda: MLP([2, 1]).gradients([[1.0, 2.0]], [[1.0]]))
attempt("other functions work", lambda: losses.softmax_cross_entropy(Z, Y))
print(outcomes)
"""
    result = subprocess.run([sys.executable, "-c", code.format(path=str(tmp_path))],
                            capture_output=True, text=True, cwd=tmp_path, env={
                                **os.environ, "PYTHONPATH": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    return dict(eval(result.stdout.strip()))  # noqa: S307 - our own printout


def test_tripwires_catch_every_way_to_the_package(tripwired):
    for way in ("alias", "getattr", "exec of its source", "exec of the module file", "reload",
                "method"):
        assert tripwired[way] == "TripwireError", way
    assert tripwired["other functions work"] == "ran"


def test_a_tripwire_that_names_nothing_is_refused(tmp_path):
    with pytest.raises(ValueError, match="names nothing"):
        grading_sandbox.copy_package(ROOT / "src", tmp_path, ("network.MLP.no_such",))


def test_every_tripwire_of_every_assignment_exists(tmp_path):
    for name in build_assignments.masters():
        spec = importlib.util.spec_from_file_location(
            f"units_{name}", ROOT / "assignments" / name / "checks.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for number, question in enumerate(module.QUESTIONS.values()):
            grading_sandbox.copy_package(ROOT / "src", tmp_path / f"{name}{number}",
                                         question.tripwires)


# --- finding submissions and ids ------------------------------------------------------------

def test_student_ids_come_from_the_file_name_or_a_pattern(tmp_path):
    notebook = {"cells": [{"cell_type": "code", "source": "STUDENT_ID = 's42'"}],
                "metadata": {"otter": {"assignment_name": "backprop"}}}
    (tmp_path / "Jane Doe_123_backprop (2).ipynb").write_text(json.dumps(notebook))
    (tmp_path / "readme.txt").write_text("x")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "a.ipynb").write_text("{}")
    found, skipped = grade.discover(tmp_path, {"backprop"}, None, None, "filename")
    assert [s.student_id for s in found] == ["Jane Doe_123_backprop"]
    assert found[0].assignment == "backprop" and not found[0].problem
    assert any("readme.txt" in s for s in skipped) and any(".hidden" in s for s in skipped)
    found, _ = grade.discover(tmp_path, {"backprop"}, None, r"_(?P<id>\d+)_", "filename")
    assert found[0].student_id == "123"
    found, _ = grade.discover(tmp_path, {"backprop"}, None, None, "notebook")
    assert found[0].student_id == "s42"


def test_assignment_names_from_metadata_are_never_paths(tmp_path):
    for i, name in enumerate(["/tmp/evil", "../backprop", "backprop/../../x", "Backprop"]):
        notebook = {"cells": [], "metadata": {"otter": {"assignment_name": name}}}
        (tmp_path / f"n{i}.ipynb").write_text(json.dumps(notebook))
    found, _ = grade.discover(tmp_path, {"backprop"}, None, None, "filename")
    assert all("unknown assignment" in s.problem and s.assignment is None for s in found)


def test_zips_are_reproducible(tmp_path):
    files = {"b.txt": b"second", "a/x.py": b"first"}
    build_assignments.write_zip(tmp_path / "one.zip", files, {"b.txt"})
    build_assignments.write_zip(tmp_path / "two.zip", dict(reversed(files.items())), {"b.txt"})
    assert (tmp_path / "one.zip").read_bytes() == (tmp_path / "two.zip").read_bytes()
    with zipfile.ZipFile(tmp_path / "one.zip") as archive:
        assert archive.namelist() == ["a/x.py", "b.txt"]
        assert archive.getinfo("b.txt").external_attr >> 16 == 0o100755


# --- the sandbox ----------------------------------------------------------------------------

def sandboxed(tmp_path, code: str, seconds: float = 60):
    """Run ``code`` as a notebook of one cell in a sandbox; return the values it reported."""
    inputs = tmp_path / "in"
    inputs.mkdir(exist_ok=True)
    (inputs / "cells.json").write_text(json.dumps([code]))
    result = grading_sandbox.run(ROOT / "src", inputs,
                                 ["notebook", "/in/cells.json", "--values", "seen"],
                                 grading_sandbox.Limits(seconds=seconds))
    values = {}
    for line in result.lines:
        message = json.loads(line)
        if message.get("kind") == "values":
            values.update({k: grading_runner.decode(v) for k, v in message["values"].items()})
    return values, result


def test_the_sandbox_shows_nothing_but_what_the_step_needs(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("hidden")
    code = f"""
import os, socket
seen = {{}}
for path in [{str(ROOT / 'assignments')!r}, {str(ROOT / 'tools')!r}, {str(secret)!r},
             {str(ROOT / '.git')!r}, "/root/.cache", "/root/.ssh", "/etc/passwd", "/home"]:
    seen[path] = os.path.exists(path) and bool(os.listdir(path) if os.path.isdir(path) else 1)
try:
    socket.create_connection(("pypi.org", 443), timeout=3)
    seen["network"] = True
except OSError:
    seen["network"] = False
seen["processes"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
seen["uid"] = os.getuid()
try:
    open({str(ROOT / 'README.md')!r}, "a").write("x")
    seen["wrote"] = True
except OSError:
    seen["wrote"] = False
import bpbook
seen["bpbook"] = bpbook.__file__
"""
    values, result = sandboxed(tmp_path, code)
    seen = values["seen"]
    assert not any(seen[p] for p in seen if p.startswith("/")), seen
    assert seen["network"] is False and seen["wrote"] is False
    assert len(seen["processes"]) <= 3, seen["processes"]  # bwrap's init, the runner, ls
    assert seen["bpbook"].startswith("/pkg/bpbook")
    if os.geteuid() == 0:
        assert seen["uid"] == grading_sandbox.SANDBOX_UID


def test_the_sandbox_limits_memory_and_time(tmp_path):
    values, _ = sandboxed(tmp_path, """
seen = {}
try:
    block = bytearray(8 << 30)
    seen["memory"] = "allocated"
except MemoryError:
    seen["memory"] = "refused"
""")
    assert values["seen"]["memory"] == "refused"
    _, result = sandboxed(tmp_path, "import signal, time\nsignal.signal(signal.SIGALRM, "
                                    "signal.SIG_IGN)\nwhile True:\n    time.sleep(0.1)",
                          seconds=5)
    assert result.timed_out and result.seconds < 60
