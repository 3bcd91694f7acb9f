"""Helpers shared by tests (no `keras.src` imports): `from tests.helpers import weights_equal`."""

import keras
import numpy as np


def weights_equal(first: keras.Model, second: keras.Model) -> bool:
    """True when two models hold bit-identical weights (used by resume tests).

    Args:
      first, second: models with the same architecture.

    Returns:
      Whether every weight array of `first` equals the matching one of `second` exactly.

    Raises:
      ValueError: the models have different numbers of weight arrays.
    """
    return all(
        np.array_equal(np.asarray(a), np.asarray(b))
        for a, b in zip(first.get_weights(), second.get_weights(), strict=True)
    )


def train_classifier(
    model, optimizer, data, workdir, *, batch_size, epochs, steps_per_call=40, keep=1
) -> dict:
    """Trains with the engine as the classifier recipe wires it, without validation.

    Returns:
      `loop.train`'s summary.
    """
    from fdl_tf2.training import checkpoint, classifier, loop, step
    from fdl_tf2.training.run_log import RunLog

    run_log = RunLog(workdir, quiet=True, tensorboard=False)
    train_step = step.make_train_step(
        model, optimizer, classifier.classification_loss, steps_per_call=steps_per_call
    )
    checkpointer = checkpoint.Checkpointer(
        workdir, keep=keep, quiet=True, model=model, optimizer=optimizer, step=train_step.step
    )
    try:
        return loop.train(
            train_step,
            data.train_stream(batch_size=batch_size, seed=0),
            num_steps=epochs * data.steps_per_epoch(batch_size),
            checkpointer=checkpointer,
            run_log=run_log,
            steps_per_epoch=data.steps_per_epoch(batch_size),
            histogram_every=0,
        )
    finally:
        run_log.close()


def evaluate_classifier(model, dataset) -> dict[str, float]:
    """`{"cost", "accuracy", "error"}` of `model` over `dataset`."""
    from fdl_tf2.training import classifier, step

    return step.make_evaluate(model, classifier.classification_loss)(dataset)
