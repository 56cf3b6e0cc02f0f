"""Tests of bpbook.autodiff: the engine against SymPy and against finite differences.

The reference expressions are built *in parallel* with the engine's: every random
operation is applied to a ``Value`` and to a SymPy expression at once, so the two
describe the same function, and SymPy's ``diff`` (which knows nothing of graphs,
forks or ``+=``) provides the exact gradient.
"""

import doctest
import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from bpbook import autodiff
from bpbook.autodiff import (
    Value,
    count_operations,
    forward_derivative,
    forward_sweep,
    gradient,
    multiply_chain,
)
from bpbook.gradcheck import numerical_gradient, relative_error

SYMBOLS = sp.symbols("x0:3", real=True)


def sympy_sigmoid(e):
    return 1 / (1 + sp.exp(-e))


# Each unary operation: (name, applies at this value?, engine version, SymPy version).
# The guards keep every random expression inside the domain and away from kinks, where
# a derivative does not exist and no reference could be right.
UNARY = [
    ("neg", lambda a: True, lambda v: -v, lambda e: -e),
    ("exp", lambda a: abs(a) < 4, Value.exp, sp.exp),
    ("log", lambda a: a > 0.1, Value.log, sp.log),
    ("tanh", lambda a: True, Value.tanh, sp.tanh),
    ("sigmoid", lambda a: True, Value.sigmoid, sympy_sigmoid),
    ("relu", lambda a: abs(a) > 1e-3, Value.relu, lambda e: sp.Max(0, e)),
    ("square", lambda a: abs(a) < 30, lambda v: v**2, lambda e: e**2),
    ("cube", lambda a: abs(a) < 10, lambda v: v**3, lambda e: e**3),
    ("reciprocal", lambda a: abs(a) > 0.2, lambda v: v**-1, lambda e: e**-1),
    ("sqrt", lambda a: a > 0.1, lambda v: v**0.5, sp.sqrt),
    ("scale", lambda a: True, lambda v: 0.5 * v, lambda e: sp.Rational(1, 2) * e),
    ("shift", lambda a: True, lambda v: 1 - v, lambda e: 1 - e),
    ("over", lambda a: abs(a) > 0.2, lambda v: 2 / v, lambda e: 2 / e),
]
BINARY = [
    ("+", lambda a, b: True, lambda u, v: u + v, lambda d, e: d + e),
    ("-", lambda a, b: True, lambda u, v: u - v, lambda d, e: d - e),
    ("*", lambda a, b: abs(a * b) < 1e3, lambda u, v: u * v, lambda d, e: d * e),
    ("/", lambda a, b: abs(b) > 0.2, lambda u, v: u / v, lambda d, e: d / e),
    # Away from ties, where max has no derivative.
    ("max", lambda a, b: abs(a - b) > 1e-3, lambda u, v: u.max(v), sp.Max),
]


def random_expression(seed, n_ops=10):
    """A random function of three inputs, as a ``Value`` graph and a SymPy expression.

    Operands are drawn from *all* values computed so far, so subexpressions are reused
    (the graph has forks), and the result combines the last few values so that most
    of the graph matters.
    """
    rng = np.random.default_rng(seed)
    starts = rng.uniform(-2, 2, 3)
    inputs = [Value(float(v), label=str(s)) for v, s in zip(starts, SYMBOLS, strict=True)]
    pool = list(zip(inputs, SYMBOLS, strict=True))
    while len(pool) < 3 + n_ops:
        if rng.random() < 0.5:
            _, ok, f, g = UNARY[rng.integers(len(UNARY))]
            v, e = pool[rng.integers(len(pool))]
            if ok(v.data):
                pool.append((f(v), g(e)))
        else:
            _, ok, f, g = BINARY[rng.integers(len(BINARY))]
            (u, d), (v, e) = (pool[i] for i in rng.integers(len(pool), size=2))
            if ok(u.data, v.data):
                pool.append((f(u, v), g(d, e)))
    (a, d), (b, e) = pool[-1], pool[-2]
    return inputs, a + b, d + e


