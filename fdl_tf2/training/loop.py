"""The shared training loop: step-based, resumable, observable, model-agnostic.

    train_step = step.make_train_step(model, optimizer, compute_loss, steps_per_call=100)
    checkpointer = checkpoint.Checkpointer(workdir, model=model, optimizer=optimizer,
                                           step=train_step.step)
    summary = loop.train(train_step, batches, num_steps=10_000, checkpointer=checkpointer,
                         run_log=run_log, evaluate=evaluate, eval_every=500)

The loop counts optimizer steps, not epochs. `batches(start_step)` returns the dataset whose
k-th element is the batch of step `start_step + k`; it must be a pure function of seeds and
position (see `data.pipeline.epoch_stream`), which is what makes a resumed run continue exactly
as if it had never stopped. Epochs, where a task has them, are a logging view
(`steps_per_epoch`).

Every `eval_every` steps (and at the end) the loop logs the mean training loss and metrics of
the interval, calls `evaluate(step) -> {name: value}` (any metrics), calls the `on_eval`
hooks (which may change the learning rate or stop the run) and saves a checkpoint. Between
evaluations it saves every `Checkpointer.every_seconds`. SIGTERM and SIGINT save at the
current step and exit (`checkpoint.TrainingInterrupted`).
"""

import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from fdl_tf2.training.checkpoint import Checkpointer
from fdl_tf2.training.run_log import RunLog
from fdl_tf2.training.step import TrainStep

Batches = Callable[[int], tf.data.Dataset]
"""`start_step -> dataset of the batches of steps start_step, start_step + 1, ...`."""
Evaluate = Callable[[int], Mapping[str, float]]
"""`step -> {metric name: value}` on held-out data."""
OnEval = Callable[[int, Mapping[str, float]], bool | None]
"""`(step, evaluation) -> True to stop training`; may also change the optimizer or data."""


class NonFiniteLossError(FloatingPointError):
    """Training produced a NaN or infinite loss; the model holds the last good checkpoint."""


def learning_rate(optimizer: keras.optimizers.Optimizer) -> float:
    """The optimizer's current learning rate (a schedule's value at the current step)."""
    return float(optimizer.learning_rate.numpy())


def has_schedule(optimizer: keras.optimizers.Optimizer) -> bool:
    """True when the learning rate is a schedule (its value then moves with the step)."""
    inner = getattr(optimizer, "inner_optimizer", optimizer)  # LossScaleOptimizer
    return isinstance(inner.get_config().get("learning_rate"), dict)


class EarlyStopping(tf.Module):
    """`on_eval` hook: stops after `patience` evaluations without a new lowest `monitor`.

    Its state is variables, so checkpoint it with the run (`Checkpointer(early_stopping=...)`)
    and a resumed run keeps counting where it stopped. `patience=0` never stops.
    """

    def __init__(self, patience: int, monitor: str = "cost"):
        super().__init__(name="early_stopping")
        self.patience, self.monitor = patience, monitor
        self.best = tf.Variable(math.inf, dtype=tf.float64, trainable=False)
        self.waited = tf.Variable(0, dtype=tf.int64, trainable=False)

    def __call__(self, step: int, evaluation: Mapping[str, float]) -> bool:
        value = float(evaluation[self.monitor])
        if value < float(self.best):
            self.best.assign(value)
            self.waited.assign(0)
        else:
            self.waited.assign_add(1)
        return bool(self.patience) and int(self.waited) >= self.patience


