"""Pictures of graphs, backprop steps, unrolled recurrent nets and training curves.

(Being built: see the viz issue. The ``stepgrad`` command lives in ``viz.cli``.)
"""
