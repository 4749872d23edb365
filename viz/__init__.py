"""Pictures of graphs, backprop steps, unrolled recurrent nets and training curves.

Graph drawings (``draw_graph``, ``draw_step``, ``draw_unrolled``, ``draw_rolled``) return a
``graphviz.Digraph``: Jupyter shows it inline as SVG (tooltips work), ``.source`` is the DOT
text, and ``viz.save(g, "graph.svg")`` writes it (Graphviz's ``dot`` renders; ``.dot`` needs
none). Every default picture fits 1,600 × 1,000 px at 96 dpi with text ≥ 10 pt, or says in
its caption what was left out. ``viz.player(root)`` steps through backprop in one
self-contained HTML page. Plots (``plot_history``, ``plot_curve``, ``show_images``) are
matplotlib figures. The colours are defined once, in ``viz.style``. The ``stepgrad`` command
lives in ``viz.cli``.
"""
from stepgrad._shadow import check_siblings as _check_siblings  # first: a clear error
_check_siblings(__name__, __file__)  # if a local file hides a package this one needs
from .graph import draw_graph, draw_step, plot_model
from .player import Player, player
from .plots import plot_curve, plot_history, show_images
from .recurrent import draw_rolled, draw_unrolled
from .render import GraphvizNotFound, save
from .text import rule, step_text

__all__ = ["GraphvizNotFound", "Player", "draw_graph", "draw_rolled", "draw_step",
           "draw_unrolled", "player", "plot_curve", "plot_history", "plot_model", "rule",
           "save", "show_images", "step_text"]
