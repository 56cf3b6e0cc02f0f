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

Besides reverse mode, :func:`forward_sweep` runs *forward mode* over the same graph (one
sweep per input, giving the derivatives of every output with respect to it) and counts
its work, as :func:`count_operations` counts a backward sweep's, so the book can show
with numbers why reverse mode gives every partial derivative of one output for the price
of a small constant times the function itself. :func:`multiply_chain` shows the same two
orders on a chain of Jacobian matrices: reverse mode is the order in which every
intermediate product is a row (a vector–Jacobian product).

A new operation is one call of :meth:`Value.operation` with its forward result and a
function returning its local derivatives; every operation of the engine is written so.

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
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "ChainProduct",
    "ForwardSweep",
    "OperationCount",
    "Value",
    "count_operations",
    "forward_derivative",
    "forward_sweep",
    "gradient",
    "multiply_chain",
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
    def operation(
        cls, data: float, parents: tuple[Value, ...], op: str, local: LocalDerivatives
    ) -> Value:
        """A new node of the graph: the result of operation ``op`` on ``parents``.

        Every operation of the engine is one call of this method, and so is a new one
        (see the examples): give the forward result, the operands, a name, and a function
        returning the local derivatives ``∂(result)/∂(parent)`` in parent order.

        Parameters
        ----------
        data : float
            The result of the forward computation.
        parents : tuple of Value
            The operands, in the order in which ``local`` returns their derivatives.
        op : str
            The operation's name, shown in graph drawings and error messages.
        local : callable
            ``local()`` returns one float per parent. It is called only by the sweeps
            (backward and forward mode), so it may reuse values of the forward pass.

        Raises
        ------
        TypeError
            If ``parents`` is not a tuple of Values, ``op`` not a string or ``local`` not
            callable.
        OverflowError
            If ``data`` is infinite or NaN: the computation diverged.

        Examples
        --------
        The sine, with its local derivative next to its forward rule:

        >>> def sin(x):
        ...     c = math.cos(x.data)
        ...     return Value.operation(math.sin(x.data), (x,), "sin", lambda: (c,))
        >>> x = Value(0.0)
        >>> gradient(sin(x) * 3, [x])
        [3.0]
        """
        if not isinstance(parents, tuple) or not all(isinstance(p, Value) for p in parents):
            raise TypeError(f"parents must be a tuple of Values, got {parents!r}")
        if not isinstance(op, str):
            raise TypeError(f"op must be a string, got {type(op).__name__}")
        if not callable(local):
            raise TypeError(f"local must be a function returning local derivatives, got {local!r}")
        if not math.isfinite(data):
            operands = ", ".join(repr(p.data) for p in parents)
            raise OverflowError(f"{op}({operands}) = {data}: the computation diverged")
        out = cls.__new__(cls)
        out.data, out.grad, out.label, out.op = float(data), 0.0, "", op
        out._parents, out._local_derivatives = parents, local
        return out

    @property
    def parents(self) -> tuple[Value, ...]:
        """The operands this value was computed from (empty for a leaf)."""
        return self._parents

    def local_derivatives(self) -> tuple[float, ...]:
        """``∂(self)/∂(parent)`` for each parent, at the current data, in parent order.

        Raises
        ------
        ValueError
            If the operation's ``local`` function returned a different number of
            derivatives than it has parents (a mistake in a new operation).
        """
        local = tuple(self._local_derivatives())
        if len(local) != len(self._parents):
            raise ValueError(
                f"operation {self.op!r} has {len(self._parents)} operand(s) but its local "
                f"derivatives function returned {len(local)} value(s)"
            )
        return local

    def __repr__(self) -> str:
        name = f"label={self.label!r}, " if self.label else ""
        return f"Value({name}data={self.data!r}, grad={self.grad!r})"

    # ----- arithmetic: forward rule, and the local derivatives right next to it -----

    def __add__(self, other: object) -> Value:
        other = _as_value(other, "right operand of +")
        return Value.operation(self.data + other.data, (self, other), "+", lambda: (1.0, 1.0))

    def __mul__(self, other: object) -> Value:
        other = _as_value(other, "right operand of *")
        a, b = self.data, other.data
        return Value.operation(a * b, (self, other), "*", lambda: (b, a))

    def __sub__(self, other: object) -> Value:
        other = _as_value(other, "right operand of -")
        return Value.operation(self.data - other.data, (self, other), "-", lambda: (1.0, -1.0))

    def __truediv__(self, other: object) -> Value:
        other = _as_value(other, "right operand of /")
        a, b = self.data, other.data
        if b == 0.0:
            raise ZeroDivisionError(f"division by zero: the divisor {other!r} is 0")
        return Value.operation(a / b, (self, other), "/", lambda: (1.0 / b, -a / b / b))

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
            data = math.inf  # reported as divergence by Value.operation

        def local() -> tuple[float, ...]:
            if n == 0.0:
                return (0.0,)
            if a == 0.0 and n < 1.0:
                raise ZeroDivisionError(f"the derivative of x ** {n!r} is infinite at x = 0")
            return (n * a ** (n - 1.0),)

        return Value.operation(data, (self,), f"**{n:g}", local)

    def __neg__(self) -> Value:
        return Value.operation(-self.data, (self,), "neg", lambda: (-1.0,))

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
            e = math.inf  # reported as divergence by Value.operation
        return Value.operation(e, (self,), "exp", lambda: (e,))

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
        return Value.operation(math.log(a), (self,), "log", lambda: (1.0 / a,))

    def tanh(self) -> Value:
        """Hyperbolic tangent; the derivative is ``1 - tanh²``."""
        t = math.tanh(self.data)
        return Value.operation(t, (self,), "tanh", lambda: (1.0 - t * t,))

    def sigmoid(self) -> Value:
        """Logistic function ``1 / (1 + e^{-x})``; the derivative is ``σ(1 - σ)`` ≤ 1/4.

        Only ``exp(-|x|)`` is computed, which lies in (0, 1], so no input overflows.
        """
        e = math.exp(-abs(self.data))
        s = 1.0 / (1.0 + e) if self.data >= 0 else e / (1.0 + e)
        return Value.operation(s, (self,), "sigmoid", lambda: (s * (1.0 - s),))

    def relu(self) -> Value:
        """``max(0, x)``; the derivative is 1 for ``x > 0`` and 0 otherwise (also at 0)."""
        a = self.data
        return Value.operation(max(a, 0.0), (self,), "relu", lambda: (1.0 if a > 0 else 0.0,))

    def max(self, other: object) -> Value:
        """The larger of ``self`` and ``other``; its gradient goes to that one.

        The local derivatives are ``(1, 0)`` if ``self`` is larger and
        ``(0, 1)`` if ``other`` is: a max gate *routes* the whole gradient to
        the operand that won. At a tie, where max has no derivative, each
        operand gets ``1/2``, as SymPy's ``Heaviside(0) = 1/2`` gives for
        ``diff(Max(x, y), x)``; so ``x.max(x)`` has the derivative 1 of ``x``
        itself. (``x.relu()`` and ``x.max(0)`` differ only at ``x = 0``, where
        ``relu`` takes 0.)

        Examples
        --------
        >>> x, y = Value(3.0), Value(-1.0)
        >>> gradient(x.max(y), [x, y])
        [1.0, 0.0]
        """
        other = _as_value(other, "operand of max")
        a, b = self.data, other.data
        local = (1.0, 0.0) if a > b else (0.0, 1.0) if b > a else (0.5, 0.5)
        return Value.operation(max(a, b), (self, other), "max", lambda: local)

    # ----- reverse mode -----

    def backward(self) -> None:
        """Fill in ``.grad`` of every value this one depends on.

        After the call, ``value.grad`` is ``∂self/∂value``. One sweep over the
        graph in reverse topological order, so each node's gradient is complete
        (every path into it has contributed) before it is passed on to its
        parents.

        Calling it again **accumulates into the leaves**, as PyTorch's leaves
        do: a leaf's ``.grad`` is a running sum over backward calls (so the
        gradients of several outputs can be added), while every other node is
        reset and holds the gradient of the latest call only. Call
        :meth:`zero_grad` first for a fresh gradient.
        """
        order = topological_order(self)
        for node in order:
            if node.parents:
                node.grad = 0.0
        self.grad += 1.0
        for node in reversed(order):
            locals_ = node.local_derivatives()
            for parent, local in zip(node.parents, locals_, strict=True):
                # The chain rule along one edge; += because a parent may have
                # other children.
                parent.grad += local * node.grad
                if not math.isfinite(parent.grad):
                    raise OverflowError(
                        f"the gradient became {parent.grad} at the operand of "
                        f"{node.op!r}: the backward pass diverged"
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
    return _depth_first_order([_check_output(output)])


def _depth_first_order(outputs: list[Value]) -> list[Value]:
    """Every value the ``outputs`` depend on, once, after all its parents."""
    order: list[Value] = []
    visited: set[int] = set()
    stack: list[tuple[Value, bool]] = [(y, False) for y in reversed(outputs)]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))  # off the stack again after all its parents
        stack.extend((p, False) for p in node.parents if id(p) not in visited)
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
    """``∂output/∂wrt`` by one forward-mode sweep; see :func:`forward_sweep`.

    Examples
    --------
    >>> x, y = Value(2.0), Value(5.0)
    >>> forward_derivative(x * y + x, x)
    6.0
    """
    return forward_sweep([_check_output(output)], wrt).derivatives[0]


