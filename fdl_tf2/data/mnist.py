"""MNIST and Fashion-MNIST from IDX `.gz` files, split as the book splits them.

Book: chapter 3 (seed lines 1325-1398) reads MNIST through TF1's `input_data.read_data_sets`:
validation = the first 5,000 training images in file order, train = the other 55,000,
test = 10,000. Images become float32 in [0, 1]. (Keras `validation_split` takes the *last*
fraction, so it must not be used for this split.)

File format (IDX): big-endian magic 0x00000803 (images) / 0x00000801 (labels), big-endian
int32 dimensions, then raw uint8 data; gzip-compressed.
"""

import functools
import gzip
import os
import struct
from pathlib import Path

import numpy as np
import tensorflow as tf

from fdl_tf2.data import download, paths, pipeline, synthetic

NUM_CLASSES = 10
IMAGE_SIZE = 28
VALIDATION_SIZE = 5_000
SPLITS = ("train", "validation", "test")
VIEWS = ("flat", "image")

_MNIST_URL = "https://storage.googleapis.com/cvdf-datasets/mnist/"
_FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"

# Accepted digests: the project's offline copy first, then the canonical download.
FILES: dict[str, tuple[download.DataFile, ...]] = {
    "mnist": (
        download.DataFile(
            "train-images-idx3-ubyte.gz",
            (
                "71524e2cd1ad2968737f7f2f2ff69cbfc32df8ccddff51593f7cb2d4e0eb5b64",
                "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            ),
            _MNIST_URL + "train-images-idx3-ubyte.gz",
        ),
        download.DataFile(
            "train-labels-idx1-ubyte.gz",
            (
                "fe03b8bd7915f70bf5aa08be480aa413fbd85afcaa58b35d230d335f284fd88e",
                "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            ),
            _MNIST_URL + "train-labels-idx1-ubyte.gz",
        ),
        download.DataFile(
            "t10k-images-idx3-ubyte.gz",
            (
                "5634745efa576a17e7d4cf5cd9d09123c75e6538e5114267c2d156edaf519341",
                "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            ),
            _MNIST_URL + "t10k-images-idx3-ubyte.gz",
        ),
        download.DataFile(
            "t10k-labels-idx1-ubyte.gz",
            (
                "ae18e77e031ccde52407f794d123116439864147d33ac992975f85dd4dc42af6",
                "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
            ),
            _MNIST_URL + "t10k-labels-idx1-ubyte.gz",
        ),
    ),
    "fashion_mnist": (
        download.DataFile(
            "train-images-idx3-ubyte.gz",
            (
                "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
                "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            ),
            _FASHION_URL + "train-images-idx3-ubyte.gz",
        ),
        download.DataFile(
            "train-labels-idx1-ubyte.gz",
            (
                "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
                "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            ),
            _FASHION_URL + "train-labels-idx1-ubyte.gz",
        ),
        download.DataFile(
            "t10k-images-idx3-ubyte.gz",
            (
                "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
                "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            ),
            _FASHION_URL + "t10k-images-idx3-ubyte.gz",
        ),
        download.DataFile(
            "t10k-labels-idx1-ubyte.gz",
            (
                "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
                "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
            ),
            _FASHION_URL + "t10k-labels-idx1-ubyte.gz",
        ),
    ),
}

_IMAGES_MAGIC = 0x00000803
_LABELS_MAGIC = 0x00000801


class IdxFormatError(ValueError):
    """An IDX file whose header or length is wrong."""


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Reads a gzipped IDX file of unsigned bytes.

    Returns:
      uint8 array of shape `(count, rows, cols)` for images or `(count,)` for labels.

    Raises:
      IdxFormatError: unknown magic, or fewer/more bytes than the header announces.
    """
    try:
        with gzip.open(path, "rb") as handle:
            data = handle.read()
    except (OSError, EOFError) as error:
        raise IdxFormatError(f"{path}: not a readable gzip file ({error}).") from error
    if len(data) < 8:
        raise IdxFormatError(f"{path}: {len(data)} bytes is too short for an IDX header.")
    (magic,) = struct.unpack(">I", data[:4])
    if magic not in (_IMAGES_MAGIC, _LABELS_MAGIC):
        raise IdxFormatError(f"{path}: magic number {magic:#010x} is not an IDX uint8 file.")
    num_dims = magic & 0xFF
    header_size = 4 + 4 * num_dims
    shape = struct.unpack(f">{num_dims}I", data[4:header_size])
    expected = header_size + int(np.prod(shape))
    if len(data) != expected:
        raise IdxFormatError(
            f"{path}: header announces shape {shape} ({expected} bytes) but the file has "
            f"{len(data)} bytes; it is truncated or corrupt."
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header_size).reshape(shape)


DATASETS = (*FILES, "synthetic")
"""Names accepted by `load_arrays`; "synthetic" needs no files (see `synthetic.mnist_arrays`)."""


def _check_dataset_name(dataset: str) -> None:
    if dataset not in DATASETS:
        raise ValueError(f"Unknown dataset {dataset!r}; expected one of {DATASETS}.")


@functools.lru_cache(maxsize=4)
def _load_splits(dataset: str, root: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    located = download.ensure_files(dataset, FILES[dataset], root)
    train_images = read_idx(located["train-images-idx3-ubyte.gz"])
    train_labels = read_idx(located["train-labels-idx1-ubyte.gz"])
    test_images = read_idx(located["t10k-images-idx3-ubyte.gz"])
    test_labels = read_idx(located["t10k-labels-idx1-ubyte.gz"])
    for images, labels in ((train_images, train_labels), (test_images, test_labels)):
        if len(images) != len(labels):
            raise IdxFormatError(f"{dataset}: {len(images)} images but {len(labels)} labels.")
    return {
        "train": (train_images[VALIDATION_SIZE:], train_labels[VALIDATION_SIZE:]),
        "validation": (train_images[:VALIDATION_SIZE], train_labels[:VALIDATION_SIZE]),
        "test": (test_images, test_labels),
    }


def load_arrays(
    split: str, *, dataset: str = "mnist", data_dir: str | os.PathLike | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The book's split as raw arrays: uint8 images `(N, 28, 28)` and uint8 labels `(N,)`.

    Sizes: train 55,000, validation 5,000 (the first 5,000 training images), test 10,000.
    Files are verified once per process (and their checksum remembered across processes).
    """
    _check_dataset_name(dataset)
    if split not in SPLITS:
        raise ValueError(f"Unknown split {split!r}; expected one of {SPLITS}.")
    if dataset == "synthetic":
        return synthetic.mnist_arrays(split)
    return _load_splits(dataset, str(paths.data_dir(data_dir)))[split]


def files_read(
    *, dataset: str = "mnist", data_dir: str | os.PathLike | None = None
) -> dict[str, str]:
    """`{file name: sha256}` of the files a run reads (for results.json provenance).

    Args:
      dataset: "mnist", "fashion_mnist" or "synthetic" (no files: `{}`).
      data_dir: dataset root override.

    Returns:
      The four IDX file names under `<data root>/<dataset>/` and their SHA-256.

    Raises:
      FileNotFoundError: a file is missing (`load_arrays` first, which names what is missing).
      download.ChecksumError: a file is corrupt.
    """
    _check_dataset_name(dataset)
    if dataset == "synthetic":
        return {}
    root = Path(paths.data_dir(data_dir)) / dataset
    return {
        data_file.name: download.verify(root / data_file.name, data_file)
        for data_file in FILES[dataset]
    }


def preprocess_images_fn(view: str = "flat"):
    """uint8 images `(batch, 28, 28)` -> float32 in [0, 1].

    Views: "flat" gives `(batch, 784)` (the book's chapter-3 input), "image" gives
    `(batch, 28, 28, 1)` (for convnets).
    """
    if view not in VIEWS:
        raise ValueError(f"Unknown view {view!r}; expected one of {VIEWS}.")
    shape = (-1, IMAGE_SIZE * IMAGE_SIZE) if view == "flat" else (-1, IMAGE_SIZE, IMAGE_SIZE, 1)

    def preprocess_images(images: tf.Tensor) -> tf.Tensor:
        return tf.reshape(tf.cast(images, tf.float32) / 255.0, shape)

    return preprocess_images


def preprocess_labels_fn(one_hot: bool = False):
    """uint8 labels `(batch,)` -> int32 `(batch,)`, or one-hot float32 `(batch, 10)`."""

    def preprocess_labels(labels: tf.Tensor) -> tf.Tensor:
        labels = tf.cast(labels, tf.int32)
        return tf.one_hot(labels, NUM_CLASSES, dtype=tf.float32) if one_hot else labels

    return preprocess_labels


def preprocess_fn(view: str = "flat", one_hot: bool = False) -> pipeline.Preprocess:
    """`(images, labels)` batch preprocessing; see `preprocess_images_fn`/`preprocess_labels_fn`."""
    preprocess_images, preprocess_labels = preprocess_images_fn(view), preprocess_labels_fn(one_hot)
    return lambda images, labels: (preprocess_images(images), preprocess_labels(labels))


SERVING_SPEC = tf.TensorSpec((None, IMAGE_SIZE, IMAGE_SIZE), tf.uint8)
"""Raw client input of exported MNIST models: uint8 pixels, 0-255."""


def classification_data(
    *,
    dataset: str = "mnist",
    view: str = "flat",
    num_train_examples: int = 0,
    data_dir: str | os.PathLike | None = None,
) -> pipeline.ClassificationData:
    """The book's three splits, in memory, for `loop.train` (integer labels).

    Args:
      dataset: "mnist", "fashion_mnist" or "synthetic".
      view: "flat" or "image" model inputs.
      num_train_examples: keep only the first N training examples (0 = all 55,000).
      data_dir: dataset root override.
    """
    splits = {split: load_arrays(split, dataset=dataset, data_dir=data_dir) for split in SPLITS}
    if num_train_examples:
        images, labels = splits["train"]
        splits["train"] = (images[:num_train_examples], labels[:num_train_examples])
    return pipeline.ClassificationData(
        name=dataset,
        splits=splits,
        preprocess_inputs=preprocess_images_fn(view),
        preprocess_targets=preprocess_labels_fn(False),
        serving_spec=SERVING_SPEC,
        files=files_read(dataset=dataset, data_dir=data_dir),
    )
