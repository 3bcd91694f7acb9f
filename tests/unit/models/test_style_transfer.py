import hashlib
import io
import time

import keras
import numpy as np
import pytest

from experiments.ch05_convnets import neural_style
from fdl_tf2 import config as config_lib
from fdl_tf2.models import style_transfer as st

SIZE = 32  # Small for speed: VGG-19's four poolings leave 2x2 at relu5_1.


@pytest.fixture(scope="module")
def extractor():
    keras.utils.set_random_seed(0)
    return st.build_feature_extractor(weights=None)  # Random weights: no download.


def _image(seed, height=SIZE, width=SIZE):
    return np.random.default_rng(seed).uniform(0, 255, (height, width, 3)).astype(np.float32)


def _numpy(tensor):
    return keras.ops.convert_to_numpy(tensor)


# --- Layer mapping and the feature extractor ----------------------------------------------


def test_extractor_is_frozen_and_returns_the_six_layers_at_vgg_resolutions(extractor):
    assert not extractor.trainable and not extractor.trainable_weights
    features = extractor(st.preprocess(_image(0)[None]))
    shapes = {name: tuple(value.shape) for name, value in features.items()}
    assert shapes == {
        "relu1_1": (1, 32, 32, 64),
        "relu2_1": (1, 16, 16, 128),
        "relu3_1": (1, 8, 8, 256),
        "relu4_1": (1, 4, 4, 512),
        "relu4_2": (1, 4, 4, 512),
        "relu5_1": (1, 2, 2, 512),
    }
    assert all(_numpy(value).min() >= 0 for value in features.values())  # Fused ReLUs.
    # SAME pooling as the repository: odd sizes round up (33 -> 17 -> 9 -> 5 -> 3).
    assert tuple(extractor(np.zeros((1, 33, 33, 3)))["relu5_1"].shape) == (1, 3, 3, 512)


def test_layer_mapping_follows_the_spec_and_matches_keras_vgg19(extractor):
    assert st.CONTENT_LAYER == "relu4_2"
    assert st.STYLE_LAYERS == ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
    assert st.KERAS_LAYER_NAMES == {
        "relu1_1": "block1_conv1",
        "relu2_1": "block2_conv1",
        "relu3_1": "block3_conv1",
        "relu4_1": "block4_conv1",
        "relu4_2": "block4_conv2",
        "relu5_1": "block5_conv1",
    }
    vgg = keras.applications.VGG19(include_top=False, weights=None, input_shape=(None, None, 3))
    for layer in extractor.layers:
        if layer.weights:  # The extractor's convs share names with VGG19's, up to block5_conv1.
            vgg.get_layer(layer.name).set_weights(layer.get_weights())
    inputs = st.preprocess(_image(1)[None])
    features = extractor(inputs)
    for vgg_name, keras_name in st.KERAS_LAYER_NAMES.items():
        reference = keras.Model(vgg.input, vgg.get_layer(keras_name).output)(inputs)
        np.testing.assert_allclose(_numpy(features[vgg_name]), _numpy(reference), rtol=1e-5)


def test_average_pooling_option_changes_the_deeper_features():
    keras.utils.set_random_seed(0)
    max_pool = st.build_feature_extractor(None, pooling="max")
    avg_pool = st.build_feature_extractor(None, pooling="avg")
    avg_pool.set_weights(max_pool.get_weights())
    inputs = st.preprocess(_image(2)[None])
    a, b = max_pool(inputs), avg_pool(inputs)
    np.testing.assert_array_equal(_numpy(a["relu1_1"]), _numpy(b["relu1_1"]))
    assert not np.allclose(_numpy(a["relu2_1"]), _numpy(b["relu2_1"]))
    with pytest.raises(ValueError, match="pooling"):
        st.build_feature_extractor(None, pooling="min")


def test_weights_path_is_loaded_into_the_extractor(tmp_path):
    vgg = keras.applications.VGG19(include_top=False, weights=None, input_shape=(None, None, 3))
    path = tmp_path / "vgg19_notop.weights.h5"
    vgg.save_weights(path)
    extractor = st.build_feature_extractor(weights=path)
    inputs = st.preprocess(_image(3)[None])
    reference = keras.Model(vgg.input, vgg.get_layer("block4_conv2").output)(inputs)
    np.testing.assert_allclose(_numpy(extractor(inputs)["relu4_2"]), _numpy(reference), rtol=1e-5)


