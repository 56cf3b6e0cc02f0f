"""The grader's checks of assignment ``backprop`` (private, like the master).

Each check compares one layer's quantity with what the recursion gives from the student's
*own* quantity of the layer above, so a mistake fails the one check of the step where it
is made, and a failure message names the mistake it recognises. The hidden inputs are
drawn for each student (``ctx.rng`` is seeded by the student id).
"""

from __future__ import annotations

import hashlib
import re

import numpy as np
from grading_checks import CheckFailed, Net, Question, array, check, close, expect

from bpbook import MLP, datasets, losses
from bpbook.backprop import minibatch_deltas
from bpbook.optim import GradientDescent, train

ASSIGNMENT = "backprop"
VALUES = ("my_saliency", "my_pixel")
#: The package's backward passes, and finite differences: what question 1 and 2 replace.
BACKWARD_PASSES = (
    "network.MLP.gradients", "backprop.theta_delta_gradients", "backprop.backprop_example",
    "backprop.minibatch_deltas", "backprop.perturbation_gradients",
    "backprop.symbolic_gradients", "pitfalls.StagedBackprop.gradients",
    "gradcheck.numerical_gradient", "gradcheck.check_gradients",
    "evolution.NetworkObjective.gradient", "autodiff.Value.backward",
)
QUESTIONS = {
    "q1": Question(tripwires=BACKWARD_PASSES),
    "q2": Question(tripwires=BACKWARD_PASSES),
    # minibatch_deltas is allowed here, so that a mistake of question 1 need not cost twice.
    "q3": Question(tripwires=("gradcheck.numerical_gradient", "gradcheck.check_gradients",
                              "backprop.perturbation_gradients", "autodiff.Value.backward")),
    "q4": Question(manual=True, points=2),
}


def student_data(student_id):
    """Your digit and the network that reads it, both determined by your student id.

    Returns a network trained briefly on the digits (64-16-10, tanh, softmax), one image
    of the test set (a vector of 64 pixels in [0, 1]) and its label.
    """
    if not isinstance(student_id, str) or not student_id.strip():
        raise ValueError("set STUDENT_ID to your student id, as a string")
    digest = hashlib.sha256(("backprop/" + student_id.strip()).encode()).digest()
    split = datasets.digits(seed=0)
    net = MLP([64, 16, 10], activation="tanh", output_activation="softmax", seed=0)
    train(net, split.X_train, split.y_train, loss="softmax_cross_entropy",
          optimizer=GradientDescent(0.5), epochs=5, batch_size=32, seed=0)
    i = int.from_bytes(digest[:4], "little") % len(split.y_test)
    return net, split.X_test[i], int(split.y_test[i])


# --- helpers --------------------------------------------------------------------------------

class Case:
    """A network, a minibatch, what its forward pass keeps, and an output delta."""

    def __init__(self, ctx, sizes, activation, output="identity", m=5):
        self.spec = Net.random(sizes, activation, output, ctx.rng)
        self.net = self.spec.python()
        self.X = ctx.rng.normal(size=(m, sizes[0]))
        self.zs, self.activations = self.net.forward_pass(self.X)
        self.delta_L = ctx.rng.normal(size=(m, sizes[-1])) / m
        self.name = "-".join(map(str, sizes)) + f" {activation} network"
        self.L = len(sizes) - 1

    def call(self, student, l2=0.0):
        return student.backward(self.spec, self.zs, self.activations, self.delta_L, l2)


def unpack(outcome, case: Case):
    """The three lists backward returned, checked for their lengths."""
    value = outcome.value
    if not (isinstance(value, (tuple, list)) and len(value) == 3):
        raise CheckFailed("backward must return three lists, grad_W, grad_b and deltas; "
                          f"on a {case.name} it returned {_kind(value)}")
    for name, items in zip(("grad_W", "grad_b", "deltas"), value, strict=True):
        if not isinstance(items, (list, tuple)) or len(items) != case.L:
            raise CheckFailed(f"{name} must be a list of {case.L} arrays (one per layer) for a "
                              f"{case.name}, got {_kind(items)}")
    return value