def sympy_gradient(expr, inputs):
    point = {s: x.data for s, x in zip(SYMBOLS, inputs, strict=True)}
    return [float(sp.diff(expr, s).evalf(subs=point)) for s in SYMBOLS]


@pytest.mark.parametrize("seed", range(120))
def test_random_expression_matches_sympy(seed):
    inputs, out, expr = random_expression(seed)
    value = float(expr.evalf(subs={s: x.data for s, x in zip(SYMBOLS, inputs, strict=True)}))
    assert out.data == pytest.approx(value, rel=1e-12, abs=1e-12)
    expected = sympy_gradient(expr, inputs)
    assert gradient(out, inputs) == pytest.approx(expected, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("seed", range(40))
def test_random_expression_matches_finite_differences(seed):
    inputs, out, _ = random_expression(1000 + seed)
    x0 = np.array([x.data for x in inputs])
    numeric = numerical_gradient(lambda x: replay(out, inputs, x), x0)
    assert relative_error(gradient(out, inputs), numeric) < 1e-7


def replay(output, inputs, point):
    """Evaluate the recorded graph of ``output`` again with ``inputs`` set to ``point``.

    The graph is re-run with plain ``math`` (not the engine), so a finite difference of
    ``replay`` is independent of the code under test. (Rebuilding with
    ``random_expression`` would not do: its guards depend on the values, so a perturbed
    point could draw a different expression.)
    """
    value = {id(x): float(p) for x, p in zip(inputs, point, strict=True)}
    ops = {
        "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
        "/": lambda a, b: a / b, "neg": lambda a: -a, "exp": math.exp, "log": math.log,
        "tanh": math.tanh, "sigmoid": lambda a: 1 / (1 + math.exp(-a)),
        "relu": lambda a: max(a, 0.0), "max": max,
    }
    for node in autodiff.topological_order(output):
        if not node.parents:
            value.setdefault(id(node), node.data)
            continue
        args = [value[id(p)] for p in node.parents]
        if node.op.startswith("**"):
            value[id(node)] = args[0] ** float(node.op[2:])
        else:
            value[id(node)] = ops[node.op](*args)
    return value[id(output)]


@given(
    st.lists(st.sampled_from(["tanh", "sigmoid", "exp", "mul", "add", "relu"]), min_size=1,
             max_size=12),
    st.floats(-1.5, 1.5),
    st.floats(-1.5, 1.5),
)
def test_chains_of_operations_match_finite_differences(ops, a, b):
    def build(x, y):
        u = x
        for op in ops:
            if op == "mul":
                u = u * y
            elif op == "add":
                u = u + x * y
            elif op == "exp":
                u = (0.1 * u).exp()
            else:
                u = getattr(u, op)()
        return u

    x, y = Value(a), Value(b)
    out = build(x, y)
    nodes = autodiff.topological_order(out)
    if any(n.op == "relu" and abs(n.parents[0].data) < 1e-4 for n in nodes):
        return  # a finite difference across the kink of ReLU has no right answer
    numeric = numerical_gradient(lambda p: build(Value(p[0]), Value(p[1])).data, np.array([a, b]))
    # Absolute tolerance too: near a = b = 0 the gradient itself can be ~1e-46.
    np.testing.assert_allclose(gradient(out, [x, y]), numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("op", [u[0] for u in UNARY])
def test_each_unary_local_derivative_matches_sympy(op):
    _, ok, f, g = next(u for u in UNARY if u[0] == op)
    s = SYMBOLS[0]
    derivative = sp.diff(g(s), s)
    for a in np.linspace(-2.9, 2.9, 13):
        if ok(a):
            x = Value(a)
            expected = float(derivative.evalf(subs={s: a}))
            assert gradient(f(x), [x])[0] == pytest.approx(expected, rel=1e-12, abs=1e-14)


def test_gradients_add_at_forks():
    x = Value(3.0)
    y = x * x  # two edges to x
    assert gradient(y, [x]) == [6.0]
    z = x * x * x + x
    assert gradient(z, [x]) == [28.0]


def test_shared_intermediate_is_differentiated_once_per_path():
    x = Value(0.7)
    h = x.tanh()
    out = h * h + 3 * h
    t = math.tanh(0.7)
    assert gradient(out, [x])[0] == pytest.approx((2 * t + 3) * (1 - t * t), rel=1e-14)
    assert h.grad == pytest.approx(2 * t + 3, rel=1e-14)


def test_backward_twice_accumulates_into_leaves_only():
    x = Value(0.5)
    h = x * x
    out = 3 * h + h.tanh()
    out.backward()
    first_x, first_h = x.grad, h.grad
    out.backward()
    # Leaves hold the running sum, intermediate nodes the latest pass only. Had h kept
    # its old gradient, x would receive 3 × the first gradient instead of 2 ×.
    assert x.grad == 2 * first_x
    assert h.grad == first_h
    out.zero_grad()
    assert x.grad == 0.0 and h.grad == 0.0 and out.grad == 0.0


def test_gradient_does_not_depend_on_earlier_calls():
    x, y = Value(1.5), Value(-0.5)
    out = (x * y).exp()
    first = gradient(out, [x, y])
    out.backward()
    assert gradient(out, [x, y]) == first


def test_input_the_output_does_not_depend_on_has_zero_gradient():
    x, unused = Value(1.0), Value(5.0)
    unused.grad = 7.0
    assert gradient(x * 2, [x, unused]) == [2.0, 0.0]


def test_backward_on_a_leaf():
    x = Value(4.0)
    x.backward()
    assert x.grad == 1.0


def test_deep_graph_does_not_hit_the_recursion_limit():
    x = Value(0.3)
    u = x
    for _ in range(30_000):
        u = (u * 0.999).tanh()
    g = gradient(u, [x])[0]
    # d/dx of a chain of tanh(0.999 ·): product of 0.999 (1 - tanh²) over the chain.
    product, a = 1.0, 0.3
    for _ in range(30_000):
        a = math.tanh(0.999 * a)
        product *= 0.999 * (1 - a * a)
    assert g == pytest.approx(product, rel=1e-9)


@pytest.mark.parametrize("seed", range(10))
def test_forward_mode_equals_reverse_mode(seed):
    inputs, out, _ = random_expression(500 + seed)
    reverse = gradient(out, inputs)
    forward = [forward_derivative(out, x) for x in inputs]
    assert forward == pytest.approx(reverse, rel=1e-12, abs=1e-14)


def test_forward_derivative_with_respect_to_unrelated_value_is_zero():
    x, y = Value(1.0), Value(2.0)
    assert forward_derivative(x.exp(), y) == 0.0


def test_count_operations():
    x, y = Value(1.0), Value(2.0)
    out = (x * y + x).tanh()  # leaves x, y; operations *, +, tanh; edges 2 + 2 + 1
    count = count_operations(out)
    assert count == (2, 3, 5)
    assert count.nodes == 5
    # A constant is a leaf: 2 * x has leaves {2, x}.
    assert count_operations(2 * x) == (2, 1, 2)


def test_sigmoid_is_stable_for_large_inputs():
    assert Value(1000.0).sigmoid().data == 1.0
    assert Value(-1000.0).sigmoid().data == 0.0
    x = Value(-800.0)
    assert gradient(x.sigmoid(), [x]) == [0.0]


def test_relu_derivative_is_zero_at_the_kink():
    x = Value(0.0)
    assert gradient(x.relu(), [x]) == [0.0]


def test_numbers_on_either_side():
    x = Value(4.0)
    assert [(2 * x).data, (x * 2).data, (x / 2).data, (2 / x).data] == [8.0, 8.0, 2.0, 0.5]
    assert [(1 - x).data, (x - 1).data, (1 + x).data, (-x).data] == [-3.0, 3.0, 5.0, -4.0]
    assert gradient(2 / x, [x]) == [-2 / 16]
    assert (np.float64(2.0) * x).data == 8.0
    assert (x * np.array(0.5)).data == 2.0
    assert (x + np.array([1])).data == 5.0


NOT_NUMBERS = [
    ("text", "right operand of \\+ must be a real number or a Value, got 'text'"),
    (None, "right operand of \\+ must be a real number or a Value, got None"),
    (True, "right operand of \\+ must be a real number or a Value, got True"),
    (1j, "right operand of \\+ must be a real number or a Value, got 1j"),
    (np.array([1.0, 2.0]), "numpy array of shape \\(2,\\).*one Value per element"),
]


@pytest.mark.parametrize(("bad", "message"), NOT_NUMBERS)
def test_non_numeric_operand_is_refused_by_name(bad, message):
    x = Value(1.0)
    with pytest.raises(TypeError, match=message):
        x + bad
    left = message.replace("right operand", "left operand").replace("\\+", "\\*")
    with pytest.raises(TypeError, match=left):
        bad * x


def test_numpy_array_on_the_left_is_refused_not_broadcast():
    with pytest.raises(TypeError, match="left operand of \\* .*shape \\(3,\\)"):
        np.array([1.0, 2.0, 3.0]) * Value(1.0)


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        ("1.0", TypeError, "data must be a real number, got '1.0'"),
        (None, TypeError, "data must be a real number, got None"),
        (np.ones(2), TypeError, "data must be a real number, got a numpy array of shape"),
        (math.nan, ValueError, "data must be a finite number, got nan"),
        (math.inf, ValueError, "data must be a finite number, got inf"),
    ],
)
def test_bad_data(data, error, message):
    with pytest.raises(error, match=message):
        Value(data)


