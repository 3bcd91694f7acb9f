"""The ConvNetJS-style 2-D classifiers of Figs. 2.10, 2.11 and 2.15 (spec ch01-03 C2-10)."""

import keras
import numpy as np
import pytest

from fdl_tf2.foundations import regularization, toy_data
from fdl_tf2.models import toy_classifier
from fdl_tf2.viz import decision_regions, figure


def _spiral():
    # Small on purpose: 100 points keep each training run near one second.
    inputs, labels = toy_data.two_d_classes("spiral", 50, seed=0, noise=0.05)
    return inputs * 4.0, labels  # The ConvNetJS demo's coordinate range.


@pytest.mark.parametrize(
    "hidden_layers, num_params",
    [
        ((3,), 2 * 3 + 3 + 3 * 2 + 2),
        ((6,), 2 * 6 + 6 + 6 * 2 + 2),
        ((20,), 2 * 20 + 20 + 20 * 2 + 2),
        ((3, 3), 9 + 12 + 8),
        ((3, 3, 3, 3), 9 + 3 * 12 + 8),
    ],
)
def test_toy_classifier_maps_two_inputs_to_two_logits_through_the_sweep_sizes(
    hidden_layers, num_params
):
    model = toy_classifier.build_toy_classifier(hidden_layers, seed=0)
    assert model.count_params() == num_params
    logits = model(np.zeros((5, 2), np.float32))
    assert logits.shape == (5, 2)
    hidden = [layer for layer in model.layers if layer.name.startswith("hidden_")]
    assert [layer.units for layer in hidden] == list(hidden_layers)
    assert all(layer.activation is keras.activations.tanh for layer in hidden)


def test_toy_classifier_l2_loss_is_half_lambda_times_the_squared_kernels():
    model = toy_classifier.build_toy_classifier((20,), l2=0.1, seed=0)
    kernels = [v.numpy() for v in model.trainable_variables if "kernel" in v.path]
    assert len(kernels) == 2 and len(model.losses) == 2  # Biases are not regularised.
    expected = regularization.book_l2_penalty(kernels, 0.1)
    assert sum(float(loss) for loss in model.losses) == pytest.approx(expected, rel=1e-5)
    assert not toy_classifier.build_toy_classifier((20,), l2=0.0).losses


def test_toy_classifier_rejects_empty_or_non_positive_layers():
    with pytest.raises(ValueError, match=r"\(\)"):
        toy_classifier.build_toy_classifier(())
    with pytest.raises(ValueError, match="0"):
        toy_classifier.build_toy_classifier((3, 0))


def test_twenty_hidden_units_fit_the_spiral_at_least_as_well_as_three():
    inputs, labels = _spiral()
    accuracies = {}
    for width in (3, 20):
        model = toy_classifier.build_toy_classifier((width,), seed=0)
        accuracies[width] = toy_classifier.train_toy_classifier(
            model, inputs, labels, epochs=200, learning_rate=0.03, momentum=0.9
        )
    assert accuracies[20] >= accuracies[3], accuracies
    assert accuracies[20] >= 0.85, accuracies  # Training did fit a non-linear boundary.


def test_total_weight_norm_decreases_monotonically_as_lambda_grows():
    inputs, labels = _spiral()
    norms = []
    for lam in (0.01, 0.1, 1.0):
        model = toy_classifier.build_toy_classifier((20,), l2=lam, seed=0)
        toy_classifier.train_toy_classifier(
            model, inputs, labels, epochs=60, learning_rate=0.03, momentum=0.9
        )
        norms.append(toy_classifier.kernel_norm(model))
    assert norms[0] > norms[1] > norms[2], norms


def test_decision_regions_follow_the_model_and_are_plotted(tmp_path):
    model = toy_classifier.build_toy_classifier((3,), seed=0)
    # Hand-set weights: class 1 exactly where x > 0.
    for layer in model.layers[1:]:
        layer.kernel.assign(np.zeros(layer.kernel.shape, np.float32))
        layer.bias.assign(np.zeros(layer.bias.shape, np.float32))
    model.get_layer("hidden_1").kernel.assign(np.array([[1.0, 0, 0], [0, 0, 0]], np.float32))
    model.get_layer("output").kernel.assign(np.array([[-1.0, 1.0], [0, 0], [0, 0]], np.float32))
    inputs, labels = _spiral()
    grid_x, grid_y = toy_classifier.decision_grid(inputs, resolution=40)
    regions = toy_classifier.decision_regions(model, grid_x, grid_y)
    assert regions.shape == (40, 40)
    np.testing.assert_array_equal(regions, (grid_x > 0).astype(int))
    panels = [dict(grid_x=grid_x, grid_y=grid_y, regions=regions, title="x > 0")] * 2
    path = tmp_path / "regions.png"
    decision_regions.plot_decision_regions(panels, inputs, labels, "Fig. 2.10 test", path)
    assert path.stat().st_size > 5_000
    image = figure.png_to_array(path)
    assert image.dtype == np.uint8 and image.ndim == 4 and image.shape[-1] == 3
