"""Learning-rate schedules named in experiment configs.

The book trains with constant learning rates. The `cpu` presets of the longer chapter-5 runs
use cosine decay instead, which reaches the book's accuracy in a fraction of the steps.
"""

import keras

SCHEDULES = ("constant", "cosine")


def learning_rate(
    name: str, base_rate: float, total_steps: int
) -> float | keras.optimizers.schedules.LearningRateSchedule:
    """`base_rate`, constant or decayed to 0 by a half cosine over `total_steps`.

    Raises:
      ValueError: an unknown schedule name or a non-positive `total_steps` for a decay.
    """
    if name not in SCHEDULES:
        raise ValueError(f"Unknown learning-rate schedule {name!r}; expected one of {SCHEDULES}.")
    if name == "constant":
        return base_rate
    if total_steps <= 0:
        raise ValueError(f"A {name} schedule needs total_steps > 0, got {total_steps}.")
    return keras.optimizers.schedules.CosineDecay(base_rate, decay_steps=total_steps)