def test_value_exponent_is_refused():
    x = Value(2.0)
    with pytest.raises(TypeError, match="exponent of \\*\\* must be a number, got a Value"):
        x**x
    with pytest.raises(TypeError, match="exponent of \\*\\* must be a number, got a Value"):
        2**x
    with pytest.raises(TypeError, match="exponent of \\*\\* must be a real number, got '2'"):
        x ** "2"


def test_log_of_non_positive_value_names_it():
    with pytest.raises(ValueError, match="log needs a positive argument, got -2.5"):
        Value(-2.5).log()
    with pytest.raises(ValueError, match="got 0.0"):
        Value(0.0).log()


def test_domain_errors_of_division_and_powers():
    with pytest.raises(ZeroDivisionError, match="divisor .* is 0"):
        Value(1.0) / 0
    with pytest.raises(ZeroDivisionError, match="negative power of zero"):
        Value(0.0) ** -1
    with pytest.raises(ValueError, match="negative base needs an integer exponent"):
        Value(-8.0) ** (1 / 3)
    root = Value(0.0) ** 0.5
    with pytest.raises(ZeroDivisionError, match="derivative of x \\*\\* 0.5 is infinite at x = 0"):
        root.backward()
    x = Value(0.0)
    assert gradient(x**0, [x]) == [0.0]
    assert (Value(-2.0) ** 3).data == -8.0


def test_divergence_is_reported_not_returned_as_inf():
    with pytest.raises(OverflowError, match="exp\\(800.0\\) = inf: the computation diverged"):
        Value(800.0).exp()
    with pytest.raises(OverflowError, match="diverged"):
        Value(1e200) * 1e200
    with pytest.raises(OverflowError, match="diverged"):
        Value(1e200) ** 2
    x = Value(1e-200)
    y = 1 / x * 1e-100  # finite forward pass; ∂y/∂x = -1e-100 / x² overflows
    with pytest.raises(OverflowError, match="backward pass diverged"):
        y.backward()


def test_backward_needs_a_scalar_output():
    x = Value(1.0)
    with pytest.raises(TypeError, match="output must be a single Value \\(a scalar\\), got list"):
        gradient([x * 2, x * 3], [x])
    with pytest.raises(TypeError, match="output must be a single Value"):
        autodiff.topological_order(np.array([1.0]))
    with pytest.raises(TypeError, match="inputs\\[1\\] must be a Value, got float"):
        gradient(x * 2, [x, 1.0])
    with pytest.raises(TypeError, match="inputs must be a sequence of Values"):
        gradient(x * 2, x)
    with pytest.raises(TypeError, match="wrt must be a Value, got list"):
        forward_derivative(x * 2, [x])


