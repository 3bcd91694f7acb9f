"""`tf.distribute` strategies by name: default, mirrored, multi_worker.

`multi_worker` reads the cluster from `$TF_CONFIG`, e.g. for two workers on this machine:

    TF_CONFIG='{"cluster": {"worker": ["localhost:12345", "localhost:12346"]},
                "task": {"type": "worker", "index": 0}}'

Every worker runs the same command; worker 0 is the chief that writes logs, checkpoints and
exports (the others write to a scratch directory).
"""

import json
import os

import tensorflow as tf

STRATEGIES = ("default", "mirrored", "multi_worker")


def make_strategy(name: str) -> tf.distribute.Strategy:
    """Builds the named strategy. Create the model and optimizer inside `strategy.scope()`.

    Raises:
      ValueError: an unknown name, or multi_worker without a `$TF_CONFIG` cluster.
    """
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        if "cluster" not in json.loads(os.environ.get("TF_CONFIG", "{}")):
            raise ValueError("strategy=multi_worker needs $TF_CONFIG with a 'cluster' entry.")
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"Unknown strategy {name!r}; expected one of {STRATEGIES}.")


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """True on the worker that owns logs, checkpoints and exports."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    return task_type == "chief" or (task_type == "worker" and task_id == 0)


def is_distributed(strategy: tf.distribute.Strategy) -> bool:
    return strategy.num_replicas_in_sync > 1 or not isinstance(
        strategy, type(tf.distribute.get_strategy())
    )
