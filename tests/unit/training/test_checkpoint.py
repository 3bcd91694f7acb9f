"""Runs that survive faults: SIGTERM, a truncated checkpoint, a second process, lost time."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import keras
import pytest
import tensorflow as tf

from fdl_tf2.data import mnist
from fdl_tf2.models import feedforward
from fdl_tf2.training import checkpoint, classifier, loop, step
from fdl_tf2.training.run_log import RunLog
from tests.helpers import weights_equal

_BATCH = 50
_STEPS_PER_EPOCH = 40
_REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def data():
    return mnist.classification_data(dataset="synthetic")


def _engine(workdir, model, *, every_seconds=0.0, keep=5, steps_per_call=15):
    optimizer = keras.optimizers.SGD(0.05)
    train_step = step.make_train_step(
        model, optimizer, classifier.classification_loss, steps_per_call=steps_per_call
    )
    checkpointer = checkpoint.Checkpointer(
        workdir,
        keep=keep,
        every_seconds=every_seconds,
        quiet=True,
        model=model,
        optimizer=optimizer,
        step=train_step.step,
    )
    return train_step, checkpointer


def _train(workdir, model, data, *, num_steps=80, **engine_options):
    train_step, checkpointer = _engine(workdir, model, **engine_options)
    run_log = RunLog(workdir, quiet=True)
    try:
        return loop.train(
            train_step,
            data.train_stream(batch_size=_BATCH, seed=0),
            num_steps=num_steps,
            checkpointer=checkpointer,
            run_log=run_log,
            steps_per_epoch=_STEPS_PER_EPOCH,
            histogram_every=0,
        )
    finally:
        run_log.close()


def _checkpoint_steps(workdir) -> list[int]:
    state = tf.train.get_checkpoint_state(str(Path(workdir) / "checkpoints"))
    return sorted(int(path.rsplit("-", 1)[1]) for path in state.all_model_checkpoint_paths)


def test_sigterm_mid_epoch_saves_at_the_current_step_and_resumes_bit_identically(
    tmp_path, data, monkeypatch
):
    keras.utils.set_random_seed(1)
    reference = feedforward.build_mlp((32,))
    _train(tmp_path / "straight", reference, data)

    calls = {"count": 0}
    original_progress = RunLog.progress

    def sigterm_on_fourth_call(self, *args):  # A scheduler stops the job during epoch 2.
        original_progress(self, *args)
        calls["count"] += 1
        if calls["count"] == 4:  # Calls end at steps 15, 30, 40 (the epoch), 55.
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(RunLog, "progress", sigterm_on_fourth_call)
    keras.utils.set_random_seed(1)
    with pytest.raises(checkpoint.TrainingInterrupted) as stopped:
        _train(tmp_path / "resumed", feedforward.build_mlp((32,)), data)
    assert stopped.value.code == 128 + signal.SIGTERM and stopped.value.step == 55
    assert _checkpoint_steps(tmp_path / "resumed") == [40, 55]  # Epoch 1, then mid-epoch 2.
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # The handler is removed.
    monkeypatch.undo()

    keras.utils.set_random_seed(99)  # Resumption must not depend on the fresh init.
    resumed = feedforward.build_mlp((32,), seed=7)
    summary = _train(tmp_path / "resumed", resumed, data)
    assert summary["steps"] == 80
    assert weights_equal(reference, resumed)


def test_a_truncated_latest_checkpoint_falls_back_to_the_previous_one(tmp_path, data):
    _train(tmp_path, feedforward.build_mlp((32,)), data)
    assert _checkpoint_steps(tmp_path) == [40, 80]
    data_file = next((tmp_path / "checkpoints").glob("ckpt-80.data-*"))
    data_file.write_bytes(data_file.read_bytes()[: data_file.stat().st_size // 2])

    model = feedforward.build_mlp((32,))
    train_step, checkpointer = _engine(tmp_path, model)
    with pytest.warns(RuntimeWarning, match=r"ckpt-80 cannot be read"):
        restored = checkpointer.restore()
    assert restored.endswith("ckpt-40") and int(train_step.step) == 40
    # The run goes on from there and overwrites the corrupt checkpoint.
    summary = _train(tmp_path, model, data)
    assert summary["steps"] == 80 and _checkpoint_steps(tmp_path) == [40, 80]


def test_no_readable_checkpoint_is_a_clear_error(tmp_path, data):
    _train(tmp_path, feedforward.build_mlp((32,)), data, num_steps=40)
    for path in (tmp_path / "checkpoints").glob("ckpt-40.data-*"):
        path.write_bytes(b"")
    _, checkpointer = _engine(tmp_path, feedforward.build_mlp((32,)))
    with pytest.warns(RuntimeWarning), pytest.raises(RuntimeError, match="No readable checkpoint"):
        checkpointer.restore()


def test_time_based_checkpoints_are_written_between_evaluations(tmp_path, data):
    _train(tmp_path, feedforward.build_mlp((32,)), data, every_seconds=1e-9, keep=20)
    # Calls of 15 steps inside 40-step epochs end at 15, 30, 40 (the epoch), 55, 70, 80.
    assert _checkpoint_steps(tmp_path) == [15, 30, 40, 55, 70, 80]


def test_without_time_based_saves_only_evaluations_checkpoint(tmp_path, data):
    _train(tmp_path, feedforward.build_mlp((32,)), data, every_seconds=0.0, keep=20)
    assert _checkpoint_steps(tmp_path) == [40, 80]


_HOLD_LOCK = """
import sys, time
from fdl_tf2.training import checkpoint
checkpoint.lock_workdir(sys.argv[1])
print("locked", flush=True)
time.sleep(120)
"""


def test_a_second_process_is_refused_and_a_dead_holder_is_taken_over(tmp_path, capsys):
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=_REPO,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(checkpoint.WorkdirLockedError, match=f"in use by process {holder.pid}"):
            checkpoint.lock_workdir(tmp_path)
    finally:
        holder.send_signal(signal.SIGKILL)  # kill -9: no clean-up runs in the holder.
        holder.wait()
    checkpoint.lock_workdir(tmp_path)
    try:
        assert f"from process {holder.pid}, which has ended" in capsys.readouterr().out
        assert (tmp_path / ".lock").read_text().strip() == str(os.getpid())
        checkpoint.lock_workdir(tmp_path)  # Re-entrant within the process.
    finally:
        checkpoint.unlock_workdir(tmp_path)


_TOY_RUN = textwrap.dedent(
    """
    import sys
    import keras
    from fdl_tf2 import config as config_lib
    from fdl_tf2.data import mnist
    from fdl_tf2.models import feedforward
    from fdl_tf2.training import classifier, runs

    config = config_lib.ExportConfig(workdir=sys.argv[1], steps_per_execution=1, export=False,
                                     histogram_every=0, log_every_steps=0)
    context = runs.start_run(config, "toy.sigterm")
    data = mnist.classification_data(dataset="synthetic")
    model = feedforward.build_mlp((32,))
    summary = classifier.train_classifier(config, context, model, keras.optimizers.SGD(0.05),
                                          data, epochs=int(sys.argv[2]), batch_size=50)
    runs.close_run(context)
    print("finished at step", summary["steps"], flush=True)
    """
)


def _start_toy(workdir, epochs):
    return subprocess.Popen(
        [sys.executable, "-u", "-c", _TOY_RUN, str(workdir), str(epochs)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=_REPO,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )


def _wait_for(process, prefix, timeout=120):
    lines, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith(prefix):
            return lines
    raise AssertionError(f"no line starting with {prefix!r}:\n{''.join(lines)}")


def test_a_real_process_stopped_by_sigterm_exits_143_and_names_the_resume_command(
    tmp_path,
):
    workdir = tmp_path / "run"
    first = _start_toy(workdir, epochs=400)  # Far more steps than the test waits for.
    try:
        _wait_for(first, "Epoch: 0001")
        second = subprocess.run(
            [sys.executable, "-c", _TOY_RUN, str(workdir), "1"],
            capture_output=True,
            text=True,
            cwd=_REPO,
        )
        assert second.returncode != 0
        assert f"in use by process {first.pid}" in second.stderr
        first.send_signal(signal.SIGTERM)
        output = first.communicate(timeout=60)[0]
    finally:
        first.kill()
    assert first.returncode == 143, output
    assert "SIGTERM: checkpoint saved at step" in output
    assert "Resume with: python -m fdl_tf2 run toy.sigterm " in output
    assert f"--workdir={workdir}" in output
    # It saved where it stopped (resuming from there is tested in-process above).
    saved = max(_checkpoint_steps(workdir))
    assert 40 <= saved < 400 * 40
    assert f"checkpoint saved at step {saved} " in output