class ForwardSweep(NamedTuple):
    """What one forward-mode sweep delivered, and what it cost.

    Attributes
    ----------
    derivatives : list of float
        ``∂y/∂wrt`` for each output ``y``, in the order given.
    multiply_adds : int
        The products ``local derivative × tangent`` the sweep computed and added: one per
        edge of the graph it walked.
    """

    derivatives: list[float]
    multiply_adds: int


def forward_sweep(outputs: Sequence[Value], wrt: Value) -> ForwardSweep:
    """The derivatives of every output with respect to one input: forward mode.

    The sweep seeds the *tangent* of ``wrt`` with 1 and walks the graph once,
    from the inputs towards the outputs (topological order), giving every node
    its tangent ``∂node/∂wrt``: the sum over its parents of ``local derivative
    × parent's tangent``. The local derivatives are those of reverse mode, but
    one sweep yields the derivatives with respect to *one* input, of *all*
    outputs at once; the gradient of a function of n inputs needs n sweeps.

    (A forward-mode library carries the tangent along with the value as it
    computes, without recording a graph; walking the recorded graph gives the
    same numbers and lets the book count the work of the two modes on equal
    terms.)

    Parameters
    ----------
    outputs : sequence of Value
    wrt : Value
        The input to differentiate with respect to.

    Returns
    -------
    ForwardSweep
        The derivatives and the number of multiply-adds the sweep ran.

    Raises
    ------
    TypeError
        If ``outputs`` is not a sequence of Values or ``wrt`` is not a Value.

    Examples
    --------
    >>> x = Value(2.0)
    >>> shared = x * x
    >>> forward_sweep([shared + x, shared * 3], x)
    ForwardSweep(derivatives=[5.0, 12.0], multiply_adds=6)
    """
    outputs = _check_inputs(outputs, "outputs")
    if not isinstance(wrt, Value):
        raise TypeError(f"wrt must be a Value, got {type(wrt).__name__}")
    tangent: dict[int, float] = {id(wrt): 1.0}
    multiply_adds = 0
    for node in _depth_first_order(outputs):
        if node is wrt or not node.parents:
            continue
        pairs = zip(node.parents, node.local_derivatives(), strict=True)
        # The chain rule into one node; a leaf other than wrt has tangent 0.
        tangent[id(node)] = sum(d * tangent.get(id(p), 0.0) for p, d in pairs)
        multiply_adds += len(node.parents)
    derivatives = [tangent.get(id(y), 0.0) for y in outputs]
    return ForwardSweep(derivatives, multiply_adds)


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
    operations = sum(1 for node in order if node.parents)
    edges = sum(len(node.parents) for node in order)
    return OperationCount(len(order) - operations, operations, edges)


