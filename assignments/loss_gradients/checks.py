"""The grader's checks of assignment ``loss_gradients`` (private, like the master).

Each hidden check looks at one property (the factor 1/m, the derivative factor g', the
order of the difference quotient, …) on inputs where the other classic mistakes do not
show, so one mistake fails one check, whose message names it. Inputs are drawn for each
student (``ctx.rng`` is seeded by the student id).
"""

from __future__ import annotations

import hashlib

import numpy as np
import sympy as sp
from grading_checks import CheckFailed, Fn, Question, array, check, close, expect

from bpbook import activations, losses
from bpbook.gradcheck import numerical_gradient, relative_error

ASSIGNMENT = "loss_gradients"
VALUES = ("a_tanh", "E_tanh", "dE_dz", "dE_dz_in_a", "q2_error", "my_delta")
#: Ways to get a delta without deriving it: the package's deltas, backward passes and
#: finite differences.
DERIVATIVES = (
    "network.MLP.gradients", "backprop.theta_delta_gradients", "backprop.backprop_example",
    "backprop.minibatch_deltas", "backprop.perturbation_gradients",
    "backprop.symbolic_gradients", "gradcheck.numerical_gradient",
    "gradcheck.check_gradients", "evolution.NetworkObjective.gradient",
    "autodiff.Value.backward",
)
QUESTIONS = {
    "q1": Question(),
    "q2": Question(tripwires=(*DERIVATIVES, "losses.softmax_cross_entropy_gradient",
                              "losses.loss_and_output_delta", "activations.softmax_backward")),
    "q3": Question(tripwires=(*DERIVATIVES, "losses.loss_and_output_delta",
                              "losses.mse_gradient")),
    "q4": Question(tripwires=DERIVATIVES),
    # The softmax cross-entropy's own gradient is allowed in question 5.
    "q5": Question(tripwires=DERIVATIVES),
}


