"""The autoencoder benchmark's PyTorch twin, its losses and its FLOP count."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from benchmarks import bench_autoencoder, common
from fdl_tf2.models import autoencoder

TRAINABLE_PARAMETERS = 2_831_858
BN_UNITS = 1000 + 500 + 250 + 2 + 250 + 500 + 1000 + 784  # 4,286 features over 8 BN layers.
BATCH = 16


def _perturbed_model() -> keras.Model:
    """The benchmark's autoencoder with random biases, BN gammas/betas and moving statistics,
    so a twin that dropped any of them would compute something else."""
    model = bench_autoencoder.build_model()
    rng = np.random.default_rng(1)
    for layer in bench_autoencoder.keras_layers(model):
        if isinstance(layer, keras.layers.Dense):
            layer.bias.assign(rng.normal(0.0, 0.1, layer.bias.shape).astype(np.float32))
        elif isinstance(layer, keras.layers.BatchNormalization):
            shape = layer.gamma.shape
            layer.gamma.assign(rng.uniform(0.5, 1.5, shape).astype(np.float32))
            layer.beta.assign(rng.normal(0.0, 0.2, shape).astype(np.float32))
            layer.moving_mean.assign(rng.normal(0.0, 0.2, shape).astype(np.float32))
            layer.moving_variance.assign(rng.uniform(0.5, 2.0, shape).astype(np.float32))
    return model


def _batch() -> np.ndarray:
    """`(BATCH, 784)` MNIST-like pixels in [0, 1]."""
    rng = np.random.default_rng(2)
    return (rng.integers(0, 256, (BATCH, 784)) / 255.0).astype(np.float32)


def _numpy_forward(model: keras.Model, x: np.ndarray, training: bool) -> np.ndarray:
    """The autoencoder in NumPy (float64): Dense, batch norm (batch or moving statistics),
    sigmoid, layer by layer."""
    h = x.astype(np.float64)
    for layer in bench_autoencoder.keras_layers(model):
        weights = [np.asarray(w, np.float64) for w in layer.get_weights()]
        if isinstance(layer, keras.layers.Dense):
            kernel, bias = weights
            h = h @ kernel + bias
        elif isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, moving_mean, moving_variance = weights
            mean, variance = (h.mean(0), h.var(0)) if training else (moving_mean, moving_variance)
            h = gamma * (h - mean) / np.sqrt(variance + layer.epsilon) + beta
        else:
            h = 1.0 / (1.0 + np.exp(-h))
    return h


def _numpy_l2(x: np.ndarray, reconstructions: np.ndarray) -> float:
    return float(np.mean(np.sqrt(np.sum((reconstructions - x) ** 2, axis=1))))


def _loss_and_gradients(model, x):
    """The engine's objective `loss_sum / count` in training mode and its gradients."""
    with tf.GradientTape() as tape:
        (loss_sum, count), _ = autoencoder.autoencoder_loss()(model, x, training=True)
        loss = loss_sum / count
    return loss, tape.gradient(loss, model.trainable_variables)


def test_torch_twin_has_exactly_the_keras_parameter_count():
    torch = pytest.importorskip("torch")
    model = bench_autoencoder.build_model()
    twin = bench_autoencoder.torch_equivalent(model)
    keras_count = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert keras_count == TRAINABLE_PARAMETERS
    assert sum(parameter.numel() for parameter in twin.parameters()) == TRAINABLE_PARAMETERS
    norms = [m for m in twin if isinstance(m, torch.nn.BatchNorm1d)]
    assert sum(norm.running_mean.numel() for norm in norms) == BN_UNITS  # Keras' non-trainable.
    assert [norm.momentum for norm in norms] == pytest.approx([0.1] * 8)  # Keras' 0.9.
    assert [norm.eps for norm in norms] == pytest.approx([1e-3] * 8)
    linears = [m for m in twin if isinstance(m, torch.nn.Linear)]
    assert [m.in_features for m in linears] + [784] == list(bench_autoencoder.LAYER_SIZES)
    assert sum(isinstance(m, torch.nn.Sigmoid) for m in twin) == 8


def test_both_models_compute_the_same_inference_loss_on_the_same_weights():
    torch = pytest.importorskip("torch")
    model = _perturbed_model()
    twin = bench_autoencoder.torch_equivalent(model).eval()
    x = _batch()
    expected = _numpy_l2(x, _numpy_forward(model, x, training=False))
    (loss_sum, count), _ = autoencoder.autoencoder_loss()(model, x, training=False)
    with torch.no_grad():
        inputs = torch.from_numpy(x)
        torch_loss = float(bench_autoencoder.torch_l2_loss(twin(inputs), inputs))
    assert float(loss_sum / count) == pytest.approx(expected, rel=1e-5)
    assert torch_loss == pytest.approx(expected, rel=1e-5)