def _kind(value) -> str:
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of {len(value)} items"
    return "None" if value is None else f"a {type(value).__name__}"


def layer_array(items, l: int, shape, what: str, case: Case) -> np.ndarray:
    return array(items[l - 1], f"{what}[{l - 1}] of a {case.name}", shape)


# --- question 1 -----------------------------------------------------------------------------

@check("q1", points=1, public=True)
def shapes(student, ctx):
    # Hidden layers of equal widths, here and below: a missing transpose then raises no
    # error, so it fails the recursion check only, not every check that calls backward.
    cases = [Case(ctx, [2, 3, 3], "tanh", m=4), Case(ctx, [3, 4, 4, 4], "sigmoid")]
    outcomes = yield [case.call(student) for case in cases]
    for case, outcome in zip(cases, outcomes, strict=True):
        grad_W, grad_b, deltas = unpack(outcome, case)
        for l in range(1, case.L + 1):
            layer_array(grad_W, l, case.net.weights[l - 1].shape, "grad_W", case)
            layer_array(grad_b, l, case.net.biases[l - 1].shape, "grad_b", case)
            layer_array(deltas, l, case.zs[l - 1].shape, "deltas", case)
        expect(close(deltas[-1], case.delta_L),
               f"deltas[L-1] must be delta_L itself (the output layer's delta), on a {case.name}")


def _gradient_mistake(got_W, got_b, delta, A_below, A_here, l: int) -> str | None:
    """Name the mistake in ∂E/∂W^(l), ∂E/∂b^(l) computed from ``delta``, or None if right."""
    expected_W, expected_b = delta.T @ A_below, delta.sum(axis=0)
    m = delta.shape[0]
    if not close(got_W, expected_W):
        if close(got_W, A_below.T @ delta):
            return (f"∂E/∂W^({l}) is transposed: it has the shape of W^({l}), "
                    f"(n_{l}, n_{l - 1}), which is what δ^({l})ᵀ A^({l - 1}) gives")
        if close(got_W, expected_W / m):
            return (f"∂E/∂W^({l}) is divided by m once too often: δ^({l}) already carries "
                    "the 1/m of the mean loss")
        if close(got_W, delta.T @ A_here):
            return (f"∂E/∂W^({l}) uses the activation of layer {l}; it needs the one that "
                    f"feeds the layer, A^({l - 1}) = activations[{l - 1}]")
        return f"∂E/∂W^({l}) should be δ^({l})ᵀ A^({l - 1}), the delta times what feeds layer {l}"
    if not close(got_b, expected_b):
        if close(got_b, delta.mean(axis=0)):
            return (f"∂E/∂b^({l}) is the sum of the rows of δ^({l}), not their mean: the 1/m "
                    "is already in the delta")
        return f"∂E/∂b^({l}) should be the sum of the rows of δ^({l})"
    return None


@check("q1", points=3)
def gradients(student, ctx):
    # ∂E/∂W^(l) and ∂E/∂b^(l) from the student's own δ^(l): a mistake in the recursion does
    # not show here, a mistake in these two lines shows in every layer but fails once.
    cases = [Case(ctx, [2, 3, 3, 3], "tanh"), Case(ctx, [4, 3, 3, 3], "sigmoid", m=6)]
    outcomes = yield [case.call(student) for case in cases]
    for case, outcome in zip(cases, outcomes, strict=True):
        grad_W, grad_b, deltas = unpack(outcome, case)
        for l in range(case.L, 0, -1):
            delta = (case.delta_L if l == case.L
                     else layer_array(deltas, l, case.zs[l - 1].shape, "deltas", case))
            got_W = layer_array(grad_W, l, case.net.weights[l - 1].shape, "grad_W", case)
            got_b = layer_array(grad_b, l, case.net.biases[l - 1].shape, "grad_b", case)
            mistake = _gradient_mistake(got_W, got_b, delta, case.activations[l - 1],
                                        case.activations[l], l)
            where = "the output layer" if l == case.L else f"layer {l} (from your deltas[{l - 1}])"
            expect(mistake is None, f"In {where} of a {case.name}: {mistake}.")