# --- Preprocessing ------------------------------------------------------------------------


def test_preprocess_is_keras_caffe_mode_and_unprocess_inverts_it():
    image = _image(4, 5, 7)[None]
    expected = keras.applications.vgg19.preprocess_input(image.copy())
    np.testing.assert_allclose(_numpy(st.preprocess(image)), expected, atol=1e-4)
    # Channel by channel: BGR order minus (103.939, 116.779, 123.68).
    np.testing.assert_allclose(_numpy(st.preprocess(image))[..., 0], image[..., 2] - 103.939)
    np.testing.assert_allclose(_numpy(st.unprocess(st.preprocess(image))), image, atol=1e-4)


def test_output_is_clipped_to_uint8():
    rgb = np.array([[[-50.0, 0.4, 300.0], [12.6, 255.0, 254.5]]], np.float32)
    result = st.to_uint8(st.preprocess(rgb))
    assert result.dtype == np.uint8
    np.testing.assert_array_equal(result, [[[0, 0, 255], [13, 255, 254]]])


# --- Losses against NumPy -----------------------------------------------------------------


def test_gram_matrix_is_ft_f_over_hwc():
    features = np.random.default_rng(5).normal(size=(2, 3, 4, 5)).astype(np.float32)
    flat = features.reshape(2, 12, 5)  # (batch, H*W, C)
    expected = np.einsum("bmc,bmd->bcd", flat, flat) / (3 * 4 * 5)
    np.testing.assert_allclose(_numpy(st.gram_matrix(features)), expected, rtol=1e-5)


def test_content_and_tv_losses_match_numpy():
    rng = np.random.default_rng(6)
    x, p = rng.normal(size=(2, 1, 3, 4, 8)).astype(np.float32)
    assert float(st.content_loss(x, p)) == pytest.approx(5.0 * np.mean((x - p) ** 2), rel=1e-5)
    image = rng.normal(size=(1, 6, 7, 3)).astype(np.float32)
    dy = np.diff(image, axis=1)  # (1, 5, 7, 3)
    dx = np.diff(image, axis=2)  # (1, 6, 6, 3)
    expected = 100.0 * (np.mean(dy**2) + np.mean(dx**2))
    assert float(st.total_variation_loss(image)) == pytest.approx(expected, rel=1e-5)
    assert float(st.total_variation_loss(np.full((1, 6, 7, 3), 42.0, np.float32))) == 0.0


def test_style_loss_sums_the_layers_and_blends_the_styles():
    rng = np.random.default_rng(7)
    channels = dict(zip(st.STYLE_LAYERS, (2, 3, 4, 5, 6), strict=True))
    features = {n: rng.uniform(size=(1, 3, 3, c)).astype(np.float32) for n, c in channels.items()}
    targets = {n: rng.normal(size=(2, c, c)).astype(np.float32) for n, c in channels.items()}
    blend = np.array([0.25, 0.75], np.float32)
    expected = 0.0
    for name, c in channels.items():
        flat = features[name].reshape(9, c)
        gram = flat.T @ flat / (9 * c)
        for s in range(2):  # Per layer: sum((G - A)^2) / C^2, summed over layers.
            expected += blend[s] * np.sum((gram - targets[name][s]) ** 2) / c**2
    loss = st.style_loss(features, targets, blend, style_weight=100.0)
    assert float(loss) == pytest.approx(100.0 * expected, rel=1e-5)


def test_blend_weights_are_equal_by_default_and_normalised():
    np.testing.assert_allclose(st.normalise_blend_weights(None, 4), [0.25] * 4)
    np.testing.assert_allclose(st.normalise_blend_weights([1, 3], 2), [0.25, 0.75])
    with pytest.raises(ValueError, match="2 values for 3"):
        st.normalise_blend_weights([1, 1], 3)
    with pytest.raises(ValueError, match="positive sum"):
        st.normalise_blend_weights([0, 0], 2)


def test_content_loss_is_zero_at_the_content_image_and_style_loss_at_the_style_image(extractor):
    content, style = _image(8), _image(9)  # Same size, so the style Grams can match exactly.
    transfer = st.StyleTransfer(extractor, content, [style], initial_image=content)
    at_content = transfer.losses()
    assert at_content["content"] == pytest.approx(0.0, abs=1e-6) and at_content["style"] > 0
    transfer.image.assign(st.preprocess(style[None]))
    at_style = transfer.losses()
    assert at_style["style"] == pytest.approx(0.0, abs=1e-6 * at_content["style"])
    assert at_style["content"] > 0
    from_content = st.StyleTransfer(extractor, content, [style], init_from_content=True)
    np.testing.assert_array_equal(_numpy(from_content.image), _numpy(st.preprocess(content[None])))


