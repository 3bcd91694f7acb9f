"""The vanishing-gradient figure (Fig. 7.16 substitute; checklist §5.3 item 24): panels, line
styles and plotted data, inspected through the `Figure`; the PNG is written once.
"""

import numpy as np
import pytest

from fdl_tf2.models import recurrent
from fdl_tf2.viz import recurrent as recurrent_figures

W_IN = 0.5


def _gradients(activations=("tanh", "logistic"), w_recs=(0.5, 0.9), steps=8):
    inputs = np.random.default_rng(0).normal(size=steps)
    return {
        activation: {w: recurrent.input_gradients(W_IN, w, inputs, activation) for w in w_recs}
        for activation in activations
    }


def test_one_log_panel_per_activation_with_measured_lines_and_bounds():
    gradients = _gradients()
    figure = recurrent_figures.vanishing_gradient_figure(gradients, W_IN)
    axes = figure.get_axes()
    assert len(axes) == 2
    lags = np.arange(8)
    for axis, (activation, curves) in zip(axes, gradients.items(), strict=True):
        assert axis.get_yscale() == "log" and activation in axis.get_title()
        lines = axis.get_lines()
        per_weight = 3 if activation == "logistic" else 2  # Measured, book bound (, tight).
        assert len(lines) == per_weight * len(curves)
        for index, (w_rec, measured) in enumerate(curves.items()):
            solid, dashed, *dotted = lines[index * per_weight : (index + 1) * per_weight]
            assert solid.get_linestyle() == "-" and solid.get_label() == f"w_rec = {w_rec:g}"
            np.testing.assert_allclose(solid.get_ydata(), measured)
            np.testing.assert_array_equal(solid.get_xdata(), lags)
            assert dashed.get_linestyle() == "--" and dashed.get_color() == solid.get_color()
            np.testing.assert_allclose(dashed.get_ydata(), np.abs(w_rec) ** lags * W_IN)
            if activation == "logistic":
                assert dotted[0].get_linestyle() == ":"
                tight = 0.25 ** (lags + 1) * np.abs(w_rec) ** lags * W_IN
                np.testing.assert_allclose(dotted[0].get_ydata(), tight)
        labels = [text.get_text() for text in axis.get_legend().get_texts()]
        assert labels[: len(curves)] == [f"w_rec = {w:g}" for w in curves]
        assert "measured" in labels


def test_zero_gradients_are_left_out_of_the_log_line():
    curve = np.array([0.5, 0.25, 0.0, 0.1])
    figure = recurrent_figures.vanishing_gradient_figure({"relu": {0.9: curve}}, W_IN)
    shown = figure.get_axes()[0].get_lines()[0].get_ydata()
    np.testing.assert_array_equal(np.isnan(shown), [False, False, True, False])


def test_empty_or_malformed_gradients_are_rejected():
    with pytest.raises(ValueError, match="non-empty"):
        recurrent_figures.vanishing_gradient_figure({}, W_IN)
    with pytest.raises(ValueError, match="non-empty"):
        recurrent_figures.vanishing_gradient_figure({"tanh": {}}, W_IN)
    with pytest.raises(ValueError, match=r"\(K,\)"):
        recurrent_figures.vanishing_gradient_figure({"tanh": {0.5: np.ones((2, 3))}}, W_IN)


def test_plot_writes_a_png(tmp_path):
    path = recurrent_figures.plot_vanishing_gradient(_gradients(), W_IN, tmp_path / "f.png")
    assert path == tmp_path / "f.png" and path.stat().st_size > 5_000
