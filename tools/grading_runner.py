"""What runs inside the grading sandbox: a submission's notebook, then probes of its answers.

This file is copied into every sandbox that ``tools/grade.py`` starts (see
``tools/grading_sandbox.py``). It imports only the standard library, NumPy, IPython and,
for the probes, the ``bpbook`` package the sandbox shows it; it never sees a check, an
expected value or another submission. Everything it reports goes to file descriptor 3 as
one JSON object per line, which the grader reads as untrusted data: the submission
controls this process, so whatever it writes there is at most a claim about its own
answers, which the grader verifies outside the sandbox.

Two modes:

``notebook CELLS_JSON --values NAMES --student-id ID``
    Run the code cells in one IPython shell (no kernel, no otter), like a notebook run
    top to bottom. A cell that raises, exits or runs out of time counts as an error in
    that cell and the next cell runs. After every cell, the current values of ``NAMES``
    are reported (numbers, strings, arrays, lists, dicts, SymPy expressions, records such
    as ``History``), so a later crash or ``os._exit`` keeps what was computed before it.

``probe CELLS_JSON PROBES_JSON``
    In a fresh process: run only the *definitions* of the notebook (imports, functions,
    classes, and the assignments those need; nothing else), then call the answers on the
    inputs listed in ``PROBES_JSON``, one call at a time with a time limit each, and report
    what each call returned or raised.

Values cross the sandbox boundary in the format of :func:`encode` / :func:`decode`:
JSON with arrays as ``.npy`` bytes (loaded with ``allow_pickle=False``), never pickles.
"""

from __future__ import annotations

import argparse
import ast
import base64
import builtins
import dataclasses
import io
import json
import math
import os
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

#: Limits of one reported value: array elements, nesting depth, items of a list or dict.
MAX_ELEMENTS = 5_000_000
MAX_DEPTH = 12
MAX_ITEMS = 10_000
#: Characters of printed output kept per cell (the rest is counted, not stored).
OUTPUT_LIMIT = 20_000
#: The name through which a notebook holds its student id; the grader sets its value.
STUDENT_ID_NAME = "STUDENT_ID"

__all__ = ["decode", "definitions", "encode", "main"]


# --- the value format ----------------------------------------------------------------------

class Unsupported:
    """Stands for a value of a type the format cannot carry (decoded on the grader's side)."""

    def __init__(self, type_name: str, detail: str = "") -> None:
        self.type_name, self.detail = type_name, detail

    def __repr__(self) -> str:
        return f"<a {self.type_name}{': ' + self.detail if self.detail else ''}>"


def encode(value: Any, depth: int = 0) -> Any:
    """A JSON-able form of ``value``; types it cannot carry become ``{"__unsupported__": …}``."""
    if depth > MAX_DEPTH:
        return {"__unsupported__": "nesting", "detail": "nested too deeply"}
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return number if math.isfinite(number) else {"__float__": repr(number)}
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (complex, np.complexfloating)):
        return {"__unsupported__": "complex"}
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            return {"__unsupported__": "ndarray", "detail": f"dtype {value.dtype}"}
        if value.size > MAX_ELEMENTS:
            return {"__unsupported__": "ndarray", "detail": f"{value.size} elements"}
        buffer = io.BytesIO()
        np.save(buffer, np.ascontiguousarray(value), allow_pickle=False)
        return {"__ndarray__": base64.b64encode(buffer.getvalue()).decode("ascii")}
    if isinstance(value, (list, tuple)):
        if len(value) > MAX_ITEMS:
            return {"__unsupported__": type(value).__name__, "detail": f"{len(value)} items"}
        items = [encode(v, depth + 1) for v in value]
        return items if isinstance(value, list) else {"__tuple__": items}
    if isinstance(value, dict):
        if len(value) > MAX_ITEMS:
            return {"__unsupported__": "dict", "detail": f"{len(value)} items"}
        pairs = [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()]
        return {"__dict__": pairs}
    module = type(value).__module__ or ""
    if module.startswith("sympy") and hasattr(value, "free_symbols"):
        from sympy import srepr

        return {"__sympy__": srepr(value)}
    if hasattr(value, "weights") and hasattr(value, "biases") and hasattr(value, "layer_sizes"):
        return {"__network__": {
            "layer_sizes": encode(list(value.layer_sizes), depth + 1),
            "weights": encode([np.asarray(w) for w in value.weights], depth + 1),
            "biases": encode([np.asarray(b) for b in value.biases], depth + 1),
        }}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: encode(getattr(value, f.name), depth + 1)
                  for f in dataclasses.fields(value)}
        return {"__record__": type(value).__name__, "fields": fields}
    return {"__unsupported__": type(value).__name__}


