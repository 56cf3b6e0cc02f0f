"""The grader's checks: written per assignment, run outside every sandbox.

An assignment's ``checks.py`` (next to its master, private like it) declares its
questions and its checks with this module::

    ASSIGNMENT = "backprop"
    VALUES = ("xor_history",)                       # variables the notebook run reports
    QUESTIONS = {"q1": Question(tripwires=("network.MLP.gradients",)),
                 "q4": Question(manual=True, points=2)}

    @check("q1", points=2, message="…")
    def output_layer(student, ctx):
        net = Net.random([3, 3, 2], "tanh", "identity", ctx.rng)
        out = yield student.backward(net, zs, activations, delta)   # a probe
        grad_W, grad_b, deltas = out.value
        expect(close(grad_W[-1], delta.T @ activations[-2]), "…the mistake, named…")

A check is a generator. Each ``yield`` hands over one probe call (or a list of them) of
the student's answers; the grader runs all probes of a question in one sandbox (with the
question's *tripwires*: the package functions that compute what the question asks for are
replaced by functions that raise) and then resumes the check with the outcomes. The check
computes what is expected itself, with the real package, and fails with a message that
names the mistake. A check that needs no probe is a plain function reading the values the
notebook run reported (``ctx.value("name")``).

Nothing here ever runs a submission's code: the checks see plain data (numbers, arrays,
strings) that came out of the sandboxes, and SymPy expressions are rebuilt from their
``srepr`` by a parser that only knows SymPy's own constructors.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import grading_runner
import numpy as np

__all__ = [
    "Call", "CheckFailed", "Context", "Fn", "Net", "Outcome", "Question", "Rng", "Student",
    "array", "check", "close", "collect_calls", "describe", "evaluate", "expect",
    "parse_sympy", "student_seed",
]


class CheckFailed(Exception):
    """A check's verdict: the answer is wrong, and the message says how."""


def expect(condition: bool, message: str) -> None:
    """Fail the check with ``message`` unless ``condition`` holds."""
    if not condition:
        raise CheckFailed(message)


@dataclass(frozen=True)
class Question:
    """A question of an assignment.

    ``tripwires`` name the package functions (``"module.function"`` or
    ``"module.Class.method"``, modules relative to ``bpbook``) that are replaced by functions
    that raise while this question's probes run. A manual question is graded by hand and
    has ``points``; an autograded one has the sum of its checks' points.
    """

    tripwires: tuple[str, ...] = ()
    manual: bool = False
    points: float = 0.0


@dataclass
class Check:
    """One check: a name, its question, its points, and whether students run it too."""

    name: str
    question: str
    points: float
    public: bool
    function: Callable


def check(question: str, points: float, public: bool = False) -> Callable:
    """Declare the decorated function a check of ``question`` worth ``points``.

    ``public`` checks repeat a test that students run in their notebook (``grader.check``);
    the others are hidden. The module-level list ``CHECKS`` of the calling module collects
    them in order of definition.
    """
    def register(function: Callable) -> Callable:
        checks = function.__globals__.setdefault("CHECKS", [])
        checks.append(Check(function.__name__, question, float(points), public, function))
        return function
    return register


# --- what probes pass to the answers ---------------------------------------------------------

@dataclass(frozen=True)
class Rng:
    """A ``numpy.random.Generator`` made with ``default_rng(seed)`` for the answer."""

    seed: int

    def probe(self) -> dict:
        return {"__rng__": int(self.seed)}

    def python(self) -> np.random.Generator:
        return np.random.default_rng(self.seed)


@dataclass(frozen=True)
class Fn:
    """A function given to the answer (see ``grading_runner._FUNCTIONS`` for the kinds)."""

    kind: str
    params: dict = field(default_factory=dict)

    def probe(self) -> dict:
        return {"__function__": {"kind": self.kind, "params": {
            k: grading_runner.encode(v) for k, v in self.params.items()}}}

    def python(self) -> Callable:
        return grading_runner._FUNCTIONS[self.kind](**self.params)