def _recursion_mistake(case: Case, got, d, l: int) -> str | None:
    """Name the mistake in δ^(l) computed from the student's δ^(l+1) = ``d``, or None."""
    W = case.net.weights[l]
    Z, A = case.zs[l - 1], case.activations[l]
    g = case.net.activation
    back = d @ W
    expected = back * g.derivative(Z)
    if close(got, expected):
        return None
    variants = []
    if W.shape[0] == W.shape[1]:
        variants.append(((d @ W.T) * g.derivative(Z),
                         f"δ^({l + 1}) went back through W^({l + 1})ᵀ: in row form the "
                         f"recursion is δ^({l + 1}) W^({l + 1}) (which is W^({l + 1})ᵀ δ in "
                         "column form); with equal widths the transposed product runs but "
                         "sends the error along the wrong connections"))
    variants += [
        (back * g.function(Z), f"multiplied by g(Z^({l})), the activation, instead of its "
                               f"derivative g'(Z^({l}))"),
        (back * g.derivative(A), f"took g' of the activation A^({l}); the derivative is "
                                 f"evaluated at the weighted input, g'(Z^({l})) (or use "
                                 "derivative_from_output(A))"),
        (back, f"left out the factor g'(Z^({l}))"),
        (expected / d.shape[0], f"divided δ^({l}) by m again; only the output delta gets "
                                "the 1/m, and it carries it down"),
        (-expected, "has the wrong sign"),
    ]
    if case.zs[l].shape == Z.shape:
        variants.append((back * g.derivative(case.zs[l]),
                         f"took g' at Z^({l + 1}), the layer above; the new delta belongs "
                         f"to layer {l}, so it needs g'(Z^({l})) = g'(zs[{l - 1}])"))
    for variant, message in variants:
        if close(got, variant):
            return message
    return (f"δ^({l}) should be (δ^({l + 1}) W^({l + 1})) ⊙ g'(Z^({l})), with W^({l + 1}) = "
            f"net.weights[{l}] and Z^({l}) = zs[{l - 1}]")


@check("q1", points=4)
def recursion(student, ctx):
    cases = [Case(ctx, [2, 3, 3, 3], "tanh"), Case(ctx, [3, 4, 4, 4], "sigmoid"),
             Case(ctx, [3, 5, 4, 2], "tanh")]
    outcomes = yield [case.call(student) for case in cases]
    for case, outcome in zip(cases, outcomes, strict=True):
        if outcome.status == "raised" and re.search(r"matmul|shapes|align", outcome.error_message):
            raise CheckFailed(
                f"backward raised {outcome.error_type} on a {case.name}, whose layers differ "
                f"in width ({outcome.error_message[:120]}). In row form the delta goes back "
                "through W itself: δ^(l+1) W^(l+1) multiplies (m, n_(l+1)) by (n_(l+1), n_l); "
                "W.T fits only when the widths are equal.")
        _, _, deltas = unpack(outcome, case)
        for l in range(case.L - 1, 0, -1):
            d = layer_array(deltas, l + 1, case.zs[l].shape, "deltas", case)
            got = layer_array(deltas, l, case.zs[l - 1].shape, "deltas", case)
            mistake = _recursion_mistake(case, got, d, l)
            expect(mistake is None, f"δ^({l}) of a {case.name} (from your δ^({l + 1})): "
                                    f"{mistake}.")


