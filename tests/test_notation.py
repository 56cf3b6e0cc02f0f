"""The Notation page is the law: the package, the chapters and the assignments follow it.

What can be checked mechanically is checked here: the page's shape of W^(l) and its
place in the code agree with the package's docstrings and with the network itself, and
the phrases of the other convention (W^(l) leaving layer l, ``weights[l]`` for the book's
layer l, the penalty divided by m) appear nowhere. The page's own code cell checks the
forward pass equation by equation when the book is built.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from bpbook import MLP, network
from conftest import ROOT

NOTATION = ROOT / "notation.md"

# Everything a reader puts beside the Notation page: the package, the chapters, the
# assignments' masters, the front page and the README.
SOURCES = sorted(
    [*ROOT.glob("src/bpbook/*.py"), *ROOT.glob("chapters/*.md"),
     *ROOT.glob("assignments/*/*.md"), ROOT / "intro.md", ROOT / "README.md"]
)

# The other convention, or a second meaning of a symbol the page has given one.
FORBIDDEN = {
    # Lists kept per weight layer are indexed with the book's l as [l - 1].
    r"\b(weights|biases|zs|grad_w|grad_b|grad_W|grad_weights|grad_biases|deltas)\[l\]":
        "a per-layer list indexed [l]: with the book's l it is [l - 1]",
    r"\b(weights|biases|zs)\[l ?\+ ?1\]": "a per-layer list indexed [l + 1]",
    r"W\^\{?\(0\)": "W^(0) does not exist: W^(l) maps layer l-1 to layer l, l = 1..L",
    r"from layer \$?l\$? to layer \$?l ?\+ ?1": "W^(l) leads from layer l-1 to layer l",
    r"\(n_\{l\+1\}, ?n_l\)": "W^(l) has shape (n_l, n_{l-1})",
    r"\\frac\{\\lambda\}\{2m\}|λ ?/ ?\(?2 ?m\)?|\\frac\{\\lambda\}\{m\}|\(λ ?/ ?m\)":
        "the L2 penalty is (α/2)‖W‖², not divided by m",
}


# Sentences that name the other convention in order to reject or convert it.
ALLOWED = {
    "01_forward_pass.md": ["There is no $W^{(0)}$"],
    "02_loss_functions.md": [
        "Some texts write the penalty as\n$\\frac{\\lambda}{2m}",  # then shows why not
        "and Ng's\n$\\frac{\\lambda}{2m}",  # converted: alpha = lambda / N
    ],
}


def _notation_row(symbol: str) -> list[str]:
    """The cells of the row of the Notation page's tables that starts with ``symbol``."""
    text = NOTATION.read_text()
    rows = re.split(r"^\* - ", text, flags=re.M)
    for row in rows:
        if row.startswith(symbol):
            return [cell.strip() for cell in re.split(r"^  - ", row, flags=re.M)]
    raise AssertionError(f"the Notation page has no row for {symbol}")


def test_the_page_and_the_package_agree_on_w():
    symbol, shape, _, code = _notation_row("$W^{(l)}$")
    assert shape == r"$n_l \times n_{l-1}$"
    assert code == "`net.weights[l-1]`"
    doc = MLP.__doc__ or ""
    assert "``weights[l-1]`` is ``W^(l)``, of shape ``(layer_sizes[l], layer_sizes[l-1])``" in doc
    assert "``W^(l)``, of shape ``(n_l, n_{l-1})``, maps layer ``l − 1`` to layer ``l``" in (
        network.__doc__ or ""
    )
    net = MLP([5, 4, 3, 2], seed=0)
    for l in range(1, net.n_layers + 1):
        assert net.weights[l - 1].shape == (net.layer_sizes[l], net.layer_sizes[l - 1])
        assert net.biases[l - 1].shape == (net.layer_sizes[l],)


def test_the_page_and_the_package_agree_on_z_and_a():
    assert _notation_row("$z^{(l)} = W^{(l)} a^{(l-1)} + b^{(l)}$")[-1] == "`zs[l-1]`"
    assert _notation_row("$a^{(l)} = g(z^{(l)})$")[-1] == "`activations[l]`"
    net = MLP([3, 4, 2], activation="tanh", seed=1)
    X = np.random.default_rng(0).normal(size=(5, 3))
    zs, acts = net.forward_pass(X)
    np.testing.assert_allclose(zs[0], X @ net.weights[0].T + net.biases[0])
    np.testing.assert_allclose(acts[1], np.tanh(zs[0]))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_other_convention(path: Path):
    text = path.read_text()
    for sentence in ALLOWED.get(path.name, []):
        assert sentence in text, f"allowed sentence no longer in {path.name}: {sentence!r}"
        text = text.replace(sentence, "")
    found = []
    for pattern, why in FORBIDDEN.items():
        for match in re.finditer(pattern, text):
            line = text.count("\n", 0, match.start()) + 1
            found.append(f"{path.name}:{line}: {match.group(0)!r}: {why}")
    assert not found, "\n".join(found)