@dataclass
class Net:
    """A network given to the answer: the sandbox's ``bpbook.MLP`` with these parameters."""

    layer_sizes: list[int]
    activation: str
    output_activation: str
    weights: list[np.ndarray]
    biases: list[np.ndarray]

    @classmethod
    def random(cls, layer_sizes, activation: str, output_activation: str,
               rng: np.random.Generator, bias_scale: float = 0.3) -> Net:
        """Weights ``N(0, 1/n_{l-1})`` and biases ``N(0, bias_scale²)`` from ``rng``."""
        sizes = [int(n) for n in layer_sizes]
        weights = [rng.normal(0.0, 1.0 / np.sqrt(n_in), (n_out, n_in))
                   for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True)]
        biases = [rng.normal(0.0, bias_scale, n_out) for n_out in sizes[1:]]
        return cls(sizes, activation, output_activation, weights, biases)

    @classmethod
    def from_mlp(cls, net) -> Net:
        """The parameters and architecture of an existing ``bpbook.MLP``."""
        return cls(list(net.layer_sizes), net.activation.name, net.output_activation,
                   [np.array(W) for W in net.weights], [np.array(b) for b in net.biases])

    def probe(self) -> dict:
        return {"__network__": {
            "layer_sizes": self.layer_sizes, "activation": self.activation,
            "output_activation": self.output_activation,
            "weights": [grading_runner.encode(w) for w in self.weights],
            "biases": [grading_runner.encode(b) for b in self.biases],
        }}

    def python(self):
        """The same network as a real ``bpbook.MLP``, for computing what is expected."""
        from bpbook import MLP

        net = MLP(self.layer_sizes, activation=self.activation,
                  output_activation=self.output_activation)
        net.weights = self.weights
        net.biases = self.biases
        return net


def _probe_argument(value: Any) -> Any:
    if isinstance(value, (Net, Rng, Fn)):
        return value.probe()
    if isinstance(value, list):
        return [_probe_argument(v) for v in value]
    if isinstance(value, tuple):
        return {"__tuple__": [_probe_argument(v) for v in value]}
    return grading_runner.encode(value)


def _describe_call(function: str, args: tuple, kwargs: dict) -> str:
    def short(value: Any) -> str:
        if isinstance(value, Net):
            return f"a {'-'.join(map(str, value.layer_sizes))} {value.activation} network"
        if isinstance(value, np.ndarray):
            return f"an array of shape {value.shape}"
        if isinstance(value, Rng):
            return f"np.random.default_rng({value.seed})"
        if isinstance(value, Fn):
            return "a function"
        if isinstance(value, (list, tuple)) and len(value) > 4:
            return f"a {type(value).__name__} of {len(value)} items"
        text = repr(value)
        return text if len(text) <= 40 else text[:37] + "..."
    parts = [short(a) for a in args] + [f"{k}={short(v)}" for k, v in kwargs.items()]
    return f"{function}({', '.join(parts)})"


@dataclass
class Call:
    """One call of a student's function (or method) in the sandbox."""

    function: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    construct: tuple[tuple, dict] | None = None
    return_args: bool = False

    def probe(self) -> dict:
        data = {"function": self.function,
                "args": [_probe_argument(a) for a in self.args],
                "kwargs": {k: _probe_argument(v) for k, v in self.kwargs.items()},
                "return_args": self.return_args}
        if self.construct is not None:
            args, kwargs = self.construct
            data["construct"] = {"args": [_probe_argument(a) for a in args],
                                 "kwargs": {k: _probe_argument(v) for k, v in kwargs.items()}}
        return data

    def __str__(self) -> str:
        if self.construct is not None:
            cls, method = self.function.split(".", 1)
            made = _describe_call(cls, *self.construct)
            return f"{made}.{_describe_call(method, self.args, self.kwargs)}"
        return _describe_call(self.function, self.args, self.kwargs)


class Student:
    """Makes :class:`Call` objects: ``student.backward(net, X)`` is a probe of ``backward``."""

    def __getattr__(self, name: str) -> Callable[..., Call]:
        def call(*args, **kwargs) -> Call:
            return Call(name, args, kwargs)
        return call

    def new(self, class_name: str, *args, **kwargs) -> _Instance:
        """``student.new("DeltaMLP", sizes).gradients(X, Y)`` probes a method of an instance."""
        return _Instance(class_name, args, kwargs)

    def with_args(self, name: str, *args, **kwargs) -> Call:
        """A probe that also reports the arguments after the call (to see mutations)."""
        return Call(name, args, kwargs, return_args=True)


@dataclass
class _Instance:
    class_name: str
    args: tuple
    kwargs: dict

    def __getattr__(self, method: str) -> Callable[..., Call]:
        def call(*args, **kwargs) -> Call:
            return Call(f"{self.class_name}.{method}", args, kwargs,
                        construct=(self.args, self.kwargs))
        return call


