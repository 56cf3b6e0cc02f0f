"""bpbook: the code of the book *How neural networks learn*.

Modules are named after what the chapters teach:

- :mod:`bpbook.activations` — g and g'
- :mod:`bpbook.losses` — E and the output delta ∂E/∂z
- :mod:`bpbook.network` — the MLP, its forward pass and backpropagation
- :mod:`bpbook.initialization` — how the size of the weighted inputs depends on the
  initial weights, measured and predicted layer by layer
- :mod:`bpbook.gradcheck` — finite differences and relative errors
- :mod:`bpbook.autodiff` — a scalar reverse-mode engine (the chain rule on a graph)
- :mod:`bpbook.backprop` — the classic per-example algorithm and perturbation learning
- :mod:`bpbook.pitfalls` — popular backpropagation mistakes, implemented to be caught
- :mod:`bpbook.optim` — gradient descent, momentum and the training loop
- :mod:`bpbook.evolution` — hill climbing, genetic algorithms, evolution strategies
- :mod:`bpbook.datasets` — bundled data (digits, XOR, moons)
- :mod:`bpbook.symbolic` — SymPy counterparts and symbolic-vs-numeric checks
- :mod:`bpbook.widgets`, :mod:`bpbook.experiments`, :mod:`bpbook.plotting` — interactive
  experiments that also work on the static website, and the book's figures
- :mod:`bpbook.diagrams` — the book's diagrams (a neuron, a network, a computational
  graph, the delta recursion, a descent path, evolution-strategy probes), drawn in the
  Notation page's symbols
"""

from bpbook.network import MLP

__all__ = ["MLP"]
__version__ = "0.1.0"