@pytest.mark.parametrize(("a", "b"), [(2.0, -1.0), (-3.0, 0.5), (0.25, 0.2), (-1.0, -4.0)])
def test_max_routes_the_gradient_to_the_larger_operand(a, b):
    x, y = Value(a), Value(b)
    out = x.max(y)
    assert out.data == max(a, b)
    s, t = sp.symbols("s t", real=True)
    expected = [float(sp.diff(sp.Max(s, t), v).subs({s: a, t: b})) for v in (s, t)]
    assert gradient(out, [x, y]) == expected
    assert sorted(expected) == [0.0, 1.0]
    numeric = numerical_gradient(lambda p: max(p[0], p[1]), np.array([a, b]))
    np.testing.assert_allclose(gradient(out, [x, y]), numeric, atol=1e-9)


def test_max_at_a_tie_splits_the_gradient_as_sympy_does():
    x, y = Value(1.5), Value(1.5)
    assert gradient(x.max(y), [x, y]) == [0.5, 0.5]
    s, t = sp.symbols("s t", real=True)
    assert sp.diff(sp.Max(s, t), s).subs({s: 1.5, t: 1.5}) == sp.Rational(1, 2)
    # max(x, x) = x, and the two halves add up to its derivative 1.
    assert gradient(x.max(x), [x]) == [1.0]


def test_max_with_numbers_and_bad_operands():
    x = Value(-2.0)
    assert x.max(0).data == 0.0 and gradient(x.max(0), [x]) == [0.0]
    assert gradient(x.max(-5), [x]) == [1.0]
    with pytest.raises(TypeError, match="operand of max must be a real number or a Value"):
        x.max("3")


def sine(x):
    """A new operation, written as the Value.operation docstring tells a reader to."""
    c = math.cos(x.data)
    return Value.operation(math.sin(x.data), (x,), "sin", lambda: (c,))


def test_a_new_operation_is_one_call_of_operation():
    for a in np.linspace(-3, 3, 7):
        x = Value(a)
        out = sine(x * x)
        assert out.op == "sin" and out.parents[0].op == "*"
        s = SYMBOLS[0]
        expected = float(sp.diff(sp.sin(s**2), s).subs(s, a))
        assert gradient(out, [x])[0] == pytest.approx(expected, rel=1e-13, abs=1e-15)
        assert forward_derivative(out, x) == pytest.approx(expected, rel=1e-13, abs=1e-15)


def test_operation_refuses_bad_arguments_by_name():
    x = Value(1.0)
    with pytest.raises(TypeError, match="parents must be a tuple of Values"):
        Value.operation(1.0, [x], "f", lambda: (1.0,))
    with pytest.raises(TypeError, match="parents must be a tuple of Values"):
        Value.operation(1.0, (x, 2.0), "f", lambda: (1.0, 1.0))
    with pytest.raises(TypeError, match="op must be a string"):
        Value.operation(1.0, (x,), 3, lambda: (1.0,))
    with pytest.raises(TypeError, match="local must be a function"):
        Value.operation(1.0, (x,), "f", (1.0,))
    with pytest.raises(OverflowError, match="f\\(1.0\\) = nan: the computation diverged"):
        Value.operation(math.nan, (x,), "f", lambda: (1.0,))


def test_wrong_number_of_local_derivatives_is_reported_by_the_sweeps():
    x, y = Value(1.0), Value(2.0)
    broken = Value.operation(3.0, (x, y), "broken", lambda: (1.0,))
    message = "operation 'broken' has 2 operand\\(s\\) but .* returned 1 value"
    with pytest.raises(ValueError, match=message):
        broken.backward()
    with pytest.raises(ValueError, match=message):
        forward_sweep([broken], x)


