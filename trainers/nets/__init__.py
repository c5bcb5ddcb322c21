"""The torch networks of the neural trainers, one module per model.

The trainer modules (`trainers/<model>.py`) import these only inside `fit`, so reading a
trainer's parameter schema (`tuner validate`, the parent of a sweep) never imports torch; a
worker imports them before its first trial through the trainer's `warm_imports`. The registry
reads only the top-level `trainers/*.py`, not this package.
"""
