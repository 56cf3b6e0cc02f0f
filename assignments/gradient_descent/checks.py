"""The grader's checks of assignment ``gradient_descent`` (private, like the master).

No check re-penalises an earlier answer: the demonstrations are judged with the student's
own predicted rates (the runs at those rates are repeated here and must match), and the
early-stopping rule is judged on the student's own validation losses. Inputs and data are
drawn for each student (``ctx.rng`` and ``student_data`` are seeded by the student id).
"""

from __future__ import annotations

import hashlib

import numpy as np
from grading_checks import CheckFailed, Net, Question, array, check, close, expect

from bpbook import MLP, datasets
from bpbook.optim import GradientDescent, largest_curvature, minimize, train

ASSIGNMENT = "gradient_descent"
VALUES = ("eta_star", "eta_below", "eta_above", "path_below", "path_above", "A_digits",
          "eta_star_digits", "curvature_measured", "eta_stable", "eta_diverged",
          "history_stable", "history_diverged", "my_best_epoch", "my_val_losses",
          "my_test_accuracy")
QUESTIONS = {
    "q1": Question(tripwires=("optim.largest_curvature",)),
    "q2": Question(tripwires=("optim.largest_curvature",)),
    "q3": Question(),
    "q4": Question(manual=True, points=3),
}