def decode(data: Any, depth: int = 0) -> Any:
    """The value that :func:`encode` encoded, as plain Python and NumPy objects.

    SymPy expressions come back as the string of ``sympy.srepr`` (parse it with
    ``grading_checks.parse_sympy``), networks and records as dicts, unsupported values as
    :class:`Unsupported`. Raises ``ValueError`` for data no encoder produces.
    """
    if depth > MAX_DEPTH + 2:
        raise ValueError("nested too deeply")
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):
        return [decode(v, depth + 1) for v in data]
    if not isinstance(data, dict) or len(data) > 2:
        raise ValueError(f"not an encoded value: {str(data)[:80]}")
    if "__ndarray__" in data:
        raw = base64.b64decode(data["__ndarray__"], validate=True)
        array = np.load(io.BytesIO(raw), allow_pickle=False)
        if array.dtype.kind not in "biuf" or array.size > MAX_ELEMENTS:
            raise ValueError("array of an unsupported dtype or size")
        return array
    if "__float__" in data:
        return float(data["__float__"])
    if "__tuple__" in data:
        return tuple(decode(v, depth + 1) for v in data["__tuple__"])
    if "__dict__" in data:
        result = {}
        for key, value in data["__dict__"]:
            key = decode(key, depth + 1)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                raise ValueError("dict key of an unsupported type")
            result[key] = decode(value, depth + 1)
        return result
    if "__sympy__" in data:
        return SympyText(str(data["__sympy__"]))
    if "__network__" in data:
        return {k: decode(v, depth + 1) for k, v in data["__network__"].items()}
    if "__record__" in data:
        fields = {str(k): decode(v, depth + 1) for k, v in data["fields"].items()}
        return Record(str(data["__record__"]), fields)
    if "__unsupported__" in data:
        return Unsupported(str(data["__unsupported__"]), str(data.get("detail", "")))
    raise ValueError(f"not an encoded value: {str(data)[:80]}")


class SympyText(str):
    """The ``srepr`` of a SymPy expression, as reported by a sandbox (not yet parsed)."""


class Record(dict):
    """The fields of a dataclass instance (a ``History``, a ``Trajectory``, …)."""

    def __init__(self, type_name: str, fields: dict) -> None:
        super().__init__(fields)
        self.type_name = type_name

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


# --- reporting -----------------------------------------------------------------------------

class Reporter:
    """Writes JSON lines to file descriptor 3, the channel the grader reads."""

    def __init__(self, fd: int = 3) -> None:
        self._stream = os.fdopen(fd, "w", encoding="utf-8", closefd=False)

    def send(self, message: dict) -> None:
        self._stream.write(json.dumps(message, allow_nan=False) + "\n")
        self._stream.flush()


class CappedOutput(io.TextIOBase):
    """Stands in for ``sys.stdout``/``sys.stderr``: keeps the first characters, counts the rest."""

    def __init__(self, limit: int = OUTPUT_LIMIT) -> None:
        self.limit, self.kept, self.dropped = limit, [], 0
        self._size = 0

    def write(self, text: str) -> int:
        text = str(text)
        room = self.limit - self._size
        if room > 0:
            self.kept.append(text[:room])
            self._size += min(room, len(text))
        self.dropped += max(0, len(text) - max(room, 0))
        return len(text)

    def writable(self) -> bool:
        return True

    def flush(self) -> None:
        pass


