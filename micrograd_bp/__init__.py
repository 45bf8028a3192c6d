"""micrograd_bp: a scalar autograd engine for learning backpropagation by number."""

from .engine import Value, grad, linear, topological_order
from .ops import FUNCTIONS, OPS, Op

__all__ = ["FUNCTIONS", "OPS", "Op", "Value", "grad", "linear", "topological_order"]
__version__ = "0.1.0"
