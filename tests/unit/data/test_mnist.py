import gzip
import shutil
import struct

import numpy as np
import pytest
import tensorflow as tf

from fdl_tf2.data import download, mnist, pipeline, synthetic


def _write_idx(path, array):
    magic = 0x0800 | array.ndim
    header = struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def test_read_idx_returns_the_stored_images_and_labels(tmp_path):
    images = np.arange(3 * 28 * 28, dtype=np.uint32).reshape(3, 28, 28) % 256
    _write_idx(tmp_path / "images.gz", images)
    _write_idx(tmp_path / "labels.gz", np.array([7, 2, 1]))
    np.testing.assert_array_equal(mnist.read_idx(tmp_path / "images.gz"), images)
    np.testing.assert_array_equal(mnist.read_idx(tmp_path / "labels.gz"), [7, 2, 1])


def test_read_idx_rejects_truncated_and_foreign_files(tmp_path):
    _write_idx(tmp_path / "images.gz", np.zeros((3, 28, 28)))
    data = gzip.open(tmp_path / "images.gz").read()
    with gzip.open(tmp_path / "short.gz", "wb") as handle:
        handle.write(data[:-10])
    with pytest.raises(mnist.IdxFormatError, match="short.gz.*truncated"):
        mnist.read_idx(tmp_path / "short.gz")
    with gzip.open(tmp_path / "foreign.gz", "wb") as handle:
        handle.write(b"\x00\x00\x0d\x03" + bytes(20))
    with pytest.raises(mnist.IdxFormatError, match="magic"):
        mnist.read_idx(tmp_path / "foreign.gz")
    (tmp_path / "plain.gz").write_bytes(b"not gzip at all")
    with pytest.raises(mnist.IdxFormatError, match="plain.gz"):
        mnist.read_idx(tmp_path / "plain.gz")


def test_epoch_permutation_is_a_reproducible_per_epoch_shuffle():
    first = pipeline.epoch_permutation(1000, seed=3, epoch=0).numpy()
    assert sorted(first) == list(range(1000))
    np.testing.assert_array_equal(first, pipeline.epoch_permutation(1000, 3, 0).numpy())
    assert not np.array_equal(first, pipeline.epoch_permutation(1000, 3, 1).numpy())
    assert not np.array_equal(first, pipeline.epoch_permutation(1000, 4, 0).numpy())


def test_training_batches_cover_each_example_once_and_drop_the_remainder():
    inputs = np.arange(105, dtype=np.int32)
    dataset = pipeline.batched(
        inputs, inputs, batch_size=10, training=True, preprocess=lambda x, y: (x, y), epoch=2
    )
    seen = np.concatenate([x.numpy() for x, _ in dataset])
    assert len(seen) == 100 and len(set(seen)) == 100
    evaluation = pipeline.batched(
        inputs, inputs, batch_size=10, training=False, preprocess=lambda x, y: (x, y)
    )
    np.testing.assert_array_equal(np.concatenate([x for x, _ in evaluation]), inputs)


def test_classification_data_batches_have_the_model_input_shapes():
    flat = mnist.classification_data(dataset="synthetic")
    train = flat.dataset("train", batch_size=32, training=True)
    assert train.element_spec == (
        tf.TensorSpec((32, 784), tf.float32),
        tf.TensorSpec((32,), tf.int32),
    )
    images = mnist.classification_data(dataset="synthetic", view="image")
    test = images.dataset("test", batch_size=32, training=False)
    assert test.element_spec == (
        tf.TensorSpec((None, 28, 28, 1), tf.float32),
        tf.TensorSpec((None,), tf.int32),
    )
    batch, labels = next(iter(test))
    assert batch.shape == (32, 28, 28, 1) and labels.shape == (32,)
    assert 0.0 <= float(tf.reduce_min(batch)) and float(tf.reduce_max(batch)) <= 1.0
    assert images.serving_spec == tf.TensorSpec((None, 28, 28), tf.uint8)
    assert images.files == {} and mnist.files_read(dataset="synthetic") == {}
    subset = mnist.classification_data(dataset="synthetic", num_train_examples=300)
    assert subset.num_examples("train") == 300 and subset.num_examples("validation") == 500