class TimeLimit(BaseException):
    """Raised in the submission's code when a cell or a call runs out of time."""


def _on_alarm(signum, frame):  # noqa: ARG001 - the signal handler's signature
    raise TimeLimit("time limit exceeded")


def _describe(error: BaseException) -> dict:
    message = str(error)
    if isinstance(error, TimeLimit):
        message = "ran out of time"
    return {"type": type(error).__name__, "message": message[:1000]}


# --- mode 1: the notebook ------------------------------------------------------------------

def set_student_id(source: str, student_id: str) -> str:
    """``source`` with every top-level ``STUDENT_ID = …`` given the grader's value."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    lines = source.splitlines(keepends=True)
    changed = False
    for node in reversed(tree.body):
        targets = node.targets if isinstance(node, ast.Assign) else (
            [node.target] if isinstance(node, ast.AnnAssign) else [])
        if any(isinstance(t, ast.Name) and t.id == STUDENT_ID_NAME for t in targets):
            start, end = node.lineno - 1, node.end_lineno
            indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
            lines[start:end] = [f"{indent}{STUDENT_ID_NAME} = {student_id!r}\n"]
            changed = True
    return "".join(lines) if changed else source


def run_notebook(cells: list[str], names: list[str], student_id: str | None,
                 cell_timeout: float, reporter: Reporter) -> None:
    """Run ``cells`` in one IPython shell; report errors per cell and ``names`` after each."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.user_ns["__name__"] = "__main__"
    signal.signal(signal.SIGALRM, _on_alarm)
    real_stdout, real_stderr = sys.stdout, sys.stderr
    last: dict[str, str] = {}
    for index, source in enumerate(cells):
        if student_id is not None:
            source = set_student_id(source, student_id)
        sink = CappedOutput()
        sys.stdout = sys.stderr = sink
        started = time.perf_counter()
        error: BaseException | None = None
        try:
            signal.setitimer(signal.ITIMER_REAL, cell_timeout)
            result = shell.run_cell(source, store_history=False)
            error = result.error_before_exec or result.error_in_exec
        except BaseException as raised:  # noqa: BLE001 - a time limit between IPython's frames
            error = raised
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            sys.stdout, sys.stderr = real_stdout, real_stderr
        report: dict[str, Any] = {"kind": "cell", "index": index,
                                  "seconds": round(time.perf_counter() - started, 3)}
        if error is not None:
            report["error"] = _describe(error)
        reporter.send(report)
        changed = {}
        for name in names:
            if name not in shell.user_ns:
                continue
            try:
                encoded = json.dumps(encode(shell.user_ns[name]), allow_nan=False)
            except BaseException as failure:  # noqa: BLE001 - a value that cannot be encoded
                encoded = json.dumps({"__unsupported__": type(shell.user_ns[name]).__name__,
                                      "detail": str(failure)[:200]})
            if last.get(name) != encoded:
                changed[name] = json.loads(encoded)
                last[name] = encoded
        missing = [name for name in last if name not in shell.user_ns]
        for name in missing:
            del last[name]
        if changed or missing:
            reporter.send({"kind": "values", "values": changed, "deleted": missing})


# --- mode 2: the definitions and the probes ------------------------------------------------

def to_python(source: str) -> str:
    """A cell's source as plain Python (IPython's magics and ``!`` commands translated)."""
    try:
        ast.parse(source)
        return source
    except SyntaxError:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(source)


def _names_read(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _names_bound(node: ast.stmt) -> set[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in node.names}
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}


