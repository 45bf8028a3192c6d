"""micrograd_bp: a scalar autograd engine for learning backpropagation by number."""

from . import fast  # noqa: F401  (the speed layer installs itself; MICROGRAD_BP_PLAIN=1 leaves it off)
from .compiled import CompiledGraph, ShapeError, compile_graph
from .diagnose import check_partial
from .engine import Value, grad, linear, topological_order
from .exercise import Exercise
from .expr import ExprError, parse
from .numeric import gradcheck, gradcheck_op
from .ops import OPS, Op, functions
from .page import Page, explore, explore_network
from .paths import explain
from .registry import register_op, unregister_op
from .symbolic import to_sympy

__all__ = ["OPS", "Op", "functions", "register_op", "unregister_op", "Value", "grad", "linear",
           "topological_order", "ExprError", "parse", "check_partial", "explain", "gradcheck",
           "gradcheck_op", "to_sympy", "compile_graph", "CompiledGraph", "ShapeError", "explore",
           "explore_network", "Page", "Exercise"]
__version__ = "0.1.0"