class ChainProduct(NamedTuple):
    """A product of matrices, the order it was formed in, and its cost.

    Attributes
    ----------
    product : ndarray
        ``factors[0] @ factors[1] @ … @ factors[-1]``.
    multiply_adds : int
        The multiply-adds of the dense products: ``p q r`` for each ``(p × q) (q × r)``.
    shapes : list of tuple of int
        The shape of every intermediate product, in the order they were formed.
    """

    product: NDArray[np.float64]
    multiply_adds: int
    shapes: list[tuple[int, int]]


def multiply_chain(factors: Sequence[ArrayLike], order: str) -> ChainProduct:
    """Multiply a chain of Jacobians ``J_L ⋯ J_1`` from one end, counting the work.

    The chain rule makes the Jacobian of a composition the product of the Jacobians of
    its steps. The product is the same in any order; its cost is not. With ``order =
    "reverse"`` the factors are multiplied from the left, ``(((J_L J_{L-1}) J_{L-2}) ⋯)``:
    if ``J_L`` is the row ``∂E/∂(output)`` of a scalar loss, every intermediate product
    is a row, and each step is a vector–Jacobian product; this is reverse mode. With
    ``order = "forward"`` they are multiplied from the right, ``(⋯ (J_2 J_1))``: every
    intermediate product is a full Jacobian with as many columns as ``J_1`` has (one per
    input); this is forward mode, one column per sweep.

    Parameters
    ----------
    factors : sequence of array_like, each of shape (p, q)
        ``[J_L, …, J_1]`` in the order they are written, the leftmost first; the
        columns of each must match the rows of the next.
    order : {"reverse", "forward"}
        Multiply from the left (``"reverse"``) or from the right (``"forward"``).

    Returns
    -------
    ChainProduct

    Raises
    ------
    ValueError
        If ``order`` is neither name, ``factors`` is empty, or two neighbouring factors
        do not fit (the message names them).
    TypeError
        If a factor is not a two-dimensional array of real numbers.

    Examples
    --------
    >>> row, J2, J1 = np.ones((1, 3)), np.ones((3, 4)), np.ones((4, 5))
    >>> multiply_chain([row, J2, J1], "reverse").multiply_adds   # 1·3·4 + 1·4·5
    32
    >>> multiply_chain([row, J2, J1], "forward").multiply_adds   # 3·4·5 + 1·3·5
    75
    """
    if order not in ("reverse", "forward"):
        raise ValueError(f"order must be 'reverse' or 'forward', got {order!r}")
    given: object = factors  # checked whatever the annotation promises (a 3-D array?)
    if isinstance(given, np.ndarray) or not isinstance(given, Sequence) or not given:
        raise ValueError("factors must be a non-empty list of matrices [J_L, ..., J_1]")
    mats = []
    for i, factor in enumerate(factors):
        array = np.asarray(factor)
        if array.ndim != 2 or array.dtype.kind not in "iuf":
            raise TypeError(
                f"factors[{i}] must be a 2-D array of real numbers, got shape {array.shape} "
                f"and dtype {array.dtype}"
            )
        mats.append(array.astype(np.float64))
    for i in range(len(mats) - 1):
        if mats[i].shape[1] != mats[i + 1].shape[0]:
            raise ValueError(
                f"factors[{i}] has shape {mats[i].shape} and factors[{i + 1}] has shape "
                f"{mats[i + 1].shape}: the columns of one must match the rows of the next"
            )
    multiply_adds, shapes = 0, []
    if order == "reverse":
        product = mats[0]
        for right in mats[1:]:
            multiply_adds += product.shape[0] * product.shape[1] * right.shape[1]
            product = product @ right
            shapes.append((product.shape[0], product.shape[1]))
    else:
        product = mats[-1]
        for left in reversed(mats[:-1]):
            multiply_adds += left.shape[0] * left.shape[1] * product.shape[1]
            product = left @ product
            shapes.append((product.shape[0], product.shape[1]))
    return ChainProduct(product, int(multiply_adds), shapes)


def _check_inputs(inputs: Iterable[Value], name: str = "inputs") -> list[Value]:
    if isinstance(inputs, Value):
        raise TypeError(f"{name} must be a sequence of Values, e.g. [x, y]; got one Value")
    if not isinstance(inputs, Iterable):
        raise TypeError(f"{name} must be a sequence of Values, got {type(inputs).__name__}")
    inputs = list(inputs)
    for i, x in enumerate(inputs):
        if not isinstance(x, Value):
            raise TypeError(f"{name}[{i}] must be a Value, got {type(x).__name__}")
    return inputs