@pytest.mark.parametrize("seed", range(10))
def test_one_forward_sweep_gives_every_output(seed):
    inputs, out, _ = random_expression(700 + seed)
    outputs = [out, out * inputs[1], (out + inputs[2]).tanh(), inputs[0] * 2]
    for wrt in inputs:
        sweep = forward_sweep(outputs, wrt)
        reverse = [gradient(y, [wrt])[0] for y in outputs]
        assert sweep.derivatives == pytest.approx(reverse, rel=1e-12, abs=1e-14)
        # It walked each edge of the union of the outputs' graphs once: no more, no less.
        union = {id(node): node for y in outputs for node in autodiff.topological_order(y)}
        assert sweep.multiply_adds == sum(len(node.parents) for node in union.values())
    assert forward_sweep([out], inputs[0]).multiply_adds == count_operations(out).edges


def test_forward_sweep_refuses_bad_arguments():
    x = Value(1.0)
    with pytest.raises(TypeError, match="outputs must be a sequence of Values.*one Value"):
        forward_sweep(x * 2, x)
    with pytest.raises(TypeError, match="outputs\\[1\\] must be a Value, got float"):
        forward_sweep([x * 2, 3.0], x)
    with pytest.raises(TypeError, match="wrt must be a Value, got float"):
        forward_sweep([x * 2], 1.0)


@given(st.lists(st.integers(1, 6), min_size=2, max_size=6), st.integers(0, 2**32 - 1))
def test_multiply_chain_in_both_orders(dims, seed):
    rng = np.random.default_rng(seed)
    factors = [rng.normal(size=(p, q)) for p, q in zip(dims[:-1], dims[1:], strict=True)]
    expected = factors[0] if len(factors) == 1 else np.linalg.multi_dot(factors)
    reverse = multiply_chain(factors, "reverse")
    forward = multiply_chain(factors, "forward")
    np.testing.assert_allclose(reverse.product, expected, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(forward.product, expected, rtol=1e-10, atol=1e-10)
    d = dims  # factor i has shape (d[i], d[i + 1])
    assert reverse.multiply_adds == sum(d[0] * d[i] * d[i + 1] for i in range(1, len(d) - 1))
    assert forward.multiply_adds == sum(d[i] * d[i + 1] * d[-1] for i in range(len(d) - 2))
    # Reverse mode's intermediates have the rows of the leftmost factor, forward mode's
    # the columns of the rightmost.
    assert all(shape[0] == d[0] for shape in reverse.shapes)
    assert all(shape[1] == d[-1] for shape in forward.shapes)


def test_multiply_chain_with_a_row_on_the_left_forms_only_rows():
    row, J2, J1 = np.ones((1, 3)), np.ones((3, 4)), np.ones((4, 5))
    reverse = multiply_chain([row, J2, J1], "reverse")
    assert reverse.shapes == [(1, 4), (1, 5)] and reverse.multiply_adds == 12 + 20
    forward = multiply_chain([row, J2, J1], "forward")
    assert forward.shapes == [(3, 5), (1, 5)] and forward.multiply_adds == 60 + 15
    np.testing.assert_array_equal(reverse.product, forward.product)


def test_multiply_chain_refuses_bad_input_by_name():
    A, B = np.ones((2, 3)), np.ones((4, 2))
    with pytest.raises(ValueError, match="factors\\[0\\] has shape \\(2, 3\\) and factors\\[1\\]"):
        multiply_chain([A, B], "reverse")
    with pytest.raises(ValueError, match="order must be 'reverse' or 'forward', got 'left'"):
        multiply_chain([A], "left")
    with pytest.raises(ValueError, match="non-empty list"):
        multiply_chain([], "forward")
    with pytest.raises(TypeError, match="factors\\[1\\] must be a 2-D array of real numbers"):
        multiply_chain([A, np.ones(3)], "forward")
    with pytest.raises(TypeError, match="factors\\[0\\] must be a 2-D array"):
        multiply_chain([np.array([["a"]])], "forward")


def test_docstring_examples():
    failures, _ = doctest.testmod(autodiff)
    assert failures == 0
