"""The autoencoder recipe: serving endpoints, epoch snapshots, image summaries, console line."""

import numpy as np
import pytest
import tensorflow as tf

from fdl_tf2.data import mnist
from fdl_tf2.models import autoencoder
from fdl_tf2.training import reconstruction


@pytest.fixture(scope="module")
def data():
    return mnist.classification_data(dataset="synthetic", view="flat")


def test_endpoints_serve_raw_pixels_and_codes(data):
    model = autoencoder.build_autoencoder(3, hidden_units=(16, 8), seed=0)
    endpoints = reconstruction.autoencoder_endpoints(model, data)
    assert set(endpoints) == {"encode", "decode", "serving_default"}
    images = data.splits["test"][0][:4]
    assert images.dtype == np.uint8 and images.shape == (4, 28, 28)
    encode, specs = endpoints["encode"]
    assert [(s.name, s.dtype, tuple(s.shape)) for s in specs] == [
        ("images", tf.uint8, (None, 28, 28))
    ]
    codes = encode(tf.constant(images))["codes"]
    expected_codes = model.get_layer("encoder")(images.reshape(4, 784) / 255.0, training=False)
    np.testing.assert_allclose(codes, expected_codes, rtol=1e-5)
    decode, (code_spec,) = endpoints["decode"]
    assert code_spec.dtype == tf.float32 and tuple(code_spec.shape) == (None, 3)
    decoded = decode(codes)["images"]
    assert decoded.dtype == tf.uint8 and decoded.shape == (4, 28, 28)
    pixels = model.get_layer("decoder")(codes, training=False).numpy().reshape(4, 28, 28)
    np.testing.assert_array_equal(decoded, np.round(pixels * 255).astype(np.uint8))
    served = endpoints["serving_default"][0](tf.constant(images))
    np.testing.assert_array_equal(served["reconstructions"], decoded)


def test_to_uint8_rounds_and_clips():
    pixels = tf.constant([[-0.1, 0.0, 0.5, 1.0, 1.2] + [0.0] * 779])
    images = reconstruction.to_uint8_images(pixels).numpy()
    assert images.shape == (1, 28, 28)
    assert images.reshape(-1)[:5].tolist() == [0, 0, 128, 255, 255]


def test_snapshots_are_written_at_the_chosen_epochs_only(tmp_path):
    model = autoencoder.build_autoencoder(2, hidden_units=(8,), seed=0)
    hook = reconstruction.EpochSnapshots(model, tmp_path, epochs=(1, 3), steps_per_epoch=10)
    images = np.random.default_rng(0).uniform(size=(2, 784)).astype(np.float32)
    outputs = {}
    for step in (5, 10, 20, 30):  # Step 5 is mid-epoch; steps 10 and 30 end epochs 1 and 3.
        model.get_layer("encoder").get_layer("code").bias.assign([step, -step])
        hook(step, {})
        outputs[step] = model(images, training=False).numpy()
    assert reconstruction.snapshot_epochs(tmp_path) == [1, 3]
    fresh = autoencoder.build_autoencoder(2, hidden_units=(8,), seed=1)
    for epoch, step in ((1, 10), (3, 30)):
        restored = reconstruction.reconstruct_from_snapshot(fresh, tmp_path, epoch, images)
        np.testing.assert_allclose(restored, outputs[step], rtol=1e-6)


def test_book_console_line():
    report = {
        "epoch": 3,
        "train": {"cost": 5.123456789},
        "validation": {"cost": 4.78},
        "steps_per_sec": 40.0,
    }
    assert reconstruction.book_epoch_line(report) == (
        "Epoch: 0003 cost = 5.123456789  Validation Loss: 4.780000  (40 steps/s)"
    )
