"""bpbook: the code of the book *How neural networks learn*.

Modules are named after what the chapters teach:

- :mod:`bpbook.activations` — g and g'
- :mod:`bpbook.losses` — E and the output delta ∂E/∂z
- :mod:`bpbook.network` — the MLP, its forward pass and backpropagation
- :mod:`bpbook.gradcheck` — finite differences and relative errors
- :mod:`bpbook.datasets` — bundled data (digits, XOR, moons)
- :mod:`bpbook.symbolic` — SymPy counterparts and symbolic-vs-numeric checks
"""

from bpbook.network import MLP

__all__ = ["MLP"]
__version__ = "0.1.0"
