"""Plots and videos of a run, made after the run from its records (never inside the control tick).

- `neuroctl.viz.info`: `RunInfo`, what the pictures need to know beyond the records (labels, units,
  pushes, neuron groups), read from the environment and the controller.
- `neuroctl.viz.plots`: the run directory's PNG plots (matplotlib, Agg, no pyplot).
- `neuroctl.viz.video`: an mp4 or gif of the run rendered from the logged states, with an overlay.

matplotlib and imageio are optional (the `viz` extra); nothing here is imported by `import neuroctl`.
"""
