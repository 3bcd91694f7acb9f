"""MultiWorkerMirroredStrategy: two worker processes on loopback train in lock-step."""

import json
import os
import socket
import subprocess
import sys

_WORKER = r"""
import os, sys
import keras, numpy as np, tensorflow as tf
from fdl_tf2.data import mnist
from fdl_tf2.models import feedforward
from fdl_tf2.training import checkpoint, classifier, distribute, loop, step
from fdl_tf2.training.run_log import RunLog

strategy = distribute.make_strategy("multi_worker")
keras.utils.set_random_seed(0)
data = mnist.classification_data(dataset="synthetic", num_train_examples=400)
with strategy.scope():
    model = feedforward.build_mlp((16,), seed=0)
    optimizer = keras.optimizers.SGD(0.05)
run_log = RunLog(sys.argv[1], quiet=True, tensorboard=False)
train_step = step.make_train_step(model, optimizer, classifier.classification_loss,
                                  steps_per_call=5, strategy=strategy)
checkpointer = checkpoint.Checkpointer(sys.argv[1], quiet=True, model=model,
                                       optimizer=optimizer, step=train_step.step)
summary = loop.train(
    train_step, data.train_stream(batch_size=40, seed=0), num_steps=20,
    checkpointer=checkpointer, run_log=run_log, steps_per_epoch=10, histogram_every=0,
)
run_log.close()
weights = np.concatenate([w.ravel() for w in model.get_weights()])
print("RESULT", strategy.num_replicas_in_sync, summary["steps"], float(weights.sum()),
      float(np.abs(weights).sum()), distribute.is_chief(strategy))
"""


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for handle in sockets:
        handle.bind(("127.0.0.1", 0))
    ports = [handle.getsockname()[1] for handle in sockets]
    for handle in sockets:
        handle.close()
    return ports


def test_two_workers_on_loopback_end_with_identical_weights(tmp_path):
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    processes = []
    for index in range(2):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        environment = {
            **os.environ,
            "TF_CONFIG": json.dumps(tf_config),
            "TF_CPP_MIN_LOG_LEVEL": "3",
            "CUDA_VISIBLE_DEVICES": "",
        }
        processes.append(
            subprocess.Popen(
                [sys.executable, "-c", _WORKER, str(tmp_path / f"worker{index}")],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=environment,
            )
        )
    results = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=240)
        assert process.returncode == 0, stderr[-3000:]
        results.append(next(line for line in stdout.splitlines() if line.startswith("RESULT")))
    first, second = (line.split() for line in results)
    assert first[1] == second[1] == "2"  # Two replicas in sync.
    assert first[2] == second[2] == "20"  # Two epochs of ten global steps.
    assert first[3:5] == second[3:5]  # Bit-identical weights on both workers.
    assert [first[5], second[5]] == ["True", "False"]  # Worker 0 is the chief.