def test_initial_noise_is_seeded_n01_times_0256(extractor):
    first = st.StyleTransfer(extractor, _image(12, 64, 64), [_image(13)], seed=3)
    again = st.StyleTransfer(extractor, _image(12, 64, 64), [_image(13)], seed=3)
    start = _numpy(first.image)
    np.testing.assert_array_equal(start, _numpy(again.image))
    assert start.shape == (1, 64, 64, 3)
    assert start.std() == pytest.approx(0.256, rel=0.02) and abs(start.mean()) < 0.01


# --- Optimisation -------------------------------------------------------------------------


def test_twenty_adam_steps_reduce_content_and_style_losses_with_one_trace(extractor):
    # Without the TV term and with lr 3: the random-weight VGG's losses are small, so the
    # repository's lr 10 mostly makes the TV term oscillate (see the next test).
    transfer = st.StyleTransfer(
        extractor, _image(14), [_image(15)], tv_weight=0.0, learning_rate=3.0
    )
    before = transfer.losses()
    for _ in range(20):
        transfer.step()
    after = transfer.losses()
    assert after["total"] < 0.5 * before["total"]
    assert after["content"] < 0.5 * before["content"]
    assert after["style"] < 0.5 * before["style"]
    assert transfer.iterations == 20 and transfer.trace_count == 1


def test_result_is_the_lowest_loss_image_as_uint8(extractor):
    # lr 10 on a random-weight VGG makes the TV term blow up: the start remains the best.
    transfer = st.StyleTransfer(extractor, _image(16), [_image(17)], learning_rate=10.0)
    start = transfer.losses()
    seen = [float(transfer.step()["total"]) for _ in range(5)]
    assert transfer.losses()["total"] > start["total"]
    image, best = transfer.result()
    assert best["total"] == pytest.approx(min(seen), rel=1e-5)
    assert image.dtype == np.uint8 and image.shape == (SIZE, SIZE, 3)
    np.testing.assert_array_equal(image, st.to_uint8(transfer.best_image)[0])


def test_bad_images_are_rejected(extractor):
    with pytest.raises(ValueError, match="At least one style"):
        st.StyleTransfer(extractor, _image(0), [])
    with pytest.raises(ValueError, match="RGB"):
        st.StyleTransfer(extractor, _image(0)[..., 0], [_image(1)])
    with pytest.raises(ValueError, match="Resize it first"):
        st.StyleTransfer(extractor, _image(0), [_image(1)], initial_image=_image(2, 16, 16))


# --- Images and sizes ---------------------------------------------------------------------


def test_image_sizes_follow_the_repository():
    assert st.content_size(300, 400, None) == (300, 400)
    assert st.content_size(300, 400, 200) == (150, 200)  # --width keeps the aspect ratio.
    assert st.style_size(100, 50, content_width=200) == (400, 200)  # Style width = content's.
    assert st.style_size(100, 50, content_width=200, style_scale=0.5) == (200, 100)


def test_load_image_gives_rgb_floats_and_resizes(tmp_path):
    grey = np.arange(12 * 10, dtype=np.uint8).reshape(12, 10)
    path = tmp_path / "grey.png"
    keras.utils.save_img(path, grey[..., None], scale=False)
    image = st.load_image(path)
    assert image.dtype == np.float32 and image.shape == (12, 10, 3)
    np.testing.assert_array_equal(image[..., 1], grey)
    assert st.load_image(path, (6, 5)).shape == (6, 5, 3)
    st.save_image(tmp_path / "copy.png", image.astype(np.uint8))
    np.testing.assert_array_equal(st.load_image(tmp_path / "copy.png"), image)
    with pytest.raises(FileNotFoundError, match="missing.png"):
        st.load_image(tmp_path / "missing.png")


def test_default_images_are_shipped():
    for path in (st.DEFAULT_CONTENT, st.DEFAULT_STYLE):
        assert path.is_file() and path.stat().st_size < 100_000
        assert st.load_image(path).shape == (384, 384, 3)