@dataclass
class Outcome:
    """What one probe call did in the sandbox."""

    call: Call
    status: str  # "returned", "raised", "undefined", or "missing" (the sandbox ended first)
    result: Any = None
    error_type: str = ""
    error_message: str = ""
    functions: list[dict] = field(default_factory=list)
    args_after: list[Any] = field(default_factory=list)
    detail: str = ""

    @property
    def value(self) -> Any:
        """The returned value; for any other outcome the check fails, saying what happened."""
        if self.status == "returned":
            return self.result
        raise CheckFailed(self.explanation())

    def explanation(self) -> str:
        name = self.call.function
        if self.status == "undefined":
            return (f"`{name.split('.')[0]}` is not defined: run its cell without errors."
                    f"{self.detail}")
        if self.status == "missing":
            return (f"Grading stopped while running `{self.call}`: the code ended its process "
                    "(os._exit, a crash, or the memory or time limit of the grader).")
        if self.error_type == "TripwireError":
            return (f"`{self.call}` called {self.error_message}, which is the package's own "
                    "implementation of what this question asks you to write. It is switched "
                    "off while answers are graded: write the computation yourself.")
        if self.error_type == "TimeLimit":
            return f"`{self.call}` did not finish within the grader's time limit."
        return f"`{self.call}` raised {self.error_type}: {self.error_message}"


# --- turning returned values into numbers ----------------------------------------------------

def describe(value: Any) -> str:
    """A short description of a returned value, for failure messages."""
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of {len(value)} items"
    if isinstance(value, grading_runner.Unsupported):
        return repr(value)
    if value is None:
        return "None"
    if isinstance(value, (int, float)):
        return f"the number {value:g}"
    return f"a {type(value).__name__}"


def array(value: Any, what: str, shape: tuple | None = None) -> np.ndarray:
    """``value`` as a float array (of ``shape``, if given), or fail naming ``what``."""
    try:
        result = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise CheckFailed(f"{what} should be an array of numbers, got {describe(value)}") from None
    if shape is not None and result.shape != tuple(shape):
        raise CheckFailed(f"{what} should have shape {tuple(shape)}, got {describe(value)}")
    return result


def close(actual: Any, expected: Any, rtol: float = 1e-6, atol: float = 1e-9) -> bool:
    """Whether ``actual`` has the shape of ``expected`` and agrees with it elementwise."""
    try:
        actual = np.asarray(actual, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    expected = np.asarray(expected, dtype=np.float64)
    return actual.shape == expected.shape and bool(
        np.all(np.isfinite(actual)) and np.allclose(actual, expected, rtol=rtol, atol=atol))


# --- SymPy expressions, rebuilt safely ------------------------------------------------------

_SYMPY_NAMES = {
    "Symbol", "Dummy", "Integer", "Rational", "Float", "Add", "Mul", "Pow", "Half", "One",
    "NegativeOne", "Zero", "Pi", "Exp1", "ImaginaryUnit", "Infinity", "NegativeInfinity",
    "exp", "log", "tanh", "sinh", "cosh", "sech", "csch", "coth", "atanh", "sin", "cos",
    "tan", "Abs", "sign", "sqrt", "Max", "Min", "Heaviside", "Tuple",
}
MAX_SYMPY_TEXT = 20_000


def parse_sympy(text: str):
    """The SymPy expression whose ``srepr`` is ``text``; ``CheckFailed`` for anything else.

    Only calls of SymPy's own constructors with literal arguments are accepted, so the text
    (which a submission produced) cannot run code here.
    """
    import sympy

    if len(text) > MAX_SYMPY_TEXT:
        raise CheckFailed("the SymPy expression is too large to check")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise CheckFailed("the value is not a SymPy expression") from None

    def build(node: ast.AST):
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool)):
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -build(node.operand)
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in _SYMPY_NAMES):
            args = [build(a) for a in node.args]
            kwargs = {k.arg: build(k.value) for k in node.keywords if k.arg is not None}
            if node.func.id in {"Symbol", "Dummy"} and not isinstance(args[0], str):
                raise CheckFailed("a symbol without a name")
            return getattr(sympy, node.func.id)(*args, **kwargs)
        raise CheckFailed("the value is not a SymPy expression made of elementary functions")

    expression = build(tree.body)
    if not isinstance(expression, sympy.Expr):
        raise CheckFailed("the value is not a SymPy expression")
    return expression


# --- the context of one submission ----------------------------------------------------------