def definitions(cells: list[str], wanted: set[str]) -> list[ast.stmt]:
    """The top-level statements that define ``wanted`` and what those definitions use.

    Kept: every import, function and class definition, and each assignment of a name that
    a kept statement reads (found by iterating to a fixed point). Dropped: everything else
    (expressions, loops, training runs, plots), so the probes do not re-run the notebook.
    """
    statements: list[ast.stmt] = []
    for source in cells:
        try:
            statements += ast.parse(to_python(source)).body
        except SyntaxError:
            continue
    always = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    assignments = (ast.Assign, ast.AnnAssign)
    keep = {i for i, s in enumerate(statements) if isinstance(s, always)}
    needed = set(wanted)
    while True:
        for i in keep:
            needed |= _names_read(statements[i])
        more = {i for i, s in enumerate(statements)
                if i not in keep and isinstance(s, assignments) and _names_bound(s) & needed}
        if not more:
            return [s for i, s in enumerate(statements) if i in keep]
        keep |= more


class Function:
    """A function given to an answer as an argument, which counts how it is called."""

    def __init__(self, kind: str, params: dict) -> None:
        self.kind, self.params = kind, params
        self.calls, self.rows = 0, 0
        self._function = _FUNCTIONS[kind](**params)

    def __call__(self, x):
        self.calls += 1
        value = self._function(x)
        self.rows += int(np.shape(value)[0]) if np.ndim(value) >= 1 else 1
        return value

    def report(self) -> dict:
        return {"calls": self.calls, "rows": self.rows}


def _rows(T) -> np.ndarray:
    return np.atleast_2d(np.asarray(T, dtype=np.float64))


def _objective(layer_sizes, activation, output_activation, loss, X, Y, baseline=None):
    from bpbook import MLP
    from bpbook.evolution import NetworkObjective

    net = MLP(list(layer_sizes), activation=activation, output_activation=output_activation)
    objective = NetworkObjective(net, X, Y, loss)
    shift = 0.0 if baseline is None else float(objective(np.asarray(baseline)))
    return lambda T: np.asarray(objective(_rows(T))) - shift


#: The functions a probe can pass to an answer, by kind. Each takes its parameters and
#: returns the callable; ES losses map a matrix of parameter rows to one loss per row.
_FUNCTIONS: dict[str, Callable[..., Callable]] = {
    "rows_linear": lambda c: lambda T: _rows(T) @ np.asarray(c),
    "rows_quadratic": lambda a: lambda T: 0.5 * np.sum(np.asarray(a) * _rows(T) ** 2, axis=1),
    "rows_sum_sin": lambda: lambda T: np.sum(np.sin(_rows(T)), axis=1),
    "sum_squares": lambda: lambda x: float(np.sum(np.asarray(x) ** 2)),
    "sum_exp": lambda: lambda x: float(np.sum(np.exp(np.asarray(x)))),
    "sum_sin": lambda: lambda x: float(np.sum(np.sin(np.asarray(x)))),
    "weighted_tanh": lambda A: lambda x: float(np.sum(np.tanh(np.asarray(x)) * np.asarray(A))),
    "network_objective": _objective,
}


def build_argument(data: Any, functions: list[Function]) -> Any:
    """An argument of a probe call, built from the form ``grading_checks`` wrote."""
    if isinstance(data, dict) and "__network__" in data:
        from bpbook import MLP

        spec = data["__network__"]
        net = MLP(list(spec["layer_sizes"]), activation=spec["activation"],
                  output_activation=spec["output_activation"])
        net.weights = [decode(w) for w in spec["weights"]]
        net.biases = [decode(b) for b in spec["biases"]]
        return net
    if isinstance(data, dict) and "__rng__" in data:
        return np.random.default_rng(int(data["__rng__"]))
    if isinstance(data, dict) and "__function__" in data:
        spec = data["__function__"]
        params = {k: decode(v) for k, v in spec["params"].items()}
        function = Function(spec["kind"], params)
        functions.append(function)
        return function
    if isinstance(data, list):
        return [build_argument(v, functions) for v in data]
    if isinstance(data, dict) and "__tuple__" in data:
        return tuple(build_argument(v, functions) for v in data["__tuple__"])
    return decode(data)


