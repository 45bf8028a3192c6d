"""Drawings and the backward animation written to files: SVG, PNG, PDF, DOT and GIF."""

# viz builds the drawings (DOT text); this module writes them. It needs no graphviz package of its
# own: it takes a drawing's DOT text from viz (viz.dot_source) and runs Graphviz's `dot` program
# on it, so the one import of graphviz stays in viz, and a timeout and dot's own error message are
# ours to report.

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

from . import viz
from .engine import Value
from .trace import BackwardTrace

# Output formats by file suffix: rendered by dot, or the DOT source itself (no binary needed).
RENDERED = {".svg": "svg", ".png": "png", ".pdf": "pdf"}
SOURCE_SUFFIXES = (".dot", ".gv")
RENDER_TIMEOUT = 30.0  # seconds dot may take before write_graph gives up with a clear error
MAX_ANIMATION_WORK = 2_500  # nodes x frames an animation may draw (Mazur: 31 x 17 = 527, 5 s)
ANIMATION_DPI = 72  # frames are rendered at dot's 72 dpi: 11-point text is 11 px high
ANIMATION_WIDTH = 900  # px: a wider frame is scaled down to this (the README shows it at 900)


class GraphvizMissing(RuntimeError):
    """The Graphviz `dot` program is not installed; the DOT source was written to `dot_path`."""

    def __init__(self, path: Path, dot_path: Path, written: bool = True) -> None:
        self.path, self.dot_path = path, dot_path if written else None
        where = (f"the DOT source was written to {dot_path}" if written else
                 f"the DOT source was not written: {dot_path} exists already and was kept")
        super().__init__(f"cannot render {path}: the Graphviz 'dot' program was not found; "
                         f"{viz.INSTALL_HINT}; {where}")


class RenderError(RuntimeError):
    """dot failed on a graph, or did not finish within RENDER_TIMEOUT seconds."""


def output_format(path: str | Path) -> str:
    """The format a file suffix asks for: svg, png, pdf, or dot (the source); else ValueError."""
    suffix = Path(path).suffix.lower()
    if suffix in SOURCE_SUFFIXES:
        return "dot"
    if suffix in RENDERED:
        return RENDERED[suffix]
    known = ", ".join([*RENDERED, *SOURCE_SUFFIXES])
    raise ValueError(f"cannot tell the format of {str(path)!r} from its suffix "
                     f"{suffix or '(none)'!r}: use one of {known}")


def write_graph(graph: object, path: str | Path) -> Path:
    """Write graph (a drawing from viz: draw(), draw_network(), draw_step(); or a Value: its
    draw()) to path, in the format its suffix names; returns the path written.

    .dot (or .gv) writes the DOT source and needs no Graphviz binary. .svg, .png and .pdf are
    rendered by dot; if dot is missing, the source is written beside the file (same name, .dot,
    never over an existing file) and GraphvizMissing is raised, saying how to install Graphviz.
    """
    source = viz.dot_source(viz.draw(graph) if isinstance(graph, Value) else graph, "write_graph")
    path = Path(path)
    fmt = output_format(path)
    if fmt == "dot":
        path.write_text(source, encoding="utf-8")
        return path
    path.write_bytes(render(source, fmt, path))
    return path


def render(source: str, fmt: str, path: Path, *options: str) -> bytes:
    """dot's output for DOT text in a format (svg, png, pdf), within RENDER_TIMEOUT seconds; options
    go to dot as they are (-Gdpi=72). path names the picture in errors (and gets the source
    beside it if dot is missing: GraphvizMissing); RenderError if dot fails or takes longer."""
    dot = shutil.which("dot")
    if dot is None:
        raise _source_beside(source, path)
    try:
        done = subprocess.run([dot, f"-T{fmt}", *options], input=source.encode("utf-8"),
                              capture_output=True, timeout=RENDER_TIMEOUT)
    except subprocess.TimeoutExpired:
        nodes = source.count("shape=record")
        raise RenderError(f"dot did not finish laying out {path} ({nodes} values) within "
                          f"{RENDER_TIMEOUT:g} s and was stopped: draw fewer nodes (max_nodes), "
                          f"or write the .dot source and render it yourself") from None
    if done.returncode:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RenderError(f"dot could not render {path}: {detail[0] if detail else done.returncode}")
    return done.stdout


