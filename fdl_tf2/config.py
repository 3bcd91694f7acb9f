"""Run configuration: one frozen dataclass per experiment, three presets, `--field=value`.

An experiment declares

    @dataclasses.dataclass(frozen=True)
    class Config(config.RunConfig):
        learning_rate: float = 0.01  # The book's value (seed line 1327).

    CONFIGS = {"smoke": dict(epochs=1), "book": dict(), "cpu": dict(epochs=20)}

and `from_argv(Config, CONFIGS, ["--config=smoke", "--epochs=2"])` returns the resolved
configuration. Dataclass defaults are the "book" preset.
"""

import ast
import dataclasses
import json
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

DEFAULT_PRESET = "book"


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Fields shared by every experiment, trained by the engine or not."""

    seed: int = 0
    """Seeds Python, NumPy, TensorFlow and Keras once, in the experiment."""
    data_dir: str | None = None
    """Dataset root; None means $FDL_DATA_DIR, else the per-user cache directory."""
    workdir: str | None = None
    """Run directory; None means runs/<experiment>/<timestamp>/. An existing one is resumed."""
    tensorboard: bool = True
    """Write TensorBoard event files (metrics.jsonl is always written)."""
    deterministic: bool = False
    """Enable TensorFlow op determinism (bit-exact reruns; slower on some ops)."""


@dataclasses.dataclass(frozen=True)
class EngineConfig(RunConfig):
    """Fields of the training engine (`fdl_tf2.training`): experiments trained by it only."""

    steps_per_execution: int = 100
    """Training steps run inside one compiled call (the progress bar updates between calls)."""
    jit_compile: bool = False
    """Compile the train step with XLA."""
    mixed_precision: str = "float32"
    """Compute dtype policy: float32, mixed_float16 (with loss scaling) or mixed_bfloat16."""
    strategy: str = "default"
    """tf.distribute strategy: default, mirrored or multi_worker (TF_CONFIG)."""
    log_every_steps: int = 10
    """Training steps between per-step train scalars in TensorBoard; 0 disables them."""
    histogram_every: int = 1
    """Evaluations between weight histograms; 0 disables them."""
    checkpoints_to_keep: int = 5
    """Checkpoints kept on disk; 5 is the TF1 Saver default the book relies on."""
    checkpoint_every_seconds: float = 600.0
    """Also save a checkpoint this often between evaluations; 0 saves only at evaluations."""
    max_steps: int = 0
    """Stop (with a checkpoint) after this many training steps in total; 0 means no limit.
    Learning-rate schedules decay over the steps actually run."""


@dataclasses.dataclass(frozen=True)
class ExportConfig(EngineConfig):
    """Engine fields plus the SavedModel export of the trained model."""

    export: bool = True
    """Export a SavedModel to <export_dir>/<name>/<version>/ at the end of the run."""
    export_dir: str | None = None
    """Root of the TF Serving model repository. None means saved_models/, except for runs on
    synthetic data (the smoke presets), which export under <workdir>/saved_models/."""
    verify_export: bool = True
    """Reload the export in a fresh process and check every signature (about 10 s). Smoke
    presets that share an endpoint builder with a verified one skip it."""


def total_steps(config: EngineConfig, planned_steps: int) -> int:
    """The steps a run will take: `planned_steps`, capped by `config.max_steps` when set."""
    return min(planned_steps, config.max_steps) if config.max_steps else planned_steps


def fields(config_class: type) -> dict[str, dataclasses.Field]:
    return {field.name: field for field in dataclasses.fields(config_class)}


def _field_type(config_class: type, name: str) -> Any:
    return typing.get_type_hints(config_class)[name]


def _is_instance(value: Any, annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_is_instance(value, arg) for arg in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin is not None:
        return isinstance(value, origin)
    return isinstance(value, annotation)


def _parse_value(config_class: type, name: str, text: str) -> Any:
    annotation = _field_type(config_class, name)
    if annotation is str:
        return text
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        # Bare words are strings for `str | None` fields (e.g. --data_dir=/tmp/data).
        value = text
    if annotation is bool and isinstance(value, str) and value.lower() in ("true", "false"):
        value = value.lower() == "true"
    if not _is_instance(value, annotation):
        type_name = getattr(annotation, "__name__", str(annotation))
        raise ValueError(f"--{name}={text!r}: expected a value of type {type_name}.")
    if annotation is float:
        value = float(value)
    return value


def _valid_fields_message(config_class: type) -> str:
    lines = []
    unsupported = unsupported_fields(config_class)
    for name, field in fields(config_class).items():
        if name not in unsupported:
            lines.append(f"  --{name}={field.default!r}")
    return "Valid fields (with their defaults):\n" + "\n".join(lines)


def unsupported_fields(config_class: type) -> dict[str, str]:
    """`{field: reason}` of inherited fields an experiment cannot honour (`UNSUPPORTED`)."""
    return dict(getattr(config_class, "UNSUPPORTED", {}))


def replace(config: RunConfig, **overrides: Any) -> RunConfig:
    """`dataclasses.replace` that rejects unknown fields and wrong types with a clear error.

    Raises:
      ValueError: an unknown field, a value of the wrong type, or a value other than the
        default for a field the experiment lists in its `UNSUPPORTED` class attribute.
    """
    config_class = type(config)
    known = fields(config_class)
    unsupported = unsupported_fields(config_class)
    defaults = config_class()
    for name, value in overrides.items():
        if name not in known:
            raise ValueError(
                f"Unknown config field {name!r}. {_valid_fields_message(config_class)}"
            )
        annotation = _field_type(config_class, name)
        if not _is_instance(value, annotation):
            raise ValueError(f"Config field {name}={value!r} does not have type {annotation}.")
        if name in unsupported and value != getattr(defaults, name):
            raise ValueError(
                f"--{name}={value!r} is not supported by this experiment: {unsupported[name]}"
            )
    return dataclasses.replace(config, **overrides)


def from_argv(
    config_class: type,
    presets: Mapping[str, Mapping[str, Any]],
    argv: Sequence[str] | None = None,
) -> RunConfig:
    """Resolves `--config=<preset>` and then every `--field=value`, in that order.

    Args:
      config_class: the experiment's frozen dataclass (a `RunConfig` subclass).
      presets: preset name -> field overrides, e.g. `{"smoke": {...}, "book": {}, "cpu": {...}}`.
      argv: command-line arguments without the program name; None means no arguments.

    Raises:
      ValueError: an unknown preset or field, a malformed argument, or a value of the wrong type.
        The message lists the valid presets or fields.
    """
    argv = list(argv or [])
    preset = DEFAULT_PRESET
    overrides: dict[str, Any] = {}
    for argument in argv:
        if not argument.startswith("--") or "=" not in argument:
            raise ValueError(
                f"Arguments look like --field=value; got {argument!r}. "
                f"{_valid_fields_message(config_class)}"
            )
        name, text = argument[2:].split("=", 1)
        if name == "config":
            preset = text
            continue
        if name not in fields(config_class):
            raise ValueError(f"Unknown field --{name}. {_valid_fields_message(config_class)}")
        overrides[name] = _parse_value(config_class, name, text)
    if preset not in presets:
        raise ValueError(f"Unknown preset --config={preset}; valid presets: {sorted(presets)}.")
    config = replace(config_class(), **presets[preset])
    config = replace(config, **overrides)
    return config


def preset_name(config: RunConfig, presets: Mapping[str, Mapping[str, Any]]) -> str:
    """The preset a config was built from, or 'custom' when fields were overridden."""
    for name, values in presets.items():
        if replace(type(config)(), **values) == config:
            return name
    return "custom"


def to_json(config: RunConfig) -> str:
    return json.dumps(dataclasses.asdict(config), indent=2, sort_keys=True)


def save(config: RunConfig, path: Path) -> None:
    Path(path).write_text(to_json(config) + "\n")