def test_synthetic_arrays_match_the_real_dtypes():
    images, labels = synthetic.mnist_arrays("train")
    assert images.dtype == np.uint8 and images.shape[1:] == (28, 28)
    assert labels.dtype == np.uint8 and set(np.unique(labels)) == set(range(10))


def test_unknown_names_are_rejected():
    with pytest.raises(ValueError, match="Unknown dataset"):
        mnist.load_arrays("train", dataset="kmnist")
    with pytest.raises(ValueError, match="Unknown split"):
        mnist.load_arrays("dev", dataset="synthetic")
    with pytest.raises(ValueError, match="Unknown view"):
        mnist.preprocess_images_fn("grid")


@pytest.mark.data
def test_real_mnist_has_the_book_split(mnist_dir):
    sizes = {s: len(mnist.load_arrays(s, data_dir=mnist_dir)[0]) for s in mnist.SPLITS}
    assert sizes == {"train": 55_000, "validation": 5_000, "test": 10_000}
    # Validation is the *first* 5,000 training images (original file order).
    _, validation_labels = mnist.load_arrays("validation", data_dir=mnist_dir)
    np.testing.assert_array_equal(validation_labels[:10], [5, 0, 4, 1, 9, 2, 1, 3, 1, 4])
    test_images, test_labels = mnist.load_arrays("test", data_dir=mnist_dir)
    np.testing.assert_array_equal(test_labels[:10], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9])
    assert test_images.dtype == np.uint8 and test_images.shape == (10_000, 28, 28)
    assert np.bincount(test_labels).tolist() == [
        980,
        1135,
        1032,
        1010,
        982,
        892,
        958,
        1028,
        974,
        1009,
    ]


@pytest.mark.data
def test_real_and_synthetic_classification_data_agree(mnist_dir):
    for view in mnist.VIEWS:
        real = mnist.classification_data(view=view, data_dir=mnist_dir)
        fake = mnist.classification_data(view=view, dataset="synthetic")
        real_train = real.dataset("train", batch_size=100, training=True)
        fake_train = fake.dataset("train", batch_size=100, training=True)
        assert real_train.element_spec == fake_train.element_spec
        assert int(real_train.cardinality()) == 550
    images, _ = next(iter(real_train))
    assert 0.10 < float(tf.reduce_mean(images)) < 0.16  # MNIST mean pixel: 0.1307.
    assert sorted(real.files) == sorted(data_file.name for data_file in mnist.FILES["mnist"])
    assert real.files == mnist.files_read(dataset="mnist", data_dir=mnist_dir)


@pytest.mark.data
def test_a_corrupt_file_is_named_and_a_good_one_is_hashed_once(mnist_dir, tmp_path, monkeypatch):
    copy = tmp_path / "mnist"
    copy.mkdir()
    for data_file in mnist.FILES["mnist"]:
        shutil.copy(mnist_dir / "mnist" / data_file.name, copy / data_file.name)
    labels = copy / "t10k-labels-idx1-ubyte.gz"
    labels.write_bytes(labels.read_bytes()[:2000])
    with pytest.raises(
        download.ChecksumError, match="t10k-labels-idx1-ubyte.gz.*corrupt or truncated"
    ):
        download.ensure_files("mnist", mnist.FILES["mnist"], tmp_path)
    good = mnist.FILES["mnist"][0]
    download.verify(copy / good.name, good)

    def no_hashing(path):
        raise AssertionError(f"{path} was hashed again")

    monkeypatch.setattr(download, "sha256_of", no_hashing)
    download.verify(copy / good.name, good)  # Remembered: no second hash.