class DecayOnPlateau(tf.Module):
    """`on_eval` hook: multiplies the learning rate by `factor` on a plateau.

    A plateau is `patience` evaluations in a row whose `monitor` is not below the best of the
    evaluations before them. After a decay the count starts again. State is in variables
    (checkpoint it). The book's NMT rule is a different one: `DecayAboveRecentMax`.

    Raises:
      ValueError: the optimizer's learning rate is a schedule (it cannot be assigned).
    """

    def __init__(
        self,
        optimizer: keras.optimizers.Optimizer,
        *,
        factor: float = 0.99,
        patience: int = 3,
        monitor: str = "cost",
        min_learning_rate: float = 0.0,
    ):
        super().__init__(name="decay_on_plateau")
        if has_schedule(optimizer):
            raise ValueError("DecayOnPlateau needs a constant learning rate, not a schedule.")
        if not 0.0 < factor < 1.0:
            raise ValueError(f"factor must be in (0, 1), got {factor}.")
        self.optimizer, self.factor, self.patience = optimizer, factor, patience
        self.monitor, self.min_learning_rate = monitor, min_learning_rate
        self.best = tf.Variable(math.inf, dtype=tf.float64, trainable=False)
        self.waited = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.decays = tf.Variable(0, dtype=tf.int64, trainable=False)

    def __call__(self, step: int, evaluation: Mapping[str, float]) -> None:
        value = float(evaluation[self.monitor])
        if value < float(self.best):
            self.best.assign(value)
            self.waited.assign(0)
            return
        self.waited.assign_add(1)
        if int(self.waited) >= self.patience:
            rate = max(learning_rate(self.optimizer) * self.factor, self.min_learning_rate)
            self.optimizer.learning_rate.assign(rate)
            self.waited.assign(0)
            self.decays.assign_add(1)


class DecayAboveRecentMax(tf.Module):
    """`on_eval` hook: the book's NMT rule (Chapter 7, `translate.py`, seed lines 4357-4489).

    After each checkpoint interval, `if len(previous_losses) > 2 and loss >
    max(previous_losses[-3:])`: the learning rate is multiplied by `factor` (0.99); then the
    loss joins `previous_losses`. `monitor` names the evaluation value compared, by default
    "train_cost", the interval's mean training loss, as in the book. The last `window` values
    are variables (checkpoint the hook), so a resumed run applies the rule as if it had never
    stopped.

    Raises:
      ValueError: the optimizer's learning rate is a schedule (it cannot be assigned).
    """

    def __init__(
        self,
        optimizer: keras.optimizers.Optimizer,
        *,
        factor: float = 0.99,
        window: int = 3,
        monitor: str = "train_cost",
    ):
        super().__init__(name="decay_above_recent_max")
        if has_schedule(optimizer):
            raise ValueError("DecayAboveRecentMax needs a constant learning rate, not a schedule.")
        if not 0.0 < factor < 1.0:
            raise ValueError(f"factor must be in (0, 1), got {factor}.")
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}.")
        self.optimizer, self.factor, self.window, self.monitor = optimizer, factor, window, monitor
        self.recent = tf.Variable(tf.zeros([window], tf.float64), trainable=False)
        self.seen = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.decays = tf.Variable(0, dtype=tf.int64, trainable=False)

    def __call__(self, step: int, evaluation: Mapping[str, float]) -> None:
        value = float(evaluation[self.monitor])
        recent = self.recent.numpy()
        # The book needs more than `window` previous losses (`len(previous_losses) > 2`).
        if int(self.seen) >= self.window and value > recent.max():
            self.optimizer.learning_rate.assign(learning_rate(self.optimizer) * self.factor)
            self.decays.assign_add(1)
        self.recent.assign(np.append(recent[1:], value))
        self.seen.assign_add(1)


def step_line(report: Mapping[str, Any]) -> str:
    """nanoGPT's console line: `step 500: train cost 1.2345, validation cost 1.3456, ...`."""
    parts = [f"step {report['step']}: train cost {report['train']['cost']:.4f}"]
    for name, value in report.get("validation", {}).items():
        if isinstance(value, (int, float)):
            parts.append(f"validation {name} {value:.4f}")
    return ", ".join(parts) + f"  ({report['steps_per_sec']:,.0f} steps/s)"


def _means(totals: Mapping[str, tuple[float, float]]) -> dict[str, float]:
    means = {name: s / c if c else math.nan for name, (s, c) in totals.items()}
    return {"cost": means.pop("loss"), **means}