def test_training_losses_gradients_and_moving_means_agree():
    torch = pytest.importorskip("torch")
    model = _perturbed_model()
    twin = bench_autoencoder.torch_equivalent(model).train()
    norms_keras = [
        layer
        for layer in bench_autoencoder.keras_layers(model)
        if isinstance(layer, keras.layers.BatchNormalization)
    ]
    old_variances = [np.array(layer.moving_variance) for layer in norms_keras]
    x = _batch()
    expected = _numpy_l2(x, _numpy_forward(model, x, training=True))  # Before the update.

    keras_loss, keras_gradients = _loss_and_gradients(model, x)
    inputs = torch.from_numpy(x)
    torch_loss = bench_autoencoder.torch_l2_loss(twin(inputs), inputs)
    torch_loss.backward()
    assert float(keras_loss) == pytest.approx(expected, rel=1e-5)
    assert torch_loss.item() == pytest.approx(expected, rel=1e-5)

    # Gradients, layer by layer: kernel^T and bias of each Linear, gamma and beta of each BN.
    torch_gradients = []
    for module in twin:
        if isinstance(module, (torch.nn.Linear, torch.nn.BatchNorm1d)):
            weight = module.weight.grad.numpy()
            weight = weight.T if isinstance(module, torch.nn.Linear) else weight
            torch_gradients += [weight, module.bias.grad.numpy()]
    keras_gradients = [np.asarray(gradient) for gradient in keras_gradients]
    assert len(torch_gradients) == len(keras_gradients) == 32
    scale = max(np.abs(gradient).max() for gradient in keras_gradients)
    for index, (keras_gradient, torch_gradient) in enumerate(
        zip(keras_gradients, torch_gradients, strict=True)
    ):
        if index % 4 == 1:  # A Dense bias, which the next batch norm cancels: both ~0.
            assert np.abs(keras_gradient).max() < 1e-6 * scale
            assert np.abs(torch_gradient).max() < 1e-6 * scale
        else:
            layer_scale = np.abs(keras_gradient).max()
            assert layer_scale > 1e-4 * scale  # Not a vanishing gradient compared to noise.
            np.testing.assert_allclose(torch_gradient, keras_gradient, atol=1e-4 * layer_scale)

    # One training forward updated the moving statistics alike: the means exactly; torch's
    # variance takes the batch's unbiased variance (n / (n - 1) times Keras' biased one).
    norms_torch = [module for module in twin if isinstance(module, torch.nn.BatchNorm1d)]
    for keras_norm, torch_norm, old in zip(norms_keras, norms_torch, old_variances, strict=True):
        np.testing.assert_allclose(
            torch_norm.running_mean.numpy(), np.array(keras_norm.moving_mean), atol=1e-5
        )
        biased = (np.array(keras_norm.moving_variance) - 0.9 * old) / 0.1
        np.testing.assert_allclose(
            torch_norm.running_var.numpy(),
            0.9 * old + 0.1 * biased * BATCH / (BATCH - 1),
            rtol=1e-4,
            atol=1e-6,
        )


def test_the_fit_loss_is_the_mean_per_example_l2_norm():
    model = bench_autoencoder.build_model()
    model.compile(bench_autoencoder.build_optimizer(), bench_autoencoder.FIT_LOSS)
    x = _batch()
    reconstructions = np.asarray(model(x, training=False))
    loss = model.compute_loss(x=x, y=x, y_pred=reconstructions)
    assert float(loss) == pytest.approx(_numpy_l2(x, reconstructions), rel=1e-6)
    assert model.optimizer.epsilon == 1e-8


def test_step_gemms_are_the_matmuls_autodiff_runs():
    model = bench_autoencoder.build_model()

    @tf.function
    def gradients(inputs):
        return _loss_and_gradients(model, inputs)

    graph = gradients.get_concrete_function(
        tf.TensorSpec((bench_autoencoder.BATCH_SIZE, 784))
    ).graph
    traced = common.traced_gemms(graph)
    assert sorted(traced, key=repr) == sorted(bench_autoencoder.STEP_FLOPS.gemms, key=repr)
    assert len(traced) == 23  # 8 forward, 8 weight gradients, 7 input gradients.


def test_flop_counts_match_the_hand_count():
    macs = 784 * 1000 + 1000 * 500 + 500 * 250 + 250 * 2 + 2 * 250 + 250 * 500
    macs += 500 * 1000 + 1000 * 784
    flops = bench_autoencoder.STEP_FLOPS
    assert flops.forward == 2 * 100 * macs == 563_800_000
    assert flops.train_3x_forward == 3 * 563_800_000
    # No input gradient for the first layer: 3x forward minus its forward.
    assert flops.exact == 3 * 563_800_000 - 2 * 100 * 784 * 1000


@pytest.mark.parametrize("argv", [["--repeats", "0"], ["--steps", "0"], ["--steps", "600"]])
def test_bad_arguments_are_refused(argv, capsys):
    with pytest.raises(SystemExit):
        bench_autoencoder.main(argv)
    assert "must" in capsys.readouterr().err