def run_probes(cells: list[str], probes: dict, reporter: Reporter) -> None:
    """Define the answers, then run each probe call and report its outcome."""
    signal.signal(signal.SIGALRM, _on_alarm)
    wanted = {call["function"].split(".")[0] for call in probes["calls"]}
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    student_id = probes.get("student_id")
    real_stdout, real_stderr = sys.stdout, sys.stderr
    sink = CappedOutput()
    errors = []
    for statement in definitions(cells, wanted):
        code = ast.unparse(statement)
        if student_id is not None:
            code = set_student_id(code, student_id)
        sys.stdout = sys.stderr = sink
        try:
            signal.setitimer(signal.ITIMER_REAL, float(probes["call_timeout"]))
            exec(compile(code, "<notebook>", "exec"), namespace)  # noqa: S102 - the sandbox's purpose
        except BaseException as error:  # noqa: BLE001 - the submission may raise anything
            errors.append({"statement": code.splitlines()[0][:120], **_describe(error)})
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            sys.stdout, sys.stderr = real_stdout, real_stderr
    reporter.send({"kind": "definitions", "errors": errors[:20],
                   "defined": sorted(n for n in wanted if n in namespace)})
    for index, call in enumerate(probes["calls"]):
        reporter.send(run_call(index, call, namespace, float(probes["call_timeout"])))


def run_call(index: int, call: dict, namespace: dict, timeout: float) -> dict:
    """Run one probe call; return its report (``returned`` with the value, or ``raised``)."""
    functions: list[Function] = []
    report: dict[str, Any] = {"kind": "call", "index": index}
    real_stdout, real_stderr = sys.stdout, sys.stderr
    try:
        args = [build_argument(a, functions) for a in call["args"]]
        kwargs = {k: build_argument(v, functions) for k, v in call["kwargs"].items()}
        name, *attributes = call["function"].split(".")
        if name not in namespace:
            report.update(status="undefined")
            return report
        target = namespace[name]
        sys.stdout = sys.stderr = CappedOutput()
        started = time.perf_counter()
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            if call.get("construct") is not None:
                init = call["construct"]
                target = target(*[build_argument(a, functions) for a in init["args"]],
                                **{k: build_argument(v, functions)
                                   for k, v in init["kwargs"].items()})
            for attribute in attributes:
                target = getattr(target, attribute)
            value = target(*args, **kwargs)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            sys.stdout, sys.stderr = real_stdout, real_stderr
        report.update(status="returned", value=encode(value),
                      seconds=round(time.perf_counter() - started, 4))
        if call.get("return_args"):
            report["args_after"] = [encode(a) for a in args]
    except BaseException as error:  # noqa: BLE001 - SystemExit, time limits, anything
        sys.stdout, sys.stderr = real_stdout, real_stderr
        report.update(status="raised", error=_describe(error))
    report["functions"] = [f.report() for f in functions]
    try:
        json.dumps(report, allow_nan=False)
    except (TypeError, ValueError) as failure:
        report = {"kind": "call", "index": index, "status": "raised",
                  "error": {"type": "UnreportableValue", "message": str(failure)[:200]}}
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report-fd", type=int, default=3,
                        help="file descriptor of the grader's report pipe")
    sub = parser.add_subparsers(dest="mode", required=True)
    notebook = sub.add_parser("notebook")
    notebook.add_argument("cells", help="JSON file: the list of code cells' sources")
    notebook.add_argument("--values", default="", help="comma-separated names to report")
    notebook.add_argument("--student-id", default=None)
    notebook.add_argument("--cell-timeout", type=float, default=120.0)
    probe = sub.add_parser("probe")
    probe.add_argument("cells")
    probe.add_argument("probes", help="JSON file written by grading_checks")
    args = parser.parse_args(argv)
    with open(args.cells, encoding="utf-8") as handle:
        cells = json.load(handle)
    reporter = Reporter(args.report_fd)
    if args.mode == "notebook":
        names = [n for n in args.values.split(",") if n]
        run_notebook(cells, names, args.student_id, args.cell_timeout, reporter)
    else:
        with open(args.probes, encoding="utf-8") as handle:
            run_probes(cells, json.load(handle), reporter)
    reporter.send({"kind": "done"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
