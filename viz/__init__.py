"""Pictures of graphs, backprop steps, unrolled recurrent nets and training curves.

(Being built: see the viz issue. The ``stepgrad`` command lives in ``viz.cli``.)
"""
from .graph import draw_graph, draw_step
from .plots import plot_curve, plot_history, show_images
from .recurrent import draw_rolled, draw_unrolled
from .render import GraphvizNotFound, save

__all__ = ["GraphvizNotFound", "draw_graph", "draw_rolled", "draw_step", "draw_unrolled",
           "plot_curve", "plot_history", "save", "show_images"]
