"""Pictures of graphs, backprop steps, unrolled recurrent nets and training curves.

Graph drawings (``draw_graph``, ``draw_step``, ``draw_unrolled``, ``draw_rolled``) return a
``graphviz.Digraph``: Jupyter shows it inline, ``.source`` is the DOT text, and
``viz.save(g, "graph.svg")`` writes it (Graphviz's ``dot`` renders; ``.dot`` needs none).
Plots (``plot_history``, ``plot_curve``, ``show_images``) return matplotlib Figures.
The ``stepgrad`` command lives in ``viz.cli``.
"""
from stepgrad._shadow import check_siblings as _check_siblings  # first: a clear error
_check_siblings(__name__, __file__)  # if a local file hides a package this one needs
from .graph import draw_graph, draw_step
from .plots import plot_curve, plot_history, show_images
from .recurrent import draw_rolled, draw_unrolled
from .render import GraphvizNotFound, save

__all__ = ["GraphvizNotFound", "draw_graph", "draw_rolled", "draw_step", "draw_unrolled",
           "plot_curve", "plot_history", "save", "show_images"]