def _source_beside(source: str, path: Path) -> GraphvizMissing:
    """Save the DOT source next to the file that could not be rendered; the error to raise."""
    dot_path = path.with_suffix(".dot")
    if dot_path.exists():
        return GraphvizMissing(path, dot_path, written=False)
    dot_path.write_text(source, encoding="utf-8")
    return GraphvizMissing(path, dot_path)


# ------------------------------------------------------------------------------------ animation

def write_animation(trace: BackwardTrace, path: str | Path, *, rankdir: str = "TB", decimals: int = 4,
                    seconds_per_step: float = 1.2, width: int = ANIMATION_WIDTH) -> Path:
    """An animated GIF of the backward pass: the graph after the forward pass, one frame per step
    of the ledger (viz.animation_frames), then draw() after backward(). Frames wider than `width`
    pixels are scaled down to it. Needs Graphviz's dot and Pillow (the `animation` extra); graphs
    above viz.MAX_NODES are refused (every frame draws every node)."""
    if not isinstance(trace, BackwardTrace):
        raise TypeError(f"write_animation: expected a BackwardTrace, got {type(trace).__name__}")
    path = Path(path)
    check_animation(path, len(trace.nodes), len(trace.steps))
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("an animation needs Pillow: pip install 'micrograd_bp[animation]' "
                          "(or pip install Pillow)") from None
    sources = [viz.dot_source(g) for g in viz.animation_frames(trace, rankdir=rankdir, decimals=decimals)]
    if shutil.which("dot") is None:
        raise _source_beside(sources[-1], path)
    # The frames stay PNG bytes until the GIF writer takes them one at a time: decoded, a wide
    # graph's frames took gigabytes (Pillow itself keeps one byte per pixel of each frame).
    pngs = [render(s, "png", path, f"-Gdpi={ANIMATION_DPI}") for s in sources]
    sizes = [Image.open(io.BytesIO(png)).size for png in pngs]  # reads the headers only
    full = (max(w for w, _ in sizes), max(h for _, h in sizes))
    scale = min(1.0, width / full[0])
    canvas_size = (round(full[0] * scale), round(full[1] * scale))

    def frame(png: bytes) -> Image.Image:  # one canvas size, the frame at the top left, white around
        canvas = Image.new("RGB", full, "white")
        canvas.paste(Image.open(io.BytesIO(png)).convert("RGB"), (0, 0))
        return canvas if scale == 1.0 else canvas.resize(canvas_size, Image.LANCZOS)

    step_ms = round(1000 * seconds_per_step)
    durations = [2 * step_ms] + [step_ms] * (len(pngs) - 2) + [4 * step_ms]
    frame(pngs[0]).save(path, format="GIF", save_all=True, append_images=(frame(p) for p in pngs[1:]),
                        duration=durations, loop=0)
    return path


def check_animation(path: str | Path, n_nodes: int | None = None, n_steps: int | None = None) -> None:
    """Refuse, before any work, a path that is not a .gif, a graph above the drawing's node limit,
    or one whose frames (n_steps + 2, each drawing every node) exceed MAX_ANIMATION_WORK."""
    if Path(path).suffix.lower() != ".gif":
        raise ValueError(f"an animation is written as a GIF: {str(path)!r} does not end in .gif")
    if n_nodes is not None and n_nodes > viz.MAX_NODES:
        raise ValueError(f"the graph has {n_nodes} nodes, more than the {viz.MAX_NODES} a drawing "
                         f"shows: an animation draws every node in every frame, so it is refused")
    if n_nodes is not None and n_steps is not None and n_nodes * (n_steps + 2) > MAX_ANIMATION_WORK:
        raise ValueError(f"an animation of this graph draws {n_steps + 2} frames of {n_nodes} nodes "
                         f"({n_nodes * (n_steps + 2):,} nodes in all, more than {MAX_ANIMATION_WORK:,}, "
                         f"about a minute of dot): animate a smaller graph, or step through this one "
                         f"in a live page (.html) or trace's text")