def student_data(student_id):
    """Your class weights and a minibatch to try them on, chosen by your student id.

    Returns the weights c_1..c_4 of the four classes, logits Z of shape (6, 4) and one-hot
    targets Y of shape (6, 4).
    """
    if not isinstance(student_id, str) or not student_id.strip():
        raise ValueError("set STUDENT_ID to your student id, as a string")
    digest = hashlib.sha256(("loss_gradients/" + student_id.strip()).encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    weights = rng.choice([0.5, 1.0, 1.5, 2.0, 3.0], size=4)
    Z = rng.normal(scale=2.0, size=(6, 4))
    Y = np.eye(4)[rng.integers(0, 4, size=6)]
    return weights, Z, Y


# --- question 1 -----------------------------------------------------------------------------

def expression(ctx, name: str, allowed: set[str]):
    value = ctx.value(name)
    if not isinstance(value, sp.Expr):
        raise CheckFailed(f"{name} should be a SymPy expression, got {type(value).__name__}")
    names = {s.name for s in value.free_symbols}
    expect(names <= allowed, f"{name} should be an expression in {sorted(allowed)} only; it "
                             f"uses {sorted(names)}")
    return value


def evaluate(expr, points: dict[str, np.ndarray]) -> np.ndarray:
    """The expression's values at the points (substituted one by one: no generated code)."""
    symbols = {s.name: s for s in expr.free_symbols}
    values = []
    for i in range(len(next(iter(points.values())))):
        number = expr.subs({symbols[k]: sp.Float(float(v[i])) for k, v in points.items()
                            if k in symbols}).evalf()
        try:
            values.append(float(number))
        except TypeError:
            raise CheckFailed(f"{expr} does not evaluate to a real number") from None
    return np.array(values)


@check("q1", points=1, public=True)
def expressions(student, ctx):  # noqa: ARG001 - checks of the notebook's values
    for name in ("a_tanh", "E_tanh", "dE_dz"):
        expression(ctx, name, {"z", "y"})
    expression(ctx, "dE_dz_in_a", {"a", "y"})


@check("q1", points=1, public=True)
def loss_at_zero(student, ctx):  # noqa: ARG001
    E = expression(ctx, "E_tanh", {"z", "y"})
    got = evaluate(E, {"z": np.zeros(3), "y": np.array([0.0, 0.3, 1.0])})
    expect(close(got, np.log(2.0) * np.ones(3)), "At z = 0, a = 1/2 and E_tanh = log 2 "
                                                 "whatever y is.")


@check("q1", points=2)
def derivative(student, ctx):  # noqa: ARG001
    d = expression(ctx, "dE_dz", {"z", "y"})
    zs, ys = ctx.rng.uniform(-3, 3, 12), ctx.rng.uniform(0, 1, 12)
    got = evaluate(d, {"z": zs, "y": ys})
    a = (1 + np.tanh(zs)) / 2
    if close(got, 2 * (a - ys)):
        return
    if close(got, (a - ys) / (a * (1 - a))):
        raise CheckFailed("dE_dz is the derivative with respect to the output a, not the "
                          "weighted input z: the chain rule's factor da/dz is missing.")
    if close(got, a - ys):
        raise CheckFailed("dE_dz is half the derivative: da/dz = (1 − tanh² z)/2 = 2a(1 − a) "
                          "brings a factor 2.")
    if close(got, -2 * (a - ys)):
        raise CheckFailed("dE_dz has the wrong sign: E has a minus in front.")
    raise CheckFailed("dE_dz is not dE/dz of E_tanh; compare it with finite differences.")


@check("q1", points=1)
def simplified(student, ctx):  # noqa: ARG001
    # Judged against the simplification of the student's own expression, so that a wrong
    # derivative (the check above) does not fail this check too.
    d = expression(ctx, "dE_dz", {"z", "y"})
    simpler = sp.simplify(d)
    expect(sp.count_ops(d) <= sp.count_ops(simpler) + 2,
           f"dE_dz is not simplified: it has {sp.count_ops(d)} operations, sp.simplify makes "
           f"it {sp.count_ops(simpler)}.")


@check("q1", points=1)
def short_form(student, ctx):  # noqa: ARG001
    d = expression(ctx, "dE_dz_in_a", {"a", "y"})
    a_values, ys = ctx.rng.uniform(0.05, 0.95, 8), ctx.rng.uniform(0, 1, 8)
    got = evaluate(d, {"a": a_values, "y": ys})
    expect(close(got, 2 * (a_values - ys)),
           "dE_dz_in_a is not dE/dz written in a and y: substitute tanh z = 2a − 1 in your "
           "dE_dz.")


# --- question 2 -----------------------------------------------------------------------------

def _one_hot(rng, m: int, K: int) -> np.ndarray:
    return np.eye(K)[rng.integers(0, K, size=m)]


@check("q2", points=1, public=True)
def shape(student, ctx):
    out = yield student.softmax_ce_delta(np.zeros((4, 3)), np.eye(3)[[0, 1, 2, 0]])
    array(out.value, "softmax_ce_delta(Z, Y) for Z of shape (4, 3)", (4, 3))


@check("q2", points=2)
def matches_reference(student, ctx):
    m, K = 7, 5
    Z = ctx.rng.normal(scale=2.0, size=(m, K))
    Y = _one_hot(ctx.rng, m, K)
    out = yield student.softmax_ce_delta(Z, Y)
    got = array(out.value, "softmax_ce_delta", Z.shape)
    p = activations.softmax(Z)
    expected = (p - Y) / m
    if close(got, expected):
        return
    for variant, message in [
        (p - Y, "m times too large: E is the mean over the m examples, so ∂E/∂Z carries 1/m"),
        ((p - Y) / K, "divided by K, the number of classes; the mean is over the m examples"),
        ((p - Y) / (m * K), "divided by m·K; the mean is over the m examples only"),
        ((Y - p) / m, "the wrong sign: it is softmax(Z) − Y"),
        (p / m, "Y is missing: the delta is (softmax(Z) − Y)/m"),
        ((activations.softmax(Z, axis=0) - Y) / m, "the softmax is taken over the examples "
                                                   "(axis 0); it normalises each row"),
    ]:
        if close(got, variant):
            raise CheckFailed(f"softmax_ce_delta is {message}.")
    raise CheckFailed("softmax_ce_delta disagrees with (softmax(Z) − Y)/m.")


@check("q2", points=1)
def large_logits(student, ctx):
    Z = np.array([[1000.0, 0.0, -1000.0], [0.0, 800.0, 0.0]]) * ctx.rng.uniform(0.9, 1.1)
    Y = np.eye(3)[[0, 2]]
    out = yield student.softmax_ce_delta(Z, Y)
    got = array(out.value, "softmax_ce_delta", Z.shape)
    expect(bool(np.all(np.isfinite(got))),
           "Logits in the hundreds give inf or nan: compute the softmax with "
           "activations.softmax, which subtracts the largest logit first.")
    expected = (activations.softmax(Z) - Y) / 2
    scale = float(np.sum(got * expected) / np.sum(expected * expected))
    expect(scale != 0 and close(got, scale * expected, atol=1e-12),
           "For logits in the hundreds the delta is wrong although finite: the softmax "
           "saturates to a one-hot row.")


@check("q2", points=1)
def checked_with_differences(student, ctx):
    rng = np.random.default_rng(0)  # the notebook's Z_check and Y_check
    Z_check = rng.normal(size=(5, 4))
    Y_check = np.eye(4)[rng.integers(0, 4, size=5)]
    out = yield student.softmax_ce_delta(Z_check, Y_check)
    reported = ctx.value("q2_error")
    expect(isinstance(reported, (int, float)), "q2_error should be a number")
    numeric = numerical_gradient(lambda Z_: losses.softmax_cross_entropy(Z_, Y_check),
                                 Z_check.copy())
    got = array(out.value, "softmax_ce_delta(Z_check, Y_check)", Z_check.shape)
    error = relative_error(got, numeric)
    expect(np.isclose(reported, error, rtol=1e-3, atol=1e-10),
           f"q2_error is {reported:.3g}, but the relative error of softmax_ce_delta(Z_check, "
           f"Y_check) against finite differences is {error:.3g}: compute it with "
           "relative_error(softmax_ce_delta(Z_check, Y_check), numeric).")


# --- question 3 -----------------------------------------------------------------------------

@check("q3", points=1, public=True)
def output_shape(student, ctx):
    out = yield student.mse_delta(ctx.rng.normal(size=(4, 3)), np.zeros((4, 3)), "identity")
    array(out.value, "mse_delta(Z, Y, 'identity') for Z of shape (4, 3)", (4, 3))


@check("q3", points=2)
def factor_two_over_m(student, ctx):
    # With Z = 1 the identity has g(Z) = g'(Z) = 1: only the constant factor can be wrong.
    m, K = 6, 3
    Z, Y = np.ones((m, K)), ctx.rng.normal(size=(m, K))
    out = yield student.mse_delta(Z, Y, "identity")
    got = array(out.value, "mse_delta", Z.shape)
    expected = 2.0 / m * (Z - Y)
    if close(got, expected):
        return
    for factor, message in [(0.5, "the factor 2 of the square's derivative is missing"),
                            (m, "the 1/m of the mean is missing"),
                            (1 / K, "it is divided by K; the mean is over the m examples")]:
        if close(got, factor * expected):
            raise CheckFailed(f"mse_delta is off by a constant: {message}.")
    raise CheckFailed("For the identity, mse_delta should be (2/m)(Z − Y).")


@check("q3", points=2)
def derivative_factor(student, ctx):
    # Compared up to a constant factor, so a wrong 2/m (the check above) does not show here.
    cases = [(name, ctx.rng.normal(size=(5, 3)), ctx.rng.uniform(-1, 1, size=(5, 3)))
             for name in ("sigmoid", "tanh")]
    outcomes = yield [student.mse_delta(Z, Y, name) for name, Z, Y in cases]
    for (name, Z, Y), out in zip(cases, outcomes, strict=True):
        got = array(out.value, f"mse_delta for {name}", Z.shape)
        g = activations.get_activation(name)
        error = g.function(Z) - Y
        expected = error * g.derivative(Z)
        scale = float(np.sum(got * expected) / np.sum(expected * expected))
        if scale != 0 and close(got, scale * expected):
            continue
        if _proportional(got, error * g.function(Z)):
            raise CheckFailed(f"For {name}: multiplied by g(Z), the activation, instead of "
                              "its derivative g'(Z).")
        if _proportional(got, error):
            raise CheckFailed(f"For {name}: the factor g'(Z) is missing; the squared error "
                              "does not cancel it.")
        raise CheckFailed(f"For {name}: the delta should be proportional to "
                          "(g(Z) − Y) ⊙ g'(Z).")


def _proportional(got: np.ndarray, direction: np.ndarray) -> bool:
    scale = float(np.sum(got * direction) / np.sum(direction * direction))
    return scale != 0 and close(got, scale * direction)


# --- question 4 -----------------------------------------------------------------------------

@check("q4", points=1, public=True)
def sum_of_squares(student, ctx):
    x = ctx.rng.normal(size=3)
    out = yield student.central_difference(Fn("sum_squares"), x.copy())
    got = array(out.value, "central_difference", x.shape)
    if close(got, 2 * x, atol=1e-4):
        return
    if close(got, 4 * x, atol=1e-4):
        raise CheckFailed("Twice the gradient: the two points are 2h apart, so divide by 2h.")
    raise CheckFailed("The gradient of Σ x_j² is 2x.")


@check("q4", points=1)
def second_order(student, ctx):
    x = np.array([ctx.rng.uniform(0.5, 1.5)])
    out = yield student.central_difference(Fn("sum_exp"), x.copy(), 1e-3)
    got = array(out.value, "central_difference", x.shape)
    if abs(got[0] - np.exp(x[0])) < 1e-5:
        return
    if abs(got[0] - np.exp(x[0])) < 5e-3:
        raise CheckFailed("With h = 1e-3 the error is of order h, not h²: use the central "
                          "difference (f(x + h e_j) − f(x − h e_j)) / 2h.")
    raise CheckFailed("The derivative of exp at x is exp(x); with h = 1e-3 the central "
                      "difference is within 1e-6 of it.")


@check("q4", points=1)
def leaves_x_unchanged(student, ctx):
    x = ctx.rng.normal(size=(2, 3))
    out = yield student.with_args("central_difference", Fn("sum_sin"), x.copy(), 0.1)
    array(out.value, "central_difference for a 2×3 x", x.shape)
    after = out.args_after[1] if len(out.args_after) > 1 else None
    expect(close(after, x, rtol=1e-12, atol=1e-15),
           "x was changed by central_difference: nudge a copy, or restore every entry you "
           "nudge.")


@check("q4", points=1)
def matrix_argument(student, ctx):
    A, W = ctx.rng.normal(size=(2, 3)), ctx.rng.normal(size=(2, 3))
    out = yield student.central_difference(Fn("weighted_tanh", {"A": A}), W.copy())
    got = array(out.value, "central_difference for a 2×3 x", W.shape)
    expected = numerical_gradient(Fn("weighted_tanh", {"A": A}).python(), W.copy())
    expect(close(got, expected, atol=1e-4),
           "Wrong for a two-dimensional x: nudge every entry (np.ndindex(x.shape) visits "
           "them all) and return an array shaped like x.")


# --- question 5 -----------------------------------------------------------------------------

def _weighted(Z, Y, c):
    m = len(Z)
    p = activations.softmax(Z)
    per_example = Y @ c
    log_p = np.log(np.sum(Y * p, axis=1))
    return -np.sum(per_example * log_p) / m, per_example[:, None] * (p - Y) / m


def _inputs(ctx, m=7, K=4):
    c = ctx.rng.choice([0.5, 1.0, 2.0, 3.0], size=K)
    c[0] = 2.5  # never all equal
    return ctx.rng.normal(scale=1.5, size=(m, K)), _one_hot(ctx.rng, m, K), c


@check("q5", points=1)
def weighted_loss(student, ctx):
    Z, Y, c = _inputs(ctx)
    out = yield student.weighted_ce(Z, Y, c)
    got = array(out.value, "weighted_ce", ())
    expected, _ = _weighted(Z, Y, c)
    if close(got, expected):
        return
    if close(got, expected * len(Z) / np.sum(Y @ c)):
        raise CheckFailed("weighted_ce divides by the sum of the weights; this E divides by "
                          "m, the number of examples.")
    if close(got, losses.softmax_cross_entropy(Z, Y)):
        raise CheckFailed("weighted_ce ignores the class weights.")
    raise CheckFailed("weighted_ce should be −(1/m) Σ_i ω_(c_i) log softmax(z_i)_(c_i).")


@check("q5", points=2)
def weighted_delta(student, ctx):
    Z, Y, c = _inputs(ctx)
    out = yield student.weighted_ce_delta(Z, Y, c)
    got = array(out.value, "weighted_ce_delta", Z.shape)
    _, expected = _weighted(Z, Y, c)
    if close(got, expected):
        return
    m = len(Z)
    plain = (activations.softmax(Z) - Y) / m
    for variant, message in [
        (plain, "ignores the class weights"),
        (plain * c[None, :], "weights the columns (classes of the output) instead of the "
                             "rows: example i is weighted by the weight of its class c_i"),
        (expected * m, "is m times too large: E is a mean over the examples"),
        (expected * m / np.sum(Y @ c), "divides by the sum of the weights instead of m"),
        (-expected, "has the wrong sign"),
    ]:
        if close(got, variant):
            raise CheckFailed(f"weighted_ce_delta {message}.")
    raise CheckFailed("weighted_ce_delta should scale row i of (softmax(Z) − Y)/m by the "
                      "weight of the class of example i.")


@check("q5", points=1)
def your_delta(student, ctx):
    # The student's own function on their own data: shared numbers fail, a mistake in the
    # function (judged above) does not fail twice.
    c, Z, Y = ctx.data
    out = yield student.weighted_ce_delta(Z, Y, c)
    own = array(out.value, "weighted_ce_delta on your data", Z.shape)
    got = array(ctx.value("my_delta"), "my_delta", Z.shape)
    expect(close(got, own, rtol=1e-9, atol=1e-12),
           "my_delta is not what your weighted_ce_delta gives on your data (my_Z, my_Y, "
           "my_weights from your STUDENT_ID).")
