"""Shared helper of the convergence tests: one experiment run from its CLI arguments."""

import pytest

from fdl_tf2 import config as config_lib


@pytest.fixture
def run_experiment(tmp_path):
    """`run_experiment(module, data_dir, *arguments) -> results`, writing under `tmp_path`."""

    def run(module, data_dir, *arguments):
        config = config_lib.from_argv(
            module.Config,
            module.CONFIGS,
            [
                *arguments,
                f"--data_dir={data_dir}",
                f"--workdir={tmp_path / 'run'}",
                f"--export_dir={tmp_path / 'models'}",
            ],
        )
        return module.main(config)

    return run
