import dataclasses
import typing

import pytest

from fdl_tf2 import config as config_lib


@dataclasses.dataclass(frozen=True)
class _Config(config_lib.RunConfig):
    learning_rate: float = 0.01
    epochs: int = 100
    name: str = "book"
    hidden_units: tuple = (256, 256)
    flag: bool = False


_PRESETS = {"smoke": dict(epochs=1), "book": dict(), "cpu": dict(epochs=20)}


def test_defaults_are_the_book_preset():
    assert config_lib.from_argv(_Config, _PRESETS, []) == _Config()


def test_preset_then_overrides_apply_in_order():
    config = config_lib.from_argv(
        _Config, _PRESETS, ["--config=smoke", "--learning_rate=0.5", "--hidden_units=(8,)"]
    )
    assert config.epochs == 1 and config.learning_rate == 0.5 and config.hidden_units == (8,)


def test_ints_are_accepted_for_floats_and_bools_parse():
    config = config_lib.from_argv(_Config, _PRESETS, ["--learning_rate=1", "--flag=True"])
    assert config.learning_rate == 1.0 and isinstance(config.learning_rate, float)
    assert config.flag is True


def test_str_and_optional_str_fields_take_bare_words():
    config = config_lib.from_argv(_Config, _PRESETS, ["--name=x1", "--data_dir=/tmp/data"])
    assert config.name == "x1" and config.data_dir == "/tmp/data"


def test_unknown_field_lists_valid_fields():
    with pytest.raises(ValueError, match="Unknown field --epoch\\b") as error:
        config_lib.from_argv(_Config, _PRESETS, ["--epoch=3"])
    assert "--epochs=100" in str(error.value) and "--learning_rate=0.01" in str(error.value)


@pytest.mark.parametrize("argument", ["--epochs=1.5", "--epochs=abc", "--flag=3"])
def test_wrong_type_is_an_error(argument):
    with pytest.raises(ValueError, match="expected a value of type"):
        config_lib.from_argv(_Config, _PRESETS, [argument])


def test_unknown_preset_and_malformed_arguments():
    with pytest.raises(ValueError, match="valid presets"):
        config_lib.from_argv(_Config, _PRESETS, ["--config=fast"])
    with pytest.raises(ValueError, match="--field=value"):
        config_lib.from_argv(_Config, _PRESETS, ["epochs=3"])


def test_replace_rejects_unknown_fields_and_types():
    with pytest.raises(ValueError, match="Unknown config field"):
        config_lib.replace(_Config(), nope=1)
    with pytest.raises(ValueError, match="does not have type"):
        config_lib.replace(_Config(), epochs="3")


def test_config_round_trips_through_json(tmp_path):
    config = config_lib.from_argv(_Config, _PRESETS, ["--config=cpu"])
    config_lib.save(config, tmp_path / "config.json")
    assert '"epochs": 20' in (tmp_path / "config.json").read_text()
    assert config_lib.preset_name(config, _PRESETS) == "cpu"


@dataclasses.dataclass(frozen=True)
class _EngineConfig(config_lib.ExportConfig):
    UNSUPPORTED: typing.ClassVar = {"mixed_precision": "this toy runs in float32 only."}

    epochs: int = 3


def test_engine_fields_are_separate_from_run_fields():
    run_fields = {field.name for field in dataclasses.fields(config_lib.RunConfig)}
    engine_fields = {field.name for field in dataclasses.fields(config_lib.EngineConfig)}
    assert {"seed", "data_dir", "workdir", "tensorboard", "deterministic"} == run_fields
    assert {"steps_per_execution", "jit_compile", "mixed_precision", "strategy"} <= engine_fields
    assert {"checkpoints_to_keep", "checkpoint_every_seconds", "max_steps"} <= engine_fields
    # An experiment that is not trained by the engine has no engine field to ignore.
    with pytest.raises(ValueError, match="Unknown field --jit_compile"):
        config_lib.from_argv(_Config, _PRESETS, ["--jit_compile=True"])


def test_a_field_an_experiment_cannot_honour_is_rejected_with_its_reason():
    with pytest.raises(ValueError, match="not supported by this experiment: this toy runs"):
        config_lib.from_argv(_EngineConfig, _PRESETS, ["--mixed_precision=mixed_bfloat16"])
    # The default value is fine, and the field is left out of the listed valid fields.
    config = config_lib.from_argv(_EngineConfig, _PRESETS, ["--mixed_precision=float32"])
    assert config.mixed_precision == "float32"
    with pytest.raises(ValueError) as error:
        config_lib.from_argv(_EngineConfig, _PRESETS, ["--nope=1"])
    assert "--mixed_precision" not in str(error.value) and "--jit_compile" in str(error.value)


def test_total_steps_respects_max_steps():
    assert config_lib.total_steps(_EngineConfig(), 550) == 550
    assert config_lib.total_steps(_EngineConfig(max_steps=100), 550) == 100
    assert config_lib.total_steps(_EngineConfig(max_steps=1000), 550) == 550


def test_the_resume_command_spells_out_every_changed_field(tmp_path):
    from fdl_tf2.training import runs

    config = config_lib.from_argv(
        _EngineConfig, _PRESETS, ["--config=smoke", "--jit_compile=True", "--data_dir=/d"]
    )
    command = runs.resume_command(config, "ch03.toy", tmp_path / "run")
    assert command == (
        "python -m fdl_tf2 run ch03.toy --data_dir=/d --jit_compile=True --epochs=1 "
        f"--workdir={tmp_path / 'run'}"
    )
    arguments = command.split()[5:]
    assert config_lib.from_argv(_EngineConfig, _PRESETS, arguments[:-1]) == config
