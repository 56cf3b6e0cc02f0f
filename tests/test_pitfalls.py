"""Tests of bpbook.pitfalls: every known mistake fails the gradient check, the reference passes."""

import ast
import difflib
import inspect
import textwrap

import numpy as np
import pytest

from bpbook import MLP
from bpbook.gradcheck import check_gradients
from bpbook.pitfalls import (
    MISTAKES,
    DerivativeAtOutputLayer,
    DoubleSigmoidDerivative,
    MissingTranspose,
    RecomputedZWithoutBias,
    StagedBackprop,
    UpdateBeforeBackpropagating,
)

# Square layers, so that every mistake runs (the missing transpose included).
SIZES = (3, 3, 3, 3)


def problem(m=8, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, SIZES[0]))
    Y = (rng.uniform(size=(m, SIZES[-1])) > 0.5).astype(np.float64)
    return X, Y


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
@pytest.mark.parametrize("loss", ["binary_cross_entropy", "mse"])
def test_staged_reference_passes_and_equals_mlp(activation, loss):
    X, Y = problem()
    net = StagedBackprop(SIZES, activation=activation, output_activation="sigmoid", seed=2)
    assert check_gradients(net, X, Y, loss, l2=0.3).max_error <= 1e-7
    reference = MLP(SIZES, activation=activation, output_activation="sigmoid", seed=2)
    mine, theirs = net.gradients(X, Y, loss, 0.3), reference.gradients(X, Y, loss, 0.3)
    assert mine[0] == theirs[0]
    for a, b in zip(mine[1] + mine[2], theirs[1] + theirs[2], strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", list(MISTAKES))
@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
@pytest.mark.parametrize("loss", ["binary_cross_entropy", "mse"])
def test_every_mistake_fails_the_gradient_check(name, activation, loss):
    X, Y = problem()
    net = MISTAKES[name](SIZES, activation=activation, output_activation="sigmoid", seed=2)
    check = check_gradients(net, X, Y, loss)
    assert check.max_error > 1e-2, (name, str(check))
    assert not check.passed(1e-4)


@pytest.mark.parametrize("name", list(MISTAKES))
def test_mistakes_are_documented(name):
    cls = MISTAKES[name]
    assert issubclass(cls, StagedBackprop) and cls is not StagedBackprop
    assert cls.mistake and cls.why_tempting and "Why tempting" in cls.__doc__


def test_missing_transpose_is_a_shape_error_for_non_square_layers():
    net = MissingTranspose((3, 4, 2), seed=0)
    with pytest.raises(ValueError, match="mismatch"):
        net.gradients(np.ones((5, 3)), np.zeros((5, 2)))


def test_mistakes_only_touch_the_layers_below_the_output():
    # BP3/BP4 of the last layer use only the output delta, so a wrong recursion leaves
    # the last layer's gradient right: the gradient check must look at every layer.
    X, Y = problem()
    for cls in (MissingTranspose, DerivativeAtOutputLayer, UpdateBeforeBackpropagating):
        check = check_gradients(cls(SIZES, activation="tanh", seed=1), X, Y)
        assert check.weight_errors[-1] <= 1e-7 and check.bias_errors[-1] <= 1e-7
        assert check.weight_errors[0] > 1e-2


def test_update_before_backpropagating_leaves_weights_unchanged():
    X, Y = problem()
    net = UpdateBeforeBackpropagating(SIZES, seed=3, learning_rate=1.0)
    before = [W.copy() for W in net.weights]
    net.gradients(X, Y)
    for a, b in zip(before, net.weights, strict=True):
        np.testing.assert_array_equal(a, b)


def test_update_error_is_proportional_to_the_learning_rate():
    # W^(l) moves by η ∂E/∂W^(l) before δ^(l-1) is computed, so the error is O(η): a
    # check with a tiny η passes, one with a realistic η fails.
    X, Y = problem()
    etas = (1e-6, 1e-4, 1e-2)
    errors = np.array([
        check_gradients(UpdateBeforeBackpropagating(SIZES, seed=3, learning_rate=eta), X, Y)
        .max_error for eta in etas
    ])
    np.testing.assert_allclose(errors / etas, errors[1] / etas[1], rtol=0.02)
    assert errors[0] < 1e-5 and errors[-1] > 1e-4


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_recomputed_z_without_bias_passes_at_initialisation_only(activation):
    X, Y = problem()
    net = RecomputedZWithoutBias(SIZES, activation=activation, output_activation="sigmoid",
                                 seed=2)
    assert all(not b.any() for b in net.biases)
    assert check_gradients(net, X, Y, "binary_cross_entropy").max_error <= 1e-7
    net.biases = [np.full_like(b, 0.3) for b in net.biases]
    check = check_gradients(net, X, Y, "binary_cross_entropy")
    assert check.max_error > 1e-2
    assert check.weight_errors[-1] <= 1e-7  # the last layer does not use the recursion
    assert RecomputedZWithoutBias not in MISTAKES.values()


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: DerivativeAtOutputLayer((3, 4, 2)), "as wide as the output"),
        (lambda: DoubleSigmoidDerivative((3, 2), output_activation="identity"), "sigmoid"),
        (lambda: UpdateBeforeBackpropagating((3, 2), learning_rate=-1.0), "learning_rate"),
        (lambda: UpdateBeforeBackpropagating((3, 2), learning_rate=np.inf), "learning_rate"),
    ],
)
def test_bad_arguments_are_named(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def _body(function) -> list[str]:
    """The code lines of a method after its docstring, dedented, comments kept; a
    statement continued over several lines (inside brackets) counts as one line."""
    source = textwrap.dedent(inspect.getsource(function))
    node = ast.parse(source).body[0]
    start = node.body[1].lineno - 1  # the first statement after the docstring
    lines, pending = [], ""
    for line in source.splitlines()[start:]:
        if not line.strip():
            continue
        pending = f"{pending} {line.strip()}" if pending else line.strip()
        code = pending.split("#")[0] if not pending.startswith("#") else ""
        if code.count("(") + code.count("[") == code.count(")") + code.count("]"):
            lines.append(pending.replace("( ", "(").replace(" )", ")"))
            pending = ""
    return lines


def test_staged_backprop_mirrors_mlp_gradients_line_for_line():
    # The chapter says so: StagedBackprop.gradients is MLP.gradients with BP1 and BP2
    # turned into method calls. If MLP.gradients changes, change StagedBackprop with it.
    mlp, staged = _body(MLP.gradients), _body(StagedBackprop.gradients)
    removed = [line[1:] for line in difflib.unified_diff(mlp, staged, lineterm="", n=0)
               if line.startswith("-") and not line.startswith("---")]
    added = [line[1:] for line in difflib.unified_diff(mlp, staged, lineterm="", n=0)
             if line.startswith("+") and not line.startswith("+++")]
    # Only the forward pass (kept whole, for propagate), BP1 and BP2 may differ.
    assert all(("forward_pass" in line or "loss_and_output_delta" in line
                or line.startswith("#") or line.startswith("delta ")) for line in removed), removed
    assert all(("forward_pass" in line or "= passed" in line or "self.output_delta(" in line
                or "self.propagate(" in line) for line in added), added
