"""Mixed precision: the dtype policy and the loss-scaling optimizer wrapper.

Only experiments (and the CLI) call `use_mixed_precision`: the Keras dtype policy is
process-global, so library code never sets it. Models keep their logits in float32.
"""

import keras

POLICIES = ("float32", "mixed_float16", "mixed_bfloat16")


def use_mixed_precision(
    policy: str, optimizer: keras.optimizers.Optimizer
) -> keras.optimizers.Optimizer:
    """Sets the global dtype policy; wraps `optimizer` for loss scaling under float16.

    Call it before building the model. Returns the optimizer to train with.

    Raises:
      ValueError: an unknown policy name.
    """
    if policy not in POLICIES:
        raise ValueError(f"Unknown precision policy {policy!r}; expected one of {POLICIES}.")
    keras.config.set_dtype_policy(policy)
    if policy == "mixed_float16" and not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer
