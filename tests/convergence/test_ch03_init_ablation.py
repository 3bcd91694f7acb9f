"""C3-10 on real MNIST: He-normal vs uniform(-1, 1) initialisation (slow; `make test-slow`)."""

import pytest

from experiments.ch03_tensorflow import init_ablation
from fdl_tf2 import config as config_lib

pytestmark = [pytest.mark.slow, pytest.mark.data]


def test_he_normal_clearly_beats_uniform_init_after_3_epochs(tmp_path, mnist_dir):
    # About 30 s on 2 CPU cores. Measured (seed 0): He 91.58 %, uniform 9.62 % (chance).
    config = config_lib.from_argv(
        init_ablation.Config,
        init_ablation.CONFIGS,
        ["--config=cpu", f"--data_dir={mnist_dir}", f"--workdir={tmp_path / 'run'}"],
    )
    results = init_ablation.main(config)
    assert results["he_normal_validation_accuracy"] >= 0.90
    assert results["accuracy_gap"] >= 0.5
    assert results["uniform_validation_cost"] > 5 * results["he_normal_validation_cost"]