def student_data(student_id):
    """Your matrix and your split of the digits, chosen by your student id.

    Returns a symmetric positive definite 2×2 matrix A and a datasets.Split of the digits
    (training, validation and test parts, shuffled with your own seed).
    """
    if not isinstance(student_id, str) or not student_id.strip():
        raise ValueError("set STUDENT_ID to your student id, as a string")
    digest = hashlib.sha256(("gradient_descent/" + student_id.strip()).encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    angle = rng.uniform(0.0, np.pi)
    Q = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    A = Q @ np.diag(rng.uniform([0.5, 2.0], [1.5, 6.0])) @ Q.T
    split = datasets.digits(seed=int(rng.integers(0, 10_000)))
    return (A + A.T) / 2, split


def number(ctx, name: str) -> float:
    value = ctx.value(name)
    expect(isinstance(value, (int, float)) and not isinstance(value, bool) and
           np.isfinite(value), f"{name} should be a finite number, got {value!r}"[:200])
    return float(value)


def record(ctx, name: str):
    value = ctx.value(name)
    expect(hasattr(value, "type_name"), f"{name} should be what minimize/train returned")
    return value


def spd(rng, n: int) -> tuple[np.ndarray, np.ndarray]:
    Q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    eigenvalues = rng.uniform(0.5, 20.0, n)
    A = Q @ np.diag(eigenvalues) @ Q.T
    return (A + A.T) / 2, eigenvalues


# --- question 1 -----------------------------------------------------------------------------

@check("q1", points=1, public=True)
def scaling(student, ctx):
    A, _ = spd(ctx.rng, 2)
    single, double = yield [student.critical_learning_rate(A),
                            student.critical_learning_rate(2 * A)]
    eta = float(array(single.value, "critical_learning_rate(A)", ()))
    expect(eta > 0 and close(array(double.value, "critical_learning_rate(2A)", ()), eta / 2),
           "critical_learning_rate must return a positive number that halves when A doubles.")


@check("q1", points=2)
def two_over_lambda_max(student, ctx):
    cases = [spd(ctx.rng, n) for n in (1, 3, 6)]
    outcomes = yield [student.critical_learning_rate(A) for A, _ in cases]
    for (A, eigenvalues), out in zip(cases, outcomes, strict=True):
        got = float(array(out.value, f"critical_learning_rate of a {len(A)}×{len(A)} matrix", ()))
        if np.isclose(got, 2 / eigenvalues.max(), rtol=1e-9):
            continue
        for value, message in [
            (1 / eigenvalues.max(), "1/λ_max is the rate that solves the steepest direction "
                                    "in one step, not the largest that converges"),
            (2 / eigenvalues.min(), "2/λ_min lets the steepest direction diverge; the "
                                    "largest eigenvalue decides"),
            (2 / np.max(np.diag(A)), "the largest diagonal entry is not the largest "
                                     "eigenvalue unless A is diagonal"),
            (2 / np.trace(A), "the trace is the sum of all eigenvalues, not the largest"),
        ]:
            if np.isclose(got, value, rtol=1e-9):
                raise CheckFailed(f"critical_learning_rate should be 2/λ_max: {message}.")
        raise CheckFailed("critical_learning_rate should be 2/λ_max, with λ_max the largest "
                          "eigenvalue of A (np.linalg.eigvalsh).")


@check("q1", points=1)
def with_momentum(student, ctx):
    # Compared with the student's own rate without momentum, so question 1's first part
    # cannot fail this check too.
    A, _ = spd(ctx.rng, 3)
    outcomes = yield [student.critical_learning_rate(A, momentum=mu) for mu in (0.0, 0.5, 0.9)]
    plain = float(array(outcomes[0].value, "critical_learning_rate(A, momentum=0.0)", ()))
    expect(plain > 0, "critical_learning_rate(A, momentum=0.0) should be positive")
    for mu, out in zip((0.5, 0.9), outcomes[1:], strict=True):
        ratio = float(array(out.value, f"critical_learning_rate(A, momentum={mu})", ())) / plain
        if np.isclose(ratio, 1 + mu, rtol=1e-9):
            continue
        if np.isclose(ratio, 1.0):
            raise CheckFailed("The momentum is ignored: with μ > 0 the critical rate grows.")
        if np.isclose(ratio, 1 - mu) or np.isclose(ratio, 1 / (1 + mu)):
            raise CheckFailed("With momentum the critical rate grows: the root r = −1 gives "
                              "1 + (1 + μ − ηλ) + μ = 0.")
        raise CheckFailed("With momentum μ the critical rate is 2(1 + μ)/λ_max: set r = −1 in "
                          "the characteristic polynomial.")


@check("q1", points=1)
def demonstration(student, ctx):  # noqa: ARG001 - checks of the notebook's values
    A, _ = ctx.data
    eta_star = number(ctx, "eta_star")
    below, above = number(ctx, "eta_below"), number(ctx, "eta_above")
    expect(0.9 * eta_star <= below < eta_star < above <= 1.1 * eta_star,
           "eta_below and eta_above should lie within 10 % below and above your eta_star.")
    for name, eta in (("path_below", below), ("path_above", above)):
        path = record(ctx, name)
        again = minimize(lambda t: 0.5 * t @ A @ t, lambda t: A @ t, [1.0, 1.0], eta,
                         steps=200)
        expect(bool(path["diverged"]) == again.diverged
               and len(np.atleast_1d(path["values"])) == len(again.values),
               f"{name} is not minimize(E, grad, [1.0, 1.0], {name.replace('path', 'eta')}, "
               "steps=200) on A_mine.")


# --- question 2 -----------------------------------------------------------------------------

def _hessian(X):
    m = X.shape[0]
    X_tilde = np.hstack([X, np.ones((m, 1))])
    return 2.0 / m * X_tilde.T @ X_tilde


@check("q2", points=2)
def hessian(student, ctx):  # noqa: ARG001
    _, split = ctx.data
    X = split.X_train
    m = X.shape[0]
    expected = _hessian(X)
    got = ctx.value("A_digits")
    shape = np.shape(got)
    if shape == (64, 64) and close(got, 2.0 / m * X.T @ X):
        raise CheckFailed("A_digits lacks the bias: append a column of ones to X_train "
                          "(X̃ = [X, 1]), which makes it 65×65.")
    if shape == (m, m):
        raise CheckFailed("A_digits is m×m: the Hessian is (2/m) X̃ᵀX̃, one row and column "
                          "per parameter, not per example.")
    got = array(got, "A_digits", expected.shape)
    if close(got, expected):
        return
    for factor, message in [(0.5, "the factor 2 of the squared error is missing"),
                            (m, "the 1/m of the mean is missing"),
                            (1 / m, "it is divided by m twice")]:
        if close(got, factor * expected):
            raise CheckFailed(f"A_digits is off by a constant factor: {message}.")
    raise CheckFailed("A_digits should be (2/m) X̃ᵀX̃ with X̃ = [X_train, 1] from your split.")


@check("q2", points=1)
def uses_your_rate(student, ctx):
    A = ctx.value("A_digits")
    A = array(A, "A_digits")
    out = yield student.critical_learning_rate(A)
    eta = number(ctx, "eta_star_digits")
    predicted = float(array(out.value, "critical_learning_rate(A_digits)", ()))
    # The same function on the same matrix gives the same bits; a measured λ_max agrees
    # only to about 1e-13.
    if np.isclose(eta, predicted, rtol=1e-14, atol=0.0):
        return
    measured = ctx.values.get("curvature_measured")
    if isinstance(measured, float) and measured > 0 and np.isclose(eta, 2 / measured,
                                                                   rtol=1e-14, atol=0.0):
        raise CheckFailed("eta_star_digits is the measured 2/λ_max; the question asks for "
                          "the prediction critical_learning_rate(A_digits).")
    raise CheckFailed("eta_star_digits should be critical_learning_rate(A_digits).")


@check("q2", points=1)
def measured(student, ctx):  # noqa: ARG001
    _, split = ctx.data
    net = MLP([64, 10], activation="identity", output_activation="identity", seed=0)
    expected = largest_curvature(net, split.X_train, np.eye(10)[split.y_train], loss="mse")
    got = number(ctx, "curvature_measured")
    expect(np.isclose(got, expected, rtol=1e-6),
           "curvature_measured should be largest_curvature(linear_net, X_train, Y_train).")


@check("q2", points=2)
def divergence_shown(student, ctx):  # noqa: ARG001
    _, split = ctx.data
    eta_star = number(ctx, "eta_star_digits")
    stable, diverged = number(ctx, "eta_stable"), number(ctx, "eta_diverged")
    expect(np.isclose(stable, 0.95 * eta_star, rtol=1e-6)
           and np.isclose(diverged, 1.05 * eta_star, rtol=1e-6),
           "eta_stable and eta_diverged should be 0.95 and 1.05 times your eta_star_digits.")
    X, Y = split.X_train, np.eye(10)[split.y_train]
    for name, eta in (("history_stable", stable), ("history_diverged", diverged)):
        history = record(ctx, name)
        net = MLP([64, 10], activation="identity", output_activation="identity", seed=0)
        again = train(net, X, Y, loss="mse", optimizer=GradientDescent(eta), epochs=100)
        losses = np.atleast_1d(history["train_loss"])
        expect(bool(history["diverged"]) == again.diverged and len(losses) == len(
            again.train_loss) and close(losses, again.train_loss, rtol=1e-6),
            f"{name} is not the history of training a copy of linear_net for 100 epochs "
            "with that learning rate.")


# --- question 3 -----------------------------------------------------------------------------

def trajectory(net, X_train, y_train, X_val, y_val, learning_rate, batch_size, max_epochs,
               patience):  # noqa: ARG001 - the arguments of train_with_early_stopping
    """The reference: every epoch up to ``max_epochs``, with its validation loss and the
    parameters after it (index 0: before training). Early stopping reads a prefix of it."""
    val_losses = [net.loss(X_val, y_val, "softmax_cross_entropy")]
    parameters = [([W.copy() for W in net.weights], [b.copy() for b in net.biases])]
    for epoch in range(1, max_epochs + 1):
        train(net, X_train, y_train, loss="softmax_cross_entropy",
              optimizer=GradientDescent(learning_rate), epochs=1, batch_size=batch_size,
              seed=epoch)
        val_losses.append(net.loss(X_val, y_val, "softmax_cross_entropy"))
        parameters.append(([W.copy() for W in net.weights], [b.copy() for b in net.biases]))
    return val_losses, parameters


def stopping_rule(val_losses: list[float], patience: int, max_epochs: int) -> tuple[int, int]:
    """The best epoch and the number of epochs the rule runs, for given validation losses."""
    best, best_epoch = val_losses[0], 0
    for epoch in range(1, min(len(val_losses), max_epochs + 1)):
        if val_losses[epoch] < best:
            best, best_epoch = val_losses[epoch], epoch
        elif epoch - best_epoch >= patience:
            return best_epoch, epoch
    return best_epoch, min(len(val_losses) - 1, max_epochs)


class Run:
    """A small digits problem and the student's early stopping on it."""

    def __init__(self, ctx):
        split = datasets.digits(classes=(0, 1, 2, 3), seed=int(ctx.rng.integers(0, 1000)))
        self.data = (split.X_train[:200], split.y_train[:200], split.X_val[:80],
                     split.y_val[:80])
        self.spec = Net.random([64, 12, 4], "tanh", "softmax", ctx.rng)
        # Learning rate, batch size, most epochs, patience: it stops before the most epochs.
        self.settings = (1.0, 16, 15, 2)

    def call(self, student):
        return student.with_args("train_with_early_stopping", self.spec, *self.data,
                                 *self.settings)

    def reference(self):
        return trajectory(self.spec.python(), *self.data, *self.settings)

    def result(self, outcome) -> tuple[int, list[float]]:
        value = outcome.value
        expect(isinstance(value, (tuple, list)) and len(value) == 2,
               "train_with_early_stopping must return best_epoch, val_losses")
        best_epoch, val_losses = value
        expect(isinstance(best_epoch, int), "best_epoch should be an int")
        return best_epoch, [float(v) for v in array(val_losses, "val_losses").ravel()]


@check("q3", points=1)
def validation_losses(student, ctx):
    run = Run(ctx)
    out = yield run.call(student)
    _, got = run.result(out)
    expected, _ = run.reference()
    n = min(len(got), len(expected))
    expect(n > 0 and close(got[:n], expected[:n]),
           "val_losses should hold net.loss(X_val, y_val, 'softmax_cross_entropy') before "
           "training and after each epoch, each epoch being the train(...) call of the "
           "question with seed = epoch.")


@check("q3", points=2)
def stopping_epoch(student, ctx):
    run = Run(ctx)
    out = yield run.call(student)
    best_epoch, got = run.result(out)
    # The rule applied to the student's own losses: a wrong loss does not fail this check.
    _, _, max_epochs, patience = run.settings
    expected_best, epochs = stopping_rule(got, patience, max_epochs)
    if len(got) - 1 > epochs:
        raise CheckFailed(f"Training went on for {len(got) - 1 - epochs} epoch(s) after the "
                          f"{patience} without improvement that should stop it (stop after "
                          "epoch t when t − best_epoch ≥ patience).")
    if len(got) - 1 < epochs:
        raise CheckFailed(f"Training stopped after {len(got) - 1} epochs, before {patience} "
                          "epochs without improvement (stop when epoch − best_epoch ≥ "
                          "patience).")
    expect(best_epoch == expected_best,
           f"best_epoch is {best_epoch}, but the lowest of your val_losses is after epoch "
           f"{expected_best}.")


@check("q3", points=1)
def best_parameters_restored(student, ctx):
    run = Run(ctx)
    out = yield run.call(student)
    best_epoch, got = run.result(out)
    _, parameters = run.reference()
    net = out.args_after[0] if out.args_after else None
    expect(isinstance(net, dict) and "weights" in net,
           "train_with_early_stopping must train the network it is given, in place.")
    if not 0 <= best_epoch < len(parameters):
        raise CheckFailed(f"best_epoch {best_epoch} is not an epoch that was run.")
    weights, biases = parameters[best_epoch]
    restored = all(close(w, r) for w, r in zip(net["weights"], weights, strict=True)) and all(
        close(b, r) for b, r in zip(net["biases"], biases, strict=True))
    if not restored:
        last_weights, _ = parameters[min(len(got), len(parameters)) - 1]
        if all(close(w, r) for w, r in zip(net["weights"], last_weights, strict=True)):
            raise CheckFailed("The network keeps the parameters of the last epoch: put the "
                              "best epoch's weights and biases back before returning.")
        raise CheckFailed(f"The network should end with the parameters after epoch "
                          f"{best_epoch}, the best one.")


@check("q3", points=1)
def your_run(student, ctx):
    # The student's own function on their own split: shared or made-up numbers fail, a
    # mistake in the function (judged above) does not fail twice.
    _, split = ctx.data
    spec = Net.from_mlp(MLP([64, 32, 10], activation="tanh", output_activation="softmax",
                            seed=0))
    out = yield student.with_args(
        "train_with_early_stopping", spec, split.X_train, split.y_train, split.X_val,
        split.y_val, 1.0, 32, 30, 3)
    best_epoch, val_losses = out.value if isinstance(out.value, (tuple, list)) and len(
        out.value) == 2 else (None, None)
    expect(best_epoch is not None, "train_with_early_stopping must return best_epoch, "
                                   "val_losses")
    expect(ctx.value("my_best_epoch") == best_epoch and close(
        ctx.value("my_val_losses"), val_losses, rtol=1e-9),
        "my_best_epoch and my_val_losses are not what your train_with_early_stopping gives on "
        "your split with the settings of the question.")
    trained = out.args_after[0] if out.args_after else None
    expect(isinstance(trained, dict), "train_with_early_stopping must train my_net in place")
    net = MLP([64, 32, 10], activation="tanh", output_activation="softmax")
    net.weights, net.biases = trained["weights"], trained["biases"]
    accuracy = float(np.mean(net.predict(split.X_test) == split.y_test))
    expect(np.isclose(number(ctx, "my_test_accuracy"), accuracy),
           "my_test_accuracy should be the share of the test digits that my_net classifies "
           "correctly after training.")
