"""micrograd_bp: a scalar autograd engine for learning backpropagation by number."""

from .check import check_partial, explain, gradcheck
from .compiled import CompiledGraph, ShapeError, compile_graph
from .engine import Value, grad, linear, topological_order
from .expr import ExprError, parse
from .ops import OPS, Op, functions, register_op
from .page import Page, explore, explore_network

__all__ = ["OPS", "Op", "functions", "register_op", "Value", "grad", "linear", "topological_order",
           "ExprError", "parse", "check_partial", "explain", "gradcheck",
           "compile_graph", "CompiledGraph", "ShapeError", "explore", "explore_network", "Page"]
__version__ = "0.1.0"