@check("q1", points=1)
def l2_penalty(student, ctx):
    case = Case(ctx, [2, 3, 3], "tanh")
    alpha = 0.7
    plain, penalised = yield [case.call(student, 0.0), case.call(student, alpha)]
    W0, b0, _ = unpack(plain, case)
    W1, b1, _ = unpack(penalised, case)
    for l in range(1, case.L + 1):
        W = case.net.weights[l - 1]
        added = (layer_array(W1, l, W.shape, "grad_W", case)
                 - layer_array(W0, l, W.shape, "grad_W", case))
        if not close(added, alpha * W):
            m = case.X.shape[0]
            if close(added, alpha / m * W):
                raise CheckFailed(
                    "With l2 = α the weight gradients grow by (α/m) W; the penalty "
                    "(α/2) Σ ||W||² does not depend on m, so its gradient is α W.")
            if close(added, alpha / 2 * W) or close(added, 2 * alpha * W):
                raise CheckFailed("The gradient of (α/2) ||W||² is α W: check the factor 2.")
            raise CheckFailed(f"With l2 = α, ∂E/∂W^({l}) should grow by α W^({l}).")
        b = case.net.biases[l - 1]
        added_b = (layer_array(b1, l, b.shape, "grad_b", case)
                   - layer_array(b0, l, b.shape, "grad_b", case))
        expect(close(added_b, 0.0 * b), "The biases are not penalised: l2 must not change "
                                        "∂E/∂b.")


# --- question 2 -----------------------------------------------------------------------------

def _delta_mlp_case(ctx):
    sizes = [2, 3, 3]
    seed = int(ctx.rng.integers(0, 1000))
    real = MLP(sizes, activation="tanh", output_activation="sigmoid", seed=seed)
    X = ctx.rng.normal(size=(6, 2))
    Y = ctx.rng.integers(0, 2, size=(6, 3)).astype(float)
    return sizes, seed, real, X, Y


@check("q2", points=1)
def loss_with_penalty(student, ctx):
    sizes, seed, real, X, Y = _delta_mlp_case(ctx)
    alpha = 0.3
    outcome = yield student.new("DeltaMLP", sizes, activation="tanh",
                                output_activation="sigmoid", seed=seed).gradients(
        X, Y, loss="binary_cross_entropy", l2=alpha)
    value = outcome.value
    expect(isinstance(value, (tuple, list)) and len(value) == 3,
           "DeltaMLP.gradients must return (E, grad_W, grad_b)")
    E = array(value[0], "E", ())
    expected = real.loss(X, Y, "binary_cross_entropy", alpha)
    if not close(E, expected):
        plain = real.loss(X, Y, "binary_cross_entropy", 0.0)
        if close(E, plain):
            raise CheckFailed("E is the loss without the penalty: add (α/2) Σ ||W||² "
                              "(losses.l2_penalty(self.weights, l2)).")
        raise CheckFailed("E should be the mean loss plus (α/2) Σ ||W||².")


@check("q2", points=1)
def uses_your_backward(student, ctx):
    sizes, seed, real, X, Y = _delta_mlp_case(ctx)
    alpha = 0.1
    zs, acts = real.forward_pass(X)
    _, delta_L = losses.loss_and_output_delta("binary_cross_entropy", zs[-1], acts[-1], Y,
                                              "sigmoid")
    spec = Net.from_mlp(real)
    trained, own = yield [
        student.new("DeltaMLP", sizes, activation="tanh", output_activation="sigmoid",
                    seed=seed).gradients(X, Y, loss="binary_cross_entropy", l2=alpha),
        student.backward(spec, zs, acts, delta_L, alpha),
    ]
    if own.status == "raised" and trained.status == "raised":
        expect(own.error_type == trained.error_type,
               f"DeltaMLP.gradients raised {trained.error_type}: {trained.error_message}")
        return
    value = trained.value
    expect(isinstance(value, (tuple, list)) and len(value) == 3,
           "DeltaMLP.gradients must return (E, grad_W, grad_b)")
    mine = own.value
    expect(isinstance(mine, (tuple, list)) and len(mine) == 3,
           "backward must return (grad_W, grad_b, deltas)")
    for got, wanted in zip(value[1] + value[2], list(mine[0]) + list(mine[1]), strict=False):
        expect(close(got, wanted, rtol=1e-9, atol=1e-12),
               "DeltaMLP.gradients must return the gradients of your backward(self, zs, "
               "activations, delta_L, l2), so that training uses your backward pass.")


