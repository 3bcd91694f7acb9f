import numpy as np
import pytest
import tensorflow as tf

from fdl_tf2.data import mnist
from fdl_tf2.export import saved_model
from fdl_tf2.models import feedforward


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """An MLP exported and verified once: (model, version path, raw sample, CLI listing).

    The verification is the one `export(verify=True)` runs, called here to keep what
    `saved_model_cli show` printed: a fresh process reloads the export and must reproduce the
    outputs (a differing model fails it: see below), while saved_model_cli lists it.
    """
    root = tmp_path_factory.mktemp("saved_models")
    model = feedforward.build_mlp((16,), seed=0)
    sample = np.random.default_rng(0).integers(0, 256, (5, 28, 28)).astype(np.uint8)
    endpoints = {saved_model.SIGNATURE_KEY: _endpoint(model)}
    samples = {saved_model.SIGNATURE_KEY: (sample,)}
    path = saved_model.export(
        "mnist_mlp",
        endpoints=endpoints,
        samples=samples,
        track=[model],
        export_dir=root,
        facts={"test_accuracy": 0.5},
        verify=False,
    )
    serve, _ = endpoints[saved_model.SIGNATURE_KEY]
    expected = {
        saved_model.SIGNATURE_KEY: {k: v.numpy() for k, v in serve(tf.constant(sample)).items()}
    }
    listing = saved_model.verify_export(path, endpoints, samples, expected)
    return model, path, sample, listing


def _endpoint(model):
    return saved_model.classifier_endpoint(
        model, mnist.preprocess_images_fn("flat"), mnist.SERVING_SPEC
    )


def test_export_uses_the_serving_layout_and_a_readme(exported):
    _, path, _, _ = exported
    assert path.name == "1" and (path / "saved_model.pb").is_file()
    assert (path / "variables").is_dir()
    readme = (path.parent / "README.md").read_text()
    assert "serving_default" in readme and "test_accuracy: 0.5" in readme
    assert "`images`: uint8 [None, 28, 28]" in readme and "`class_ids`: int64 [None]" in readme


def test_reloaded_signature_matches_the_model_on_raw_pixels(exported):
    model, path, sample, _ = exported
    serve = tf.saved_model.load(str(path)).signatures["serving_default"]
    outputs = serve(images=tf.constant(sample))
    logits = model(sample.reshape(5, 784).astype(np.float32) / 255.0)
    np.testing.assert_allclose(
        outputs["probabilities"], tf.nn.softmax(logits), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_array_equal(outputs["class_ids"], np.argmax(logits, axis=-1))
    assert outputs["class_ids"].dtype == tf.int64


def test_saved_model_cli_lists_the_typed_signature(exported):
    shown = exported[3]  # The verification's saved_model_cli run.
    assert "serving_default" in shown and "images" in shown and "DT_UINT8" in shown
    assert "probabilities" in shown and "class_ids" in shown


@pytest.mark.parametrize(
    "bad_input",
    [
        np.zeros((2, 28, 27), np.uint8),
        np.zeros((2, 28, 28), np.float32),
        np.zeros((28, 28), np.uint8),
    ],
    ids=["wrong-shape", "wrong-dtype", "missing-batch"],
)
def test_wrong_shapes_and_dtypes_are_rejected(exported, bad_input):
    serve = tf.saved_model.load(str(exported[1])).signatures["serving_default"]
    with pytest.raises((ValueError, TypeError, tf.errors.InvalidArgumentError)):
        serve(images=tf.constant(bad_input))


def test_versions_increment_and_are_never_overwritten(exported):
    model, path, sample, _ = exported
    kwargs = dict(
        endpoints={saved_model.SIGNATURE_KEY: _endpoint(model)},
        samples={saved_model.SIGNATURE_KEY: (sample,)},
        track=[model],
        export_dir=path.parent.parent,
        verify=False,
    )
    assert saved_model.export("mnist_mlp", **kwargs).name == "2"
    with pytest.raises(ValueError, match="never overwritten"):
        saved_model.export("mnist_mlp", version=1, **kwargs)
    with pytest.raises(ValueError, match="snake_case"):
        saved_model.export("MNIST-MLP", **kwargs)
    with pytest.raises(ValueError, match="no sample inputs"):
        saved_model.export("mnist_mlp", **{**kwargs, "samples": {}})


def test_verification_fails_on_a_differing_output_an_accepted_input_or_a_missing_listing(
    exported,
):
    # verify_export's verdict on what its fresh process returned (the fixture ran one that
    # passed): each way a reload can disagree is an error that names it.
    model, path, sample, listing = exported
    endpoints = {saved_model.SIGNATURE_KEY: _endpoint(model)}
    serve, _ = endpoints[saved_model.SIGNATURE_KEY]
    right = {saved_model.SIGNATURE_KEY: {k: v.numpy() for k, v in serve(sample).items()}}
    refused = {saved_model.SIGNATURE_KEY: {"images:dtype": True, "images:rank": True}}
    saved_model.check_reloaded(path, endpoints, right, right, refused, listing)

    differing = {saved_model.SIGNATURE_KEY: {"class_ids": np.full(5, 11, np.int64)}}
    with pytest.raises(saved_model.ExportVerificationError, match="'class_ids'.*differs"):
        saved_model.check_reloaded(path, endpoints, differing, right, refused, listing)
    with pytest.raises(saved_model.ExportVerificationError, match="lacks output 'logits'"):
        saved_model.check_reloaded(
            path,
            endpoints,
            {saved_model.SIGNATURE_KEY: {"logits": sample}},
            right,
            refused,
            listing,
        )
    accepted = {saved_model.SIGNATURE_KEY: {"images:dtype": False, "images:rank": True}}
    with pytest.raises(saved_model.ExportVerificationError, match=r"accepted.*images:dtype"):
        saved_model.check_reloaded(path, endpoints, right, right, accepted, listing)
    with pytest.raises(saved_model.ExportVerificationError, match="does not list"):
        saved_model.check_reloaded(path, endpoints, right, right, refused, "no signatures")
