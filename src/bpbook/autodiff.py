"""A scalar reverse-mode automatic differentiation engine, in the spirit of micrograd.

Every arithmetic operation on :class:`Value` objects creates a new ``Value`` that
remembers its *parents* (the operands) and a closure returning its *local derivatives*
``∂(output)/∂(parent)``, written right next to the forward rule so that the two can be
checked against each other at a glance. The values and their parents form a
*computational graph*. :meth:`Value.backward` walks that graph once, from the output
back to the leaves, and applies the chain rule at every edge::

    parent.grad += local_derivative * child.grad

The ``+=`` is where gradients add at forks: a value used twice receives one
contribution per use, which is the "sum over paths" form of the multivariable chain rule.

Besides reverse mode, :func:`forward_derivative` runs *forward mode* over the same
graph (one sweep per input), and :func:`count_operations` counts the work of both, so the
book can show with numbers why reverse mode gives every partial derivative of one output
for the price of a small constant times the function itself.

Examples
--------
>>> x, y = Value(2.0, label="x"), Value(-3.0, label="y")
>>> f = x * y + x.tanh()
>>> f.backward()
>>> round(x.grad, 6), round(y.grad, 6)
(-2.929349, 2.0)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from numbers import Real
from typing import NamedTuple

import numpy as np

__all__ = [
    "OperationCount",
    "Value",
    "count_operations",
    "draw_graph",
    "forward_derivative",
    "gradient",
    "topological_order",
]

LocalDerivatives = Callable[[], tuple[float, ...]]


def _leaf() -> tuple[float, ...]:
    return ()


class Value:
    """A scalar that records how it was computed, so that it can be differentiated.

    Parameters
    ----------
    data : real number
        The value: a Python or numpy real number, or a numpy array with one element.
    label : str, optional
        A name shown in graph drawings, e.g. ``"x"``.

    Attributes
    ----------
    data : float
        The value computed by the forward pass.
    grad : float
        ``∂(output)/∂(this value)`` after ``output.backward()``; 0 before.
    op : str
        The operation that produced the value (``"+"``, ``"tanh"``, ...); ``""`` for a leaf.
    label : str

    Raises
    ------
    TypeError
        If ``data`` is not a real number (a string, ``None``, a bool, a complex number,
        an array with more than one element).
    ValueError
        If ``data`` is NaN or infinite.

    Notes
    -----
    Operators accept plain numbers on either side (``2 * x``, ``1 - x``, ``2 / x``);
    the number becomes a constant leaf of the graph. Exponents must be numbers: ``x ** y``
    with a ``Value`` ``y`` raises ``TypeError`` (write ``(y * x.log()).exp()``).

    Examples
    --------
    >>> x = Value(3.0)
    >>> y = x * x + 2 * x      # x is used three times: the gradients add up
    >>> y.backward()
    >>> y.data, x.grad         # y = 15, dy/dx = 2x + 2 = 8
    (15.0, 8.0)
    """

    __slots__ = ("data", "grad", "label", "op", "_parents", "_local_derivatives")
    # Make numpy hand `array * value` back to Value.__rmul__ (which refuses arrays with
    # more than one element) instead of broadcasting it into an array of Values.
    __array_ufunc__ = None

    def __init__(self, data: object, label: str = "") -> None:
        value = _as_float(data, "data")
        if not math.isfinite(value):
            raise ValueError(f"data must be a finite number, got {value!r}")
        if not isinstance(label, str):
            raise TypeError(f"label must be a string, got {type(label).__name__}")
        self.data = value
        self.grad = 0.0
        self.label = label
        self.op = ""
        self._parents: tuple[Value, ...] = ()
        self._local_derivatives: LocalDerivatives = _leaf

    @classmethod
    def _result(
        cls, data: float, parents: tuple[Value, ...], op: str, local: LocalDerivatives
    ) -> Value:
        """A new node of the graph; a non-finite result means the computation diverged."""
        if not math.isfinite(data):
            operands = ", ".join(repr(p.data) for p in parents)
            raise OverflowError(f"{op}({operands}) = {data}: the computation diverged")
        out = cls.__new__(cls)
        out.data, out.grad, out.label, out.op = data, 0.0, "", op
        out._parents, out._local_derivatives = parents, local
        return out

    @property
    def parents(self) -> tuple[Value, ...]:
        """The operands this value was computed from (empty for a leaf)."""
        return self._parents

    def local_derivatives(self) -> tuple[float, ...]:
        """``∂(self)/∂(parent)`` for each parent, at the current data, in parent order."""
        return self._local_derivatives()

    def __repr__(self) -> str:
        name = f"label={self.label!r}, " if self.label else ""
        return f"Value({name}data={self.data!r}, grad={self.grad!r})"

    # ----- arithmetic: forward rule, and the local derivatives right next to it -----

    def __add__(self, other: object) -> Value:
        other = _as_value(other, "right operand of +")
        return Value._result(self.data + other.data, (self, other), "+", lambda: (1.0, 1.0))

    def __mul__(self, other: object) -> Value:
        other = _as_value(other, "right operand of *")
        a, b = self.data, other.data
        return Value._result(a * b, (self, other), "*", lambda: (b, a))

    def __sub__(self, other: object) -> Value:
        other = _as_value(other, "right operand of -")
        return Value._result(self.data - other.data, (self, other), "-", lambda: (1.0, -1.0))

    def __truediv__(self, other: object) -> Value:
        other = _as_value(other, "right operand of /")
        a, b = self.data, other.data
        if b == 0.0:
            raise ZeroDivisionError(f"division by zero: the divisor {other!r} is 0")
        return Value._result(a / b, (self, other), "/", lambda: (1.0 / b, -a / b / b))

    def __pow__(self, exponent: object) -> Value:
        if isinstance(exponent, Value):
            raise TypeError(
                "the exponent of ** must be a number, got a Value; "
                "for x ** y with y a Value write (y * x.log()).exp()"
            )
        n = _as_float(exponent, "exponent of **")
        a = self.data
        if a == 0.0 and n < 0:
            raise ZeroDivisionError(f"0.0 ** {n!r}: a negative power of zero is undefined")
        if a < 0 and not n.is_integer():
            raise ValueError(f"{a!r} ** {n!r}: a negative base needs an integer exponent")
        try:
            data = a**n
        except OverflowError:
            data = math.inf  # reported as divergence by _result

        def local() -> tuple[float, ...]:
            if n == 0.0:
                return (0.0,)
            if a == 0.0 and n < 1.0:
                raise ZeroDivisionError(f"the derivative of x ** {n!r} is infinite at x = 0")
            return (n * a ** (n - 1.0),)

        return Value._result(data, (self,), f"**{n:g}", local)

    def __neg__(self) -> Value:
        return Value._result(-self.data, (self,), "neg", lambda: (-1.0,))

    # A plain number on the left (2 * x, 1 - x, 2 / x) becomes a constant leaf.
    def __radd__(self, other: object) -> Value:
        return _as_value(other, "left operand of +") + self

    def __rmul__(self, other: object) -> Value:
        return _as_value(other, "left operand of *") * self

    def __rsub__(self, other: object) -> Value:
        return _as_value(other, "left operand of -") - self

    def __rtruediv__(self, other: object) -> Value:
        return _as_value(other, "left operand of /") / self

    def __rpow__(self, base: object) -> Value:
        raise TypeError(
            "the exponent of ** must be a number, got a Value; "
            "for c ** x write (x * math.log(c)).exp()"
        )

    # ----- functions -----

    def exp(self) -> Value:
        """``e ** self``; its derivative is itself."""
        try:
            e = math.exp(self.data)
        except OverflowError:
            e = math.inf  # reported as divergence by _result
        return Value._result(e, (self,), "exp", lambda: (e,))

    def log(self) -> Value:
        """Natural logarithm; the derivative is ``1 / self``.

        Raises
        ------
        ValueError
            If the value is not positive.
        """
        a = self.data
        if a <= 0.0:
            raise ValueError(f"log needs a positive argument, got {a!r}")
        return Value._result(math.log(a), (self,), "log", lambda: (1.0 / a,))

    def tanh(self) -> Value:
        """Hyperbolic tangent; the derivative is ``1 - tanh²``."""
        t = math.tanh(self.data)
        return Value._result(t, (self,), "tanh", lambda: (1.0 - t * t,))

    def sigmoid(self) -> Value:
        """Logistic function ``1 / (1 + e^{-x})``; the derivative is ``σ(1 - σ)`` ≤ 1/4.

        Only ``exp(-|x|)`` is computed, which lies in (0, 1], so no input overflows.
        """
        e = math.exp(-abs(self.data))
        s = 1.0 / (1.0 + e) if self.data >= 0 else e / (1.0 + e)
        return Value._result(s, (self,), "sigmoid", lambda: (s * (1.0 - s),))

    def relu(self) -> Value:
        """``max(0, x)``; the derivative is 1 for ``x > 0`` and 0 otherwise (also at 0)."""
        a = self.data
        return Value._result(max(a, 0.0), (self,), "relu", lambda: (1.0 if a > 0 else 0.0,))

    # ----- reverse mode -----

    def backward(self) -> None:
        """Fill in ``.grad`` of every value this one depends on: ``∂self/∂(that value)``.

        One sweep over the graph in reverse topological order, so each node's gradient is
        complete (every path into it has contributed) before it is passed on to its parents.

        Calling it again **accumulates into the leaves**, as PyTorch does: the leaves'
        ``.grad`` is a running sum over backward calls (so the gradients of several
        outputs can be added), while every non-leaf node is reset and holds the gradient
        of the latest call only. Call :meth:`zero_grad` first for a fresh gradient.
        """
        order = topological_order(self)
        for node in order:
            if node._parents:
                node.grad = 0.0
        self.grad += 1.0
        for node in reversed(order):
            for parent, local in zip(node._parents, node._local_derivatives()):
                # The chain rule along one edge; += because a parent may have other children.
                parent.grad += local * node.grad
                if not math.isfinite(parent.grad):
                    raise OverflowError(
                        f"the gradient became {parent.grad} at the operand of {node.op!r}: "
                        "the backward pass diverged"
                    )

    def zero_grad(self) -> None:
        """Set ``.grad`` to 0 on this value and everything it depends on."""
        for node in topological_order(self):
            node.grad = 0.0


def _as_float(value: object, role: str, expected: str = "a real number") -> float:
    """``value`` as a Python float, or ``TypeError`` naming ``role`` and what came instead."""
    if isinstance(value, np.ndarray):
        if value.size != 1 or value.dtype.kind not in "iuf":
            raise TypeError(
                f"{role} must be a real number, got a numpy array of shape {value.shape} "
                f"and dtype {value.dtype}; Value is a scalar: make one Value per element"
            )
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Real):
        raise TypeError(f"{role} must be {expected}, got {value!r}")
    return float(value)


def _as_value(value: object, role: str) -> Value:
    if isinstance(value, Value):
        return value
    number = _as_float(value, role, "a real number or a Value")
    if not math.isfinite(number):
        raise ValueError(f"{role} must be a finite number, got {number!r}")
    return Value(number, label=f"{number:g}")


def _check_output(output: object) -> Value:
    if not isinstance(output, Value):
        raise TypeError(
            "output must be a single Value (a scalar), got "
            f"{type(output).__name__}; a vector-valued function has no single gradient: "
            "differentiate each component, or a scalar such as their sum or a loss"
        )
    return output


def topological_order(output: Value) -> list[Value]:
    """Every value ``output`` depends on, each after all of its parents; ``output`` last.

    An iterative depth-first search (no recursion, so a graph thousands of operations
    deep does not hit Python's recursion limit). A value reached along several paths
    appears once.

    Parameters
    ----------
    output : Value

    Returns
    -------
    list of Value
        Leaves first, ``output`` last.

    Raises
    ------
    TypeError
        If ``output`` is not a ``Value``.

    Examples
    --------
    >>> x = Value(1.0, label="x")
    >>> [v.op or v.label for v in topological_order((x * x).exp())]
    ['x', '*', 'exp']
    """
    output = _check_output(output)
    order: list[Value] = []
    visited: set[int] = set()
    stack: list[tuple[Value, bool]] = [(output, False)]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        stack.extend((p, False) for p in node._parents if id(p) not in visited)
    return order


def gradient(output: Value, inputs: Sequence[Value]) -> list[float]:
    """``[∂output/∂x for x in inputs]`` from one fresh backward sweep.

    Unlike :meth:`Value.backward`, this zeroes every gradient in the graph first, so the
    result does not depend on earlier calls.

    Parameters
    ----------
    output : Value
        A scalar; a list of Values (a vector-valued function) is refused.
    inputs : sequence of Value

    Returns
    -------
    list of float, length ``len(inputs)``

    Raises
    ------
    TypeError
        If ``output`` is not a single ``Value`` or an input is not a ``Value``.

    Examples
    --------
    >>> x, y = Value(2.0), Value(5.0)
    >>> gradient(x * y + x, [x, y])
    [6.0, 2.0]
    """
    output = _check_output(output)
    inputs = _check_inputs(inputs)
    output.zero_grad()
    for x in inputs:  # an input the output does not depend on has gradient 0
        x.grad = 0.0
    output.backward()
    return [x.grad for x in inputs]


def forward_derivative(output: Value, wrt: Value) -> float:
    """``∂output/∂wrt`` by forward mode: one sweep from the inputs towards the output.

    Each node's *tangent* ``∂node/∂wrt`` is the sum over its parents of
    ``local derivative × parent's tangent``, computed in topological order. The same
    local derivatives as in reverse mode are used, but the sweep yields the derivative
    with respect to *one* input; all n partial derivatives need n sweeps.

    (A forward-mode library carries the tangent along with the value as it computes,
    without recording a graph; walking the recorded graph gives the same numbers and lets
    :func:`count_operations` compare the two modes on equal terms.)

    Parameters
    ----------
    output : Value
    wrt : Value
        The input to differentiate with respect to.

    Returns
    -------
    float

    Examples
    --------
    >>> x, y = Value(2.0), Value(5.0)
    >>> forward_derivative(x * y + x, x)
    6.0
    """
    output = _check_output(output)
    if not isinstance(wrt, Value):
        raise TypeError(f"wrt must be a Value, got {type(wrt).__name__}")
    tangent: dict[int, float] = {id(wrt): 1.0}
    for node in topological_order(output):
        if node is wrt or not node._parents:
            continue
        tangent[id(node)] = sum(
            local * tangent.get(id(parent), 0.0)
            for parent, local in zip(node._parents, node._local_derivatives())
        )
    return tangent.get(id(output), 0.0)


class OperationCount(NamedTuple):
    """The size of a computational graph, and so the work of each sweep over it.

    Attributes
    ----------
    leaves : int
        Inputs and constants.
    operations : int
        Non-leaf nodes: the elementary operations of the forward pass.
    edges : int
        Operand slots (``x * x`` has two edges to ``x``). Each sweep, forward or reverse,
        evaluates one local derivative and does one multiply-add per edge.
    """

    leaves: int
    operations: int
    edges: int

    @property
    def nodes(self) -> int:
        """All values in the graph: leaves plus operations."""
        return self.leaves + self.operations


def count_operations(output: Value) -> OperationCount:
    """Count the leaves, operations and edges of the graph that computes ``output``.

    Parameters
    ----------
    output : Value

    Returns
    -------
    OperationCount

    Examples
    --------
    >>> x = Value(1.0)
    >>> count_operations((x * x + 1).tanh())
    OperationCount(leaves=2, operations=3, edges=5)
    """
    order = topological_order(output)
    operations = sum(1 for node in order if node._parents)
    edges = sum(len(node._parents) for node in order)
    return OperationCount(len(order) - operations, operations, edges)


def _check_inputs(inputs: Iterable[Value]) -> list[Value]:
    if isinstance(inputs, Value):
        raise TypeError("inputs must be a sequence of Values, e.g. [x, y]; got one Value")
    inputs = list(inputs)
    for i, x in enumerate(inputs):
        if not isinstance(x, Value):
            raise TypeError(f"inputs[{i}] must be a Value, got {type(x).__name__}")
    return inputs


def draw_graph(output: Value, ax=None, *, show_grad: bool = True, width: float = 7.0):
    """Draw the computational graph of ``output``: values in boxes, local derivatives on edges.

    Columns are depths (a leaf is at depth 0, an operation one column right of its
    deepest operand), so the computation reads from left to right and ``output`` is in
    the last column. Each box shows the label or operation, the value and, if
    ``show_grad``, the gradient ``∂output/∂(box)`` from the latest backward pass; each edge
    carries the local derivative ``∂(child)/∂(parent)``. Meant for graphs of up to a
    dozen or so nodes.

    Parameters
    ----------
    output : Value
    ax : matplotlib.axes.Axes, optional
        Where to draw; by default a new figure is made (without pyplot).
    show_grad : bool
        Also print ``grad`` in every box.
    width : float
        Width in inches of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn on.
    """
    from matplotlib.figure import Figure

    order = topological_order(output)
    depth: dict[int, int] = {}
    for node in order:
        depth[id(node)] = 1 + max((depth[id(p)] for p in node._parents), default=-1)
    columns: dict[int, list[Value]] = {}
    for node in order:
        columns.setdefault(depth[id(node)], []).append(node)
    position: dict[int, tuple[float, float]] = {}
    for col, nodes in columns.items():
        # Top to bottom by the mean height of the operands, so that edges cross less.
        nodes.sort(key=lambda v: -np.mean([position[id(p)][1] for p in v._parents] or [0.0]))
        for row, node in enumerate(nodes):
            position[id(node)] = (float(col), (len(nodes) - 1) / 2.0 - row)

    edges = []  # (parent position, child position, local derivative, waypoint height)
    uses: dict[tuple[int, int], int] = {}
    for node in order:
        x1, y1 = position[id(node)]
        parents = node._parents
        for parent, local in zip(parents, node._local_derivatives()):
            x0, y0 = position[id(parent)]
            # Repeated operands (x * x) fan out above and below the straight line; an edge
            # that skips a column arches over the boxes in between.
            repeats = parents.count(parent)
            k = uses[id(parent), id(node)] = uses.get((id(parent), id(node)), -1) + 1
            bend = 0.3 * (2 * k - (repeats - 1)) if repeats > 1 else 0.0
            if bend == 0.0 and x1 - x0 > 1:
                bend = 0.5
            edges.append(((x0, y0), (x1, y1), local, (y0 + y1) / 2 + bend, bend != 0.0))
    heights = [y for _, y in position.values()] + [e[3] for e in edges]
    low, high = min(heights) - 0.5, max(heights) + 0.5

    if ax is None:
        fig = Figure(figsize=(width, max(1.6, 1.1 * (high - low) + 0.2)), layout="constrained")
        ax = fig.add_subplot()
    fig = ax.figure
    arrow = {"arrowstyle": "->", "color": "0.45", "lw": 1.2}
    for (x0, y0), (x1, y1), local, y_mid, bent in edges:
        x_mid = (x0 + x1) / 2
        if bent:
            ax.plot([x0 + 0.22, x_mid], [y0, y_mid], color="0.45", lw=1.2)
            ax.annotate("", xy=(x1 - 0.22, y1), xytext=(x_mid, y_mid), arrowprops=arrow)
        else:
            ax.annotate("", xy=(x1 - 0.22, y1), xytext=(x0 + 0.22, y0), arrowprops=arrow)
        ax.text(
            x_mid, y_mid, f"{local:.3g}", ha="center", va="center", fontsize=9,
            color="tab:red", bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none"},
        )
    for node in order:
        title = node.label or node.op
        text = f"{title}\n{node.data:.4g}" + (f"\ngrad {node.grad:.3g}" if show_grad else "")
        ax.text(
            *position[id(node)], text, ha="center", va="center", fontsize=10,
            bbox={
                "boxstyle": "round,pad=0.3",
                "fc": "#e8f0fb" if node._parents else "#fdf3d8",
                "ec": "0.3",
            },
        )
    ax.set_xlim(-0.5, len(columns) - 0.5)
    ax.set_ylim(low, high)
    ax.set_axis_off()
    return fig
