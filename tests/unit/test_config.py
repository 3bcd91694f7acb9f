import dataclasses

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