def student_seed(assignment: str, student_id: str, salt: str = "") -> int:
    """A 63-bit seed from the assignment, the student id and an optional salt."""
    digest = hashlib.sha256(f"{assignment}/{student_id.strip()}/{salt}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


@dataclass
class Context:
    """What a check knows about the submission: its student id and its notebook's values."""

    assignment: str
    student_id: str
    values: dict[str, Any]
    module: Any = None
    check_name: str = ""
    _data: Any = None
    _rng: np.random.Generator | None = None

    def start(self, check_name: str) -> None:
        """Begin a check: its generator is seeded by the student id and the check's name,
        so that both phases draw the same inputs."""
        self.check_name = check_name
        self._rng = np.random.default_rng(
            student_seed(self.assignment, self.student_id, check_name))

    @property
    def rng(self) -> np.random.Generator:
        """The check's random generator (see :meth:`start`)."""
        if self._rng is None:
            self.start(self.check_name)
        return self._rng

    @property
    def data(self) -> Any:
        """The student's own data: ``student_data(student_id)`` of the checks module."""
        if self._data is None:
            self._data = self.module.student_data(self.student_id)
        return self._data

    def value(self, name: str) -> Any:
        """The value of ``name`` after the notebook run, or fail saying it is missing."""
        if name not in self.values:
            raise CheckFailed(f"`{name}` is not defined after running the notebook: "
                              "run its cell without errors.")
        value = self.values[name]
        if isinstance(value, grading_runner.Unsupported):
            raise CheckFailed(f"`{name}` is {value!r}, which the grader cannot read")
        if isinstance(value, grading_runner.SympyText):
            return parse_sympy(value)
        return value


# --- running the checks ---------------------------------------------------------------------

@dataclass
class Verdict:
    """The result of one check."""

    question: str
    name: str
    points: float
    public: bool
    passed: bool
    message: str = ""
    internal: str = ""  # a failure of the check itself, for the lecturer (not for students)


def _fresh(check_: Check, module, context: Context):
    context.start(check_.name)
    return check_.function(Student(), context)


def collect_calls(module, context: Context) -> dict[str, list[Call]]:
    """Phase 1: the probe calls of every check, grouped by question, in check order."""
    calls: dict[str, list[Call]] = {}
    for check_ in module.CHECKS:
        if not inspect.isgeneratorfunction(check_.function):
            continue
        generator = _fresh(check_, module, context)
        try:
            wanted = next(generator)
        except (StopIteration, CheckFailed, Exception):  # noqa: BLE001 - judged in phase 2
            continue
        finally:
            generator.close()
        batch = wanted if isinstance(wanted, list) else [wanted]
        calls.setdefault(check_.question, []).extend(batch)
    return calls


def evaluate(module, context: Context, outcomes: dict[str, list[Outcome]]) -> list[Verdict]:
    """Phase 2: run every check again, hand it the outcomes of its calls, and judge it."""
    verdicts = []
    position = {question: 0 for question in outcomes}
    for check_ in module.CHECKS:
        verdict = Verdict(check_.question, check_.name, check_.points, check_.public, False)
        try:
            if inspect.isgeneratorfunction(check_.function):
                generator = _fresh(check_, module, context)
                wanted = next(generator)
                batch = wanted if isinstance(wanted, list) else [wanted]
                start = position.get(check_.question, 0)
                got = outcomes.get(check_.question, [])[start:start + len(batch)]
                position[check_.question] = start + len(batch)
                if len(got) < len(batch):
                    got += [Outcome(call, "missing") for call in batch[len(got):]]
                try:
                    generator.send(got if isinstance(wanted, list) else got[0])
                except StopIteration:
                    pass
                else:
                    raise RuntimeError("a check may yield only once")
            else:
                _fresh(check_, module, context)
            verdict.passed = True
        except CheckFailed as failure:
            verdict.message = str(failure)
        except Exception as error:  # noqa: BLE001 - a value the check did not foresee
            verdict.message = ("The grader could not use this answer "
                               f"({type(error).__name__}); check its type and shape.")
            verdict.internal = "".join(traceback.format_exception(error))[-2000:]
        verdicts.append(verdict)
    return verdicts


def questions_of(module) -> dict[str, Question]:
    """The questions of a checks module, each autograded one with its checks' points."""
    questions = dict(module.QUESTIONS)
    for name, question in questions.items():
        if not question.manual:
            points = sum(c.points for c in module.CHECKS if c.question == name)
            questions[name] = Question(question.tripwires, False, points)
    return questions


def iterate_checks(module) -> Iterator[Check]:
    yield from module.CHECKS