def train(
    train_step: TrainStep,
    batches: Batches,
    *,
    num_steps: int,
    checkpointer: Checkpointer,
    run_log: RunLog,
    evaluate: Evaluate | None = None,
    eval_every: int = 0,
    on_eval: OnEval | Sequence[OnEval] = (),
    steps_per_epoch: int = 0,
    histogram_every: int = 1,
    examples_per_step: int = 0,
    console: Callable[[Mapping[str, Any]], str] = step_line,
    resume_hint: str = "",
) -> dict[str, Any]:
    """Trains until `train_step.step` reaches `num_steps`, resuming from the checkpointer.

    Args:
      train_step: the compiled step (`step.make_train_step`); its `step` variable and the model
        and optimizer must be among `checkpointer`'s trackables.
      batches: `start_step -> dataset` of batches from that step on (see the module doc).
      num_steps: total optimizer steps of the run.
      checkpointer: restores at the start; saves at every evaluation, every
        `checkpointer.every_seconds`, at the end and on SIGTERM / SIGINT.
      run_log: TensorBoard, metrics.jsonl and the console.
      evaluate: `step -> metrics`, called every `eval_every` steps and at the end.
      eval_every: steps between evaluations (and interval reports); 0 means `steps_per_epoch`,
        or only at the end when that is 0 too.
      on_eval: hooks `(step, evaluation) -> stop?`, called after each evaluation in order;
        `evaluation` holds the validation metrics and the training means as `train_<name>`.
      steps_per_epoch: > 0 adds `epoch` to every record (a logging view only).
      histogram_every: evaluations between weight histograms; 0 disables them.
      examples_per_step: > 0 also logs examples/s.
      console: `report -> line` printed at every evaluation (`step_line` by default).
      resume_hint: the command that resumes the run, printed when a signal stops it.

    Returns:
      `steps`, `train_seconds`, `steps_per_sec`, `examples_per_sec`, `stopped_early`, and the
      last `train` means and `validation` metrics (absent when the run had already finished:
      they are in metrics.jsonl). A train record's `learning_rate` is the rate its steps used,
      before that evaluation's hooks ran.

    Raises:
      NonFiniteLossError: a step produced a NaN/inf loss; the model is restored to the last
        checkpoint, which stays on disk.
      checkpoint.TrainingInterrupted: SIGTERM or SIGINT, after saving at the current step.
      KeyboardInterrupt: raised elsewhere during training, after saving at the current step.
      ValueError: `batches` ran out before `num_steps`.
    """
    hooks = [on_eval] if callable(on_eval) else list(on_eval)
    if getattr(checkpointer.checkpoint, "step", None) is not train_step.step:
        raise ValueError(
            "The checkpointer must track the step counter: Checkpointer(..., "
            "step=train_step.step); otherwise a resumed run would restart at step 0."
        )
    eval_every = eval_every or steps_per_epoch or num_steps
    if eval_every <= 0:
        raise ValueError(f"eval_every must be positive, got {eval_every}.")
    optimizer = train_step.optimizer
    requested_rate = learning_rate(optimizer)
    restored = checkpointer.restore()
    step = int(train_step.step)
    if restored:
        run_log.print(f"Resumed from {restored} (step {step}).")
        if not has_schedule(optimizer) and learning_rate(optimizer) != requested_rate:
            run_log.print(
                f"Note: the checkpoint's learning rate {learning_rate(optimizer):g} replaces "
                f"the requested {requested_rate:g} (resuming restores the optimizer state)."
            )
    summary: dict[str, Any] = {"stopped_early": False}
    train_seconds, steps_run = 0.0, 0
    if step >= num_steps:
        return _summary(summary, step, train_seconds, steps_run, examples_per_step)

    dataset = train_step.distribute(batches(step).prefetch(tf.data.AUTOTUNE))
    iterator = iter(dataset)
    traced = False
    evaluations = 0
    with checkpointer.catch_signals():
        try:
            while step < num_steps:
                interval_end = min((step // eval_every + 1) * eval_every, num_steps)
                totals: dict[str, tuple[float, float]] = {}
                interval_length = interval_end - step
                interval_steps, interval_start = 0, time.perf_counter()
                while step < interval_end:
                    num = min(train_step.steps_per_call, interval_end - step)
                    if not traced:
                        run_log.trace_on()
                    values = train_step(iterator, num)
                    if not traced:
                        run_log.trace_export("train_steps")
                        traced = True
                    ran = int(values["steps"])
                    step = int(train_step.step)
                    if not bool(values["finite"]):
                        _restore_after_nan(checkpointer, run_log, step, steps_per_epoch)
                    if ran < num:
                        raise ValueError(
                            f"The training data ran out at step {step}, before num_steps="
                            f"{num_steps}; batches(start_step) must yield a batch for every "
                            "step."
                        )
                    for name, value in values.items():
                        if name not in ("steps", "finite"):
                            s, c = totals.get(name, (0.0, 0.0))
                            totals[name] = (s + float(value[0]), c + float(value[1]))
                    interval_steps += ran
                    elapsed = time.perf_counter() - interval_start
                    loss_sum, loss_count = totals["loss"]
                    run_log.progress(
                        interval_steps,
                        interval_length,
                        interval_steps / max(elapsed, 1e-9),
                        loss_sum / max(loss_count, 1e-12),
                    )
                    checkpointer.stop_if_interrupted(step, resume_hint)
                    if step < interval_end:
                        checkpointer.maybe_save(step)
                seconds = time.perf_counter() - interval_start
                train_seconds += seconds
                steps_run += interval_steps
                report = _report(
                    run_log,
                    step=step,
                    train=_means(totals),
                    validation=dict(evaluate(step)) if evaluate is not None else None,
                    steps_per_sec=interval_steps / seconds,
                    examples_per_step=examples_per_step,
                    learning_rate=learning_rate(optimizer),
                    steps_per_epoch=steps_per_epoch,
                )
                run_log.print(console(report))
                summary.update(train=report["train"])
                if "validation" in report:
                    summary["validation"] = report["validation"]
                evaluations += 1
                if histogram_every and evaluations % histogram_every == 0:
                    run_log.histograms(step, train_step.model)
                stop = False
                # Hooks see the validation metrics (the training means when there are none),
                # and the training means as "train_<name>".
                seen = {f"train_{name}": value for name, value in report["train"].items()}
                seen.update(report.get("validation", report["train"]))
                for hook in hooks:  # Every hook runs, even after one asked to stop.
                    stop = bool(hook(step, seen)) or stop
                checkpointer.save(step)
                checkpointer.stop_if_interrupted(step, resume_hint)
                if stop:
                    run_log.print(f"Stopped by an evaluation hook at step {step}.")
                    summary["stopped_early"] = True
                    break
        except KeyboardInterrupt:
            step = int(train_step.step)
            path = checkpointer.save(step)
            run_log.print(f"Interrupted: checkpoint saved at step {step} ({path}).")
            if resume_hint:
                run_log.print(f"Resume with: {resume_hint}")
            raise
    run_log.flush()
    return _summary(summary, step, train_seconds, steps_run, examples_per_step)


def _restore_after_nan(checkpointer, run_log, step, steps_per_epoch) -> None:
    latest = checkpointer.latest
    if latest:
        checkpointer.checkpoint.restore(latest)
    where = f" (epoch {(step - 1) // steps_per_epoch + 1})" if steps_per_epoch else ""
    run_log.flush()
    raise NonFiniteLossError(
        f"Non-finite loss at step {step}{where}; training stopped. Last good checkpoint: "
        f"{latest or 'none'} (the model now holds it)."
    )


def _report(
    run_log: RunLog,
    *,
    step: int,
    train: dict[str, float],
    validation: dict[str, float] | None,
    steps_per_sec: float,
    examples_per_step: int,
    learning_rate: float,
    steps_per_epoch: int,
) -> dict[str, Any]:
    """Logs one interval (TensorBoard, metrics.jsonl); returns the report for the console."""
    epoch: dict[str, Any] = {}
    if steps_per_epoch:
        whole, part = divmod(step, steps_per_epoch)
        epoch = {"epoch": whole if part == 0 else step / steps_per_epoch}
    rates = {"steps_per_sec": steps_per_sec}
    if examples_per_step:
        rates["examples_per_sec"] = steps_per_sec * examples_per_step
    run_log.scalars(step, "train", **epoch, **train, learning_rate=learning_rate, **rates)
    report: dict[str, Any] = {"step": step, **epoch, "train": train, **rates}
    if validation is not None:
        run_log.scalars(step, "validation", **epoch, **validation)
        report["validation"] = validation
    return report


def _summary(summary, step, train_seconds, steps_run, examples_per_step) -> dict[str, Any]:
    steps_per_sec = steps_run / train_seconds if train_seconds else math.nan
    summary.update(
        steps=step,
        train_seconds=train_seconds,
        steps_per_sec=steps_per_sec,
        examples_per_sec=steps_per_sec * examples_per_step if examples_per_step else math.nan,
    )
    return summary