# --- Weights ------------------------------------------------------------------------------


def test_missing_weights_fail_fast_offline_with_instructions(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("FDL_OFFLINE", "1")
    start = time.monotonic()
    with pytest.raises(st.WeightsNotFoundError) as error:
        st.build_feature_extractor(weights="imagenet")
    assert time.monotonic() - start < 2.0
    message = str(error.value)
    assert st.WEIGHTS_URL in message
    assert str(tmp_path / "keras" / "models" / st.WEIGHTS_FILE) in message
    assert "--weights=" in message and "FDL_OFFLINE" in message


def test_weights_come_from_the_given_path_or_the_keras_cache(tmp_path, monkeypatch):
    missing = tmp_path / "nowhere.h5"
    with pytest.raises(st.WeightsNotFoundError) as error:
        st.ensure_vgg19_weights(missing)
    assert f"--weights={missing} does not exist" in str(error.value)
    assert st.WEIGHTS_URL in str(error.value)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    cached = tmp_path / "models" / st.WEIGHTS_FILE
    cached.parent.mkdir()
    cached.write_bytes(b"placeholder")
    assert st.ensure_vgg19_weights() == cached
    assert st.keras_cache_dir() == tmp_path / "models"


def test_a_failed_download_fails_fast_with_instructions(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.delenv("FDL_OFFLINE")

    def no_network(url, timeout):
        raise OSError("resolving storage.googleapis.com took more than 5 s")

    monkeypatch.setattr(st.download, "resolve_host", no_network)
    with pytest.raises(st.WeightsNotFoundError, match="downloading it failed") as error:
        st.ensure_vgg19_weights()
    assert "took more than 5 s" in str(error.value) and st.WEIGHTS_URL in str(error.value)
    assert not (tmp_path / "models" / st.WEIGHTS_FILE).exists()


def test_the_download_is_md5_verified_before_it_lands_in_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.delenv("FDL_OFFLINE")
    payload = b"vgg19 weights stand-in"
    monkeypatch.setattr(st.download, "resolve_host", lambda url, timeout: None)
    monkeypatch.setattr(st.urllib.request, "urlopen", lambda url, timeout: io.BytesIO(payload))
    with pytest.raises(st.WeightsNotFoundError, match="MD5"):
        st.ensure_vgg19_weights()  # The stand-in does not have the published MD5.
    assert list((tmp_path / "models").iterdir()) == []  # Nothing half-written is left.
    monkeypatch.setattr(st, "WEIGHTS_MD5", hashlib.md5(payload).hexdigest())
    path = st.ensure_vgg19_weights()
    assert path == tmp_path / "models" / st.WEIGHTS_FILE and path.read_bytes() == payload


def test_experiment_fails_before_writing_anything_without_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    config = config_lib.from_argv(
        neural_style.Config, neural_style.CONFIGS, [f"--workdir={tmp_path / 'run'}"]
    )
    with pytest.raises(st.WeightsNotFoundError, match="--weights="):
        neural_style.main(config)
    assert not (tmp_path / "run").exists()
    with pytest.raises(ValueError, match="vgg19_random"):
        neural_style.main(config_lib.replace(config, network="vgg16"))


# --- The experiment's command line --------------------------------------------------------


def test_cli_accepts_one_or_several_style_paths():
    def parse(*argv):
        return config_lib.from_argv(neural_style.Config, neural_style.CONFIGS, list(argv))

    one = parse("--styles=/images/art.jpg", "--content=photo.jpg", "--width=256")
    assert neural_style._split_paths(one.styles) == [st.Path("/images/art.jpg")]
    assert one.content == "photo.jpg" and one.width == 256
    two = parse("--styles=a.jpg,b.jpg", "--style_blend_weights=(1, 3)", "--style_scales=0.5")
    assert [p.name for p in neural_style._split_paths(two.styles)] == ["a.jpg", "b.jpg"]
    assert neural_style._per_style(two.style_scales, 2, "style_scales", 1.0) == [0.5, 0.5]
    assert neural_style._per_style(two.style_blend_weights, 2, "blend", None) == [1.0, 3.0]
    assert parse().network == "vgg19_imagenet" and parse().iterations == 1000
    with pytest.raises(ValueError, match="3 values for 2"):
        neural_style._per_style((1.0, 2.0, 3.0), 2, "style_scales", 1.0)
