"""
Title: Batch normalisation speeds up training: the CIFAR-10 convnet with and without BN
Book: Chapter 5, "Visualizing Learning in Convolutional Networks" (seed lines 2424-2433)
Description: Fig. 5.17: validation accuracy vs minibatches for the two `ch05.cifar_convnet` runs.
Expected result: book: 90% after ~80k minibatches without BN, ~14k with BN (5.7x); see below.

The book's figures were measured on single 128-image test batches (spec ch04-05 §5.2), so its
90% threshold is out of reach on the full validation set; this experiment marks the first step
at which each run's validation accuracy (5,000 held-out training images) reaches `threshold`
(70% by default) and reports the ratio. It either reads two finished runs
(`--without_bn_run=DIR --with_bn_run=DIR`, e.g. the `cpu` and `cpu_bn` presets of
`ch05.cifar_convnet`) or trains both itself with the `preset` of that experiment.
"""

import dataclasses
import json
from pathlib import Path

from fdl_tf2 import config as config_lib
from fdl_tf2.training import records, runs
from fdl_tf2.viz import curves

from . import cifar_convnet

EXPERIMENT_ID = "ch05.bn_comparison"

FIGURES = ("fig5_17_bn_comparison",)  # Written to figures/ by every run (smoke-tested).

_WITHOUT_BN = dict(batch_norm="none", learning_rate=1e-3, dropout_rate=0.5)  # convnet_cifar.py


@dataclasses.dataclass(frozen=True)
class Config(config_lib.ExportConfig):
    """Defaults compare two finished runs if given, else train the `cpu` presets."""

    without_bn_run: str = ""  # Run directory of a finished no-BN ch05.cifar_convnet run.
    with_bn_run: str = ""  # Run directory of a finished BN ch05.cifar_convnet run.
    preset: str = "cpu"  # ch05.cifar_convnet preset trained when a run directory is not given.
    bn_kind: str = "keras"  # BN of the trained BN variant: "keras" or "book" (from scratch).
    threshold: float = 0.7  # Validation accuracy whose first crossing is compared.


CONFIGS = {
    # Trains both on synthetic data; seconds. The trained variants are not exported.
    "smoke": dict(preset="smoke", threshold=0.5, export=False),
    "book": dict(preset="book"),  # Two 1000-epoch runs: a GPU job.
    "cpu": dict(),  # Two 30-epoch runs, about an hour each on 2 cores.
    "quick": dict(preset="quick", threshold=0.4),  # `make ch05`: two 3-epoch runs on real data.
}


def _variant_config(config: Config, batch_norm: bool, workdir: Path) -> cifar_convnet.Config:
    """The ch05.cifar_convnet config of one variant of `config.preset`."""
    overrides = dict(cifar_convnet.CONFIGS[config.preset])
    overrides.update(
        dict(cifar_convnet.BN_SETTINGS, batch_norm=config.bn_kind) if batch_norm else _WITHOUT_BN
    )
    export = config.export and overrides.pop("export", True)  # Quick presets do not export.
    # Every run-level and engine field of this experiment passes through to both variants.
    shared = {
        field.name: getattr(config, field.name)
        for field in dataclasses.fields(config_lib.ExportConfig)
        if field.name not in ("workdir", "export")
    }
    return config_lib.replace(
        cifar_convnet.Config(), **{**overrides, **shared}, workdir=str(workdir), export=export
    )


def _run_dir(config: Config, given: str, batch_norm: bool, workdir: Path) -> Path:
    if given:
        run_dir = Path(given)
        if not (run_dir / "results.json").is_file():
            raise FileNotFoundError(f"{run_dir} has no results.json: not a finished run.")
        return run_dir
    run_dir = workdir / ("with_bn" if batch_norm else "without_bn")
    cifar_convnet.main(_variant_config(config, batch_norm, run_dir))
    return run_dir


def main(config: Config) -> dict:
    """Draws Fig. 5.17 and compares the steps each variant needs to reach `threshold`."""
    context = runs.start_run(config, EXPERIMENT_ID)
    run_log = context.run_log
    run_dirs = {
        "without BN": _run_dir(config, config.without_bn_run, False, context.workdir),
        "with BN": _run_dir(config, config.with_bn_run, True, context.workdir),
    }
    accuracy, cost, summary = {}, {}, {}
    for label, run_dir in run_dirs.items():
        metrics = run_dir / "metrics.jsonl"
        accuracy[label] = records.metric_curve(metrics, "validation", "accuracy")
        cost[label] = records.metric_curve(metrics, "train", "cost")
        # Both curves in this run's TensorBoard and metrics.jsonl, overlaid as two splits.
        split = label.replace(" ", "_")
        for step, value in zip(*accuracy[label], strict=True):
            run_log.scalars(int(step), split, validation_accuracy=float(value))
        results = json.loads((run_dir / "results.json").read_text())
        steps = curves.steps_to_threshold(*accuracy[label], config.threshold)
        summary[label] = {
            "run": str(run_dir),
            "steps_to_threshold": steps,
            "best_validation_accuracy": float(max(accuracy[label][1])),
            "test_accuracy": results["test_accuracy"],
            "book_style_128_batch_accuracy": results.get("book_style_128_batch_accuracy"),
            "steps": results["steps"],
            "train_seconds": results["train_seconds"],
        }
        reached = f"step {steps}" if steps is not None else "never"
        run_log.print(
            f"{label}: validation accuracy {config.threshold:.0%} at {reached}; "
            f"test accuracy {results['test_accuracy']:.4f} after {results['steps']} steps"
        )
    curves.plot_bn_comparison(
        accuracy,
        run_log.figure_path("fig5_17_bn_comparison"),
        threshold=config.threshold,
        losses=cost,
    )
    without, with_bn = (summary[label]["steps_to_threshold"] for label in run_dirs)
    speedup = without / with_bn if without and with_bn else None
    if speedup is not None:
        run_log.print(f"BN reaches {config.threshold:.0%} in {1 / speedup:.2f}x the steps")
    return runs.finish_run(
        context,
        config,
        {"threshold": config.threshold, "variants": summary, "bn_step_speedup": speedup},
    )


if __name__ == "__main__":
    import sys

    print(main(config_lib.from_argv(Config, CONFIGS, sys.argv[1:])))
