"""Book experiments: one thin module per experiment, `experiments/chNN_<topic>/<name>.py`."""