# --- question 3 -----------------------------------------------------------------------------

def _input_gradient(net, X, Y, loss):
    deltas = minibatch_deltas(net, X, Y, loss)
    return deltas[0] / X.shape[0] @ net.weights[0]


@check("q3", points=3)
def input_gradient(student, ctx):
    rng = ctx.rng
    cases = [
        (Net.random([3, 4, 4], "tanh", "identity", rng), "mse", rng.normal(size=(5, 4))),
        (Net.random([3, 3, 3], "sigmoid", "identity", rng), "mse", rng.normal(size=(4, 3))),
        (Net.random([5, 4, 4], "tanh", "softmax", rng), "softmax_cross_entropy",
         rng.integers(0, 4, size=6)),
        (Net.random([4, 3, 3], "relu", "sigmoid", rng), "binary_cross_entropy",
         rng.integers(0, 2, size=(3, 3)).astype(float)),
    ]
    inputs = [rng.normal(size=(len(Y), spec.layer_sizes[0])) for spec, _, Y in cases]
    outcomes = yield [student.input_gradient(spec, X, Y, loss)
                      for (spec, loss, Y), X in zip(cases, inputs, strict=True)]
    for (spec, loss, Y), X, outcome in zip(cases, inputs, outcomes, strict=True):
        net = spec.python()
        name = "-".join(map(str, spec.layer_sizes)) + f" {spec.activation} network ({loss})"
        got = array(outcome.value, f"input_gradient on a {name}", X.shape)
        expected = _input_gradient(net, X, Y, loss)
        if close(got, expected):
            continue
        m = X.shape[0]
        W1 = net.weights[0]
        deltas1 = minibatch_deltas(net, X, Y, loss)[0] / m
        if close(got, m * expected):
            raise CheckFailed(f"On a {name}: m times too large. E is the mean loss, so "
                              "δ^(1) carries 1/m (minibatch_deltas does not).")
        if close(got, expected * net.activation.derivative(X)):
            raise CheckFailed(f"On a {name}: an extra factor g'(X). The input layer has no "
                              "activation, so the last step is δ^(1) W^(1) alone.")
        if W1.shape[0] == W1.shape[1] and close(got, deltas1 @ W1.T):
            raise CheckFailed(f"On a {name}: δ^(1) went back through W^(1)ᵀ; in row form "
                              "∂E/∂X = δ^(1) W^(1).")
        if close(got, -expected):
            raise CheckFailed(f"On a {name}: the sign is wrong.")
        raise CheckFailed(f"On a {name}: ∂E/∂X should be δ^(1) W^(1), with δ^(1) the delta "
                          "of the first layer for the mean loss.")


@check("q3", points=1)
def your_saliency(student, ctx):
    # The student's own input_gradient on their own digit: a shared or made-up saliency
    # fails, a mistake in input_gradient (judged above) does not fail twice.
    net, digit, label = ctx.data
    out = yield student.input_gradient(Net.from_mlp(net), digit[None, :], np.array([label]),
                                       "softmax_cross_entropy")
    own = array(out.value, "input_gradient on your digit", (1, 64))
    got = array(ctx.value("my_saliency"), "my_saliency", (1, 64))
    expect(close(got, own, rtol=1e-9, atol=1e-12),
           "my_saliency is not what your input_gradient gives for your digit (the digit of "
           "your STUDENT_ID, with its label as the target, digits_net and the softmax "
           "cross-entropy).")
    pixel = ctx.value("my_pixel")
    expect(isinstance(pixel, int) and pixel == int(np.argmax(np.abs(got))),
           "my_pixel should be the index of the largest |∂E/∂x_j| of my_saliency.")
