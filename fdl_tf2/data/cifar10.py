"""CIFAR-10 from the project's offline TFRecords or from the canonical binary batches.

Book: chapter 5 (convolutional networks) trains on CIFAR-10 with train = the 50,000 training
images and test = the 10,000 test images; like the book, this module has no validation split.
Images are uint8 `(32, 32, 3)` in HWC order, labels 0..9 in the tfds/Keras order of
`LABEL_NAMES`. Reference: Krizhevsky, 2009, "Learning Multiple Layers of Features from Tiny
Images".

Two on-disk layouts under `<data root>/cifar10/` are accepted, tried in this order:

1. The offline copy (`FILES`): `train.tfrecord.gz`, `test.tfrecord.gz` (GZIP TFRecords of
   `tf.train.Example`s with `image` = JPEG bytes, `label` = int64, `id` = bytes) and
   `label_names.txt`. Its JPEGs are LOSSY re-encodings of the canonical pixels, so pixel
   statistics (and accuracies) differ slightly from published numbers.
2. The canonical binaries: `cifar-10-batches-bin/data_batch_{1..5}.bin`, `test_batch.bin` and
   `batches.meta.txt`, as extracted from `ARCHIVE_URL`. When neither layout is present and the
   machine is online, the archive is downloaded, verified against `ARCHIVE_SHA256` and its
   expected members extracted there.

Binary record format: 1 label byte, then 3072 pixel bytes in CHW order (the 32x32 red plane,
then green, then blue, each row-major), so a file is a whole number of 3,073-byte records.
"""

import functools
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import tensorflow as tf

from fdl_tf2.data import download, image_augment, paths, pipeline, synthetic

DATASET = "cifar10"
NUM_CLASSES = 10
IMAGE_SIZE = 32
NUM_CHANNELS = 3
SPLITS = ("train", "test")
SPLIT_SIZES = {"train": 50_000, "test": 10_000}
LABEL_NAMES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
"""Class names in label order (tfds/Keras order, same as the canonical `batches.meta.txt`)."""

# --- Layout 1: the offline copy (no download source of its own). ---
FILES: tuple[download.DataFile, ...] = (
    download.DataFile(
        "train.tfrecord.gz",
        ("9260f63f3bc394a31a4be214a534af47234128476dd101bf88b7a4c24cd9c44b",),
    ),
    download.DataFile(
        "test.tfrecord.gz",
        ("d985453b442011847301c1cfbb67b58ca9a34769bc6995b9b084d862d4c01b6a",),
    ),
    download.DataFile(
        "label_names.txt",
        ("2ce042b1e0b48db4bb214408e6414ba18b2731c24af244f2d6c112fddf31af00",),
    ),
)
_TFRECORD_NAMES = {"train": "train.tfrecord.gz", "test": "test.tfrecord.gz"}
_LABEL_NAMES_FILE = "label_names.txt"

# --- Layout 2: the canonical binaries and the archive they come from. ---
ARCHIVE_NAME = "cifar-10-binary.tar.gz"
ARCHIVE_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
ARCHIVE_SIZE = 170_052_171
ARCHIVE_SHA256 = "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"
BINARY_FOLDER = "cifar-10-batches-bin"
BINARY_FILES = {
    "train": tuple(f"data_batch_{index}.bin" for index in range(1, 6)),
    "test": ("test_batch.bin",),
}
_META_FILE = "batches.meta.txt"
_ARCHIVE_MEMBERS = (*BINARY_FILES["train"], *BINARY_FILES["test"], _META_FILE)
_PIXELS_PER_IMAGE = NUM_CHANNELS * IMAGE_SIZE * IMAGE_SIZE
RECORD_BYTES = 1 + _PIXELS_PER_IMAGE
"""Bytes per record of a canonical binary batch: 1 label byte + 3,072 pixel bytes."""

_DECODE_BATCH_SIZE = 2_048

DATASETS = (DATASET, "synthetic")
"""Names accepted by `load_arrays`; "synthetic" needs no files (see `synthetic.cifar10_arrays`)."""


class Cifar10FormatError(ValueError):
    """A CIFAR-10 file (binary batch, TFRecord or archive) whose contents are malformed."""


def _archive_file() -> download.DataFile:
    # Built on each call from the module constants, so tests can point them at a local server.
    return download.DataFile(ARCHIVE_NAME, (ARCHIVE_SHA256,), ARCHIVE_URL)


def _check_dataset_name(dataset: str) -> None:
    if dataset not in DATASETS:
        raise ValueError(f"Unknown dataset {dataset!r}; expected one of {DATASETS}.")


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"Unknown split {split!r}; expected one of {SPLITS}.")


# --- Readers. ---


def read_binary_batches(
    batch_paths: Iterable[str | os.PathLike],
) -> tuple[np.ndarray, np.ndarray]:
    """Reads canonical CIFAR-10 binary batch files, concatenated in the given order.

    Each record is `label (1 byte) | red plane (1024) | green plane (1024) | blue plane (1024)`,
    every plane a row-major 32x32 image; the planes are transposed to HWC.

    Args:
      batch_paths: the `.bin` files to read, e.g. `data_batch_1.bin` ... `data_batch_5.bin`.

    Returns:
      uint8 images of shape `(N, 32, 32, 3)` (HWC, RGB) and uint8 labels of shape `(N,)`.

    Raises:
      Cifar10FormatError: a file's size is not a multiple of 3,073 bytes, or a label is > 9.
    """
    all_images, all_labels = [], []
    for path in batch_paths:
        data = np.fromfile(path, dtype=np.uint8)
        if data.size % RECORD_BYTES:
            raise Cifar10FormatError(
                f"{path}: {data.size} bytes is not a multiple of the {RECORD_BYTES}-byte "
                "CIFAR-10 record (1 label byte + 3072 pixel bytes); it is truncated or not a "
                "CIFAR-10 binary batch."
            )
        records = data.reshape(-1, RECORD_BYTES)
        labels = records[:, 0]
        if labels.size and labels.max() >= NUM_CLASSES:
            raise Cifar10FormatError(
                f"{path}: label {int(labels.max())} is outside 0..{NUM_CLASSES - 1}; this is not "
                "a CIFAR-10 binary batch (CIFAR-100 records have 2 label bytes)."
            )
        # (N, 3072) -> (N, channels, rows, cols) -> (N, rows, cols, channels).
        planes = records[:, 1:].reshape(-1, NUM_CHANNELS, IMAGE_SIZE, IMAGE_SIZE)
        all_images.append(planes.transpose(0, 2, 3, 1))
        all_labels.append(labels)
    if not all_images:
        raise ValueError("read_binary_batches needs at least one file, got none.")
    return np.ascontiguousarray(np.concatenate(all_images)), np.concatenate(all_labels)


def _parse_example(serialized: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    # The `id` feature (source file name) is not needed for training, so it is not parsed.
    features = tf.io.parse_single_example(
        serialized,
        {
            "image": tf.io.FixedLenFeature([], tf.string),
            "label": tf.io.FixedLenFeature([], tf.int64),
        },
    )
    image = tf.io.decode_jpeg(features["image"], channels=NUM_CHANNELS)
    image = tf.ensure_shape(image, (IMAGE_SIZE, IMAGE_SIZE, NUM_CHANNELS))
    return image, features["label"]


def read_tfrecord(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Decodes every record of an offline-copy GZIP TFRecord file, in file order.

    The JPEGs are decoded once with a parallel tf.data map and batched, then concatenated into
    NumPy arrays (50,000 training images take a few seconds on two cores).

    Args:
      path: `train.tfrecord.gz` or `test.tfrecord.gz`.

    Returns:
      uint8 images of shape `(N, 32, 32, 3)` and uint8 labels of shape `(N,)`.

    Raises:
      Cifar10FormatError: the file cannot be decompressed or parsed, an image is not a 32x32
        RGB JPEG, or a label is outside 0..9.
    """
    records = tf.data.TFRecordDataset(str(path), compression_type="GZIP")
    decoded = records.map(_parse_example, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    image_batches, label_batches = [], []
    try:
        for images, labels in decoded.batch(_DECODE_BATCH_SIZE).as_numpy_iterator():
            image_batches.append(images)
            label_batches.append(labels)
    except tf.errors.OpError as error:
        raise Cifar10FormatError(
            f"{path}: not a readable CIFAR-10 GZIP TFRecord file ({error.message.strip()})."
        ) from error
    if not image_batches:
        raise Cifar10FormatError(f"{path}: contains no records.")
    labels = np.concatenate(label_batches)
    if labels.min() < 0 or labels.max() >= NUM_CLASSES:
        raise Cifar10FormatError(
            f"{path}: labels span {labels.min()}..{labels.max()}, expected 0..{NUM_CLASSES - 1}."
        )
    return np.concatenate(image_batches), labels.astype(np.uint8)


# --- Locating (and if need be downloading) a layout. ---


def _binary_paths(folder: Path, names: Iterable[str]) -> list[Path]:
    return [folder / BINARY_FOLDER / name for name in names]


def _has_offline_copy(folder: Path) -> bool:
    return all((folder / data_file.name).is_file() for data_file in FILES)


def _has_binaries(folder: Path) -> bool:
    return all(path.is_file() for path in _binary_paths(folder, _ARCHIVE_MEMBERS))


def _layouts_message(folder: Path) -> str:
    offline_names = ", ".join(data_file.name for data_file in FILES)
    binary_names = ", ".join(_ARCHIVE_MEMBERS)
    return (
        f"CIFAR-10 accepts either of two layouts under {folder}:\n"
        f"  1. the project's offline copy: {offline_names}\n"
        f"  2. the canonical binaries in {BINARY_FOLDER}/: {binary_names}\n"
        f"     (extracted from {ARCHIVE_URL}, {ARCHIVE_SIZE:,} bytes, sha256 {ARCHIVE_SHA256}; "
        f"placing the archive itself at {folder / ARCHIVE_NAME} also works)."
    )


def extract_archive(archive: str | os.PathLike, folder: str | os.PathLike) -> Path:
    """Extracts the expected members of `cifar-10-binary.tar.gz` into `folder/cifar-10-batches-bin`.

    Only the seven known member names are read, and each is written under a name taken from
    this module (never from the archive), so a malicious archive cannot write elsewhere. The
    members are staged in a temporary folder and moved into place only when all are present.

    Args:
      archive: the verified archive.
      folder: the dataset folder, `<data root>/cifar10`.

    Returns:
      The folder holding the extracted binaries.

    Raises:
      Cifar10FormatError: the archive is unreadable, lacks a member, or a member is not a
        regular file.
    """
    folder = Path(folder)
    expected = {f"{BINARY_FOLDER}/{name}": name for name in _ARCHIVE_MEMBERS}
    destination = folder / BINARY_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".extract-") as staging:
        found = set()
        try:
            with tarfile.open(archive, "r:gz") as tar:
                for member in tar:
                    name = expected.get(member.name.removeprefix("./"))
                    if name is None:
                        continue  # E.g. `readme.html`; unknown members are never written.
                    if not member.isfile():
                        raise Cifar10FormatError(
                            f"{archive}: member {member.name} is not a regular file."
                        )
                    source = tar.extractfile(member)
                    with source, open(Path(staging) / name, "wb") as target:
                        shutil.copyfileobj(source, target)
                    found.add(name)
        except (tarfile.TarError, OSError, EOFError) as error:
            raise Cifar10FormatError(
                f"{archive}: not a readable tar.gz archive ({error})."
            ) from error
        missing = sorted(set(_ARCHIVE_MEMBERS) - found)
        if missing:
            raise Cifar10FormatError(
                f"{archive}: members {[f'{BINARY_FOLDER}/{name}' for name in missing]} are "
                "missing; this is not the CIFAR-10 binary archive."
            )
        destination.mkdir(exist_ok=True)
        for name in _ARCHIVE_MEMBERS:
            os.replace(Path(staging) / name, destination / name)
    return destination


def _locate(split: str, root: Path) -> tuple[str, list[Path]]:
    """Returns `("tfrecord" | "binary", files of the split)`, downloading if need be."""
    folder = root / DATASET
    if _has_offline_copy(folder):
        split_files = [data_file for data_file in FILES if data_file.name == _TFRECORD_NAMES[split]]
        located = download.ensure_files(DATASET, split_files, root)
        return "tfrecord", [located[_TFRECORD_NAMES[split]]]
    if not _has_binaries(folder):
        try:
            located = download.ensure_files(DATASET, (_archive_file(),), root)
        except download.DatasetNotFoundError as error:
            raise download.DatasetNotFoundError(
                f"{_layouts_message(folder)}\nNeither is complete, and the canonical archive "
                f"could not be obtained:\n{error}"
            ) from error
        extract_archive(located[ARCHIVE_NAME], folder)
    return "binary", _binary_paths(folder, BINARY_FILES[split])


@functools.lru_cache(maxsize=4)
def _load_split(split: str, root: str) -> tuple[np.ndarray, np.ndarray]:
    layout, split_paths = _locate(split, Path(root))
    if layout == "tfrecord":
        images, labels = read_tfrecord(split_paths[0])
    else:
        images, labels = read_binary_batches(split_paths)
    # Read-only, so callers cannot corrupt the per-process cache.
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


# --- Public API. ---


def load_arrays(
    split: str, *, dataset: str = DATASET, data_dir: str | os.PathLike | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """A split as raw arrays: uint8 images `(N, 32, 32, 3)` and uint8 labels `(N,)`.

    Sizes: train 50,000, test 10,000 (synthetic: 2,000 and 500). The offline copy is used when
    present, else the canonical binaries (downloaded and extracted when online). Files are
    verified and decoded once per process; the arrays returned are read-only.

    Args:
      split: "train" or "test".
      dataset: "cifar10", or "synthetic" (no files; for tests).
      data_dir: dataset root override; None means `$FDL_DATA_DIR`, else the per-user cache.

    Raises:
      ValueError: unknown split or dataset.
      download.DatasetNotFoundError: neither layout is present and the archive cannot be
        downloaded (immediately when `FDL_OFFLINE=1`).
      download.ChecksumError: a file is present but corrupt or truncated (the message names it).
      Cifar10FormatError: a file passed its checks but is malformed.
    """
    _check_dataset_name(dataset)
    _check_split(split)
    if dataset == "synthetic":
        return synthetic.cifar10_arrays(split)
    return _load_split(split, str(paths.data_dir(data_dir)))


def files_read(
    *, dataset: str = DATASET, data_dir: str | os.PathLike | None = None
) -> dict[str, str]:
    """`{file name: sha256}` of the copy a run reads (for results.json provenance).

    Names are relative to `<data root>/cifar10/`: the three offline-copy files, or
    `cifar-10-batches-bin/*` for the canonical binaries (plus the archive when it is present).
    Call it after loading, which is what downloads and extracts the canonical copy.

    Args:
      dataset: "cifar10", or "synthetic" (no files: `{}`).
      data_dir: dataset root override.

    Returns:
      The file names and their SHA-256.

    Raises:
      download.DatasetNotFoundError: neither layout is present.
      download.ChecksumError: an offline-copy file or the archive is corrupt.
    """
    _check_dataset_name(dataset)
    if dataset == "synthetic":
        return {}
    folder = paths.data_dir(data_dir) / DATASET
    if _has_offline_copy(folder):
        return {
            data_file.name: download.verify(folder / data_file.name, data_file)
            for data_file in FILES
        }
    if _has_binaries(folder):
        digests = {
            f"{BINARY_FOLDER}/{path.name}": download.sha256_of(path)
            for path in _binary_paths(folder, _ARCHIVE_MEMBERS)
        }
        if (folder / ARCHIVE_NAME).is_file():
            digests[ARCHIVE_NAME] = download.verify(folder / ARCHIVE_NAME, _archive_file())
        return digests
    raise download.DatasetNotFoundError(f"{_layouts_message(folder)}\nNeither is present.")


def label_names(data_dir: str | os.PathLike | None = None) -> tuple[str, ...]:
    """Class names in label order, read from the copy on disk when it has them.

    Reads `label_names.txt` (offline copy) or `cifar-10-batches-bin/batches.meta.txt`
    (canonical), else returns `LABEL_NAMES`.

    Raises:
      Cifar10FormatError: the file does not list exactly 10 names.
    """
    folder = paths.data_dir(data_dir) / DATASET
    for path in (folder / _LABEL_NAMES_FILE, folder / BINARY_FOLDER / _META_FILE):
        if path.is_file():
            names = tuple(line.strip() for line in path.read_text().splitlines() if line.strip())
            if len(names) != NUM_CLASSES:
                raise Cifar10FormatError(
                    f"{path}: lists {len(names)} class names, expected {NUM_CLASSES}."
                )
            return names
    return LABEL_NAMES


BOOK_AUGMENT = image_augment.AugmentOptions()
"""The training distortions of the book's `cifar10_input.distorted_inputs`."""

SERVING_SPEC = tf.TensorSpec((None, IMAGE_SIZE, IMAGE_SIZE, NUM_CHANNELS), tf.uint8)
"""Raw client input of exported CIFAR-10 models: uint8 RGB pixels, 0-255, 32x32."""


def classification_data(
    *,
    dataset: str = DATASET,
    validation_size: int = 5_000,
    num_train_examples: int = 0,
    augment: image_augment.AugmentOptions | None = BOOK_AUGMENT,
    data_dir: str | os.PathLike | None = None,
) -> pipeline.ClassificationData:
    """CIFAR-10 for `loop.train`: the book's distorted training crops, centre-cropped eval.

    Training batches go through `image_augment.distort` (random 24x24 crop, flip, brightness,
    contrast, standardisation), evaluation batches and exported models through the centre
    24x24 crop and standardisation (`cifar10_input.inputs(eval_data=True)`). Model inputs are
    float32 `(batch, 24, 24, 3)`.

    Args:
      dataset: "cifar10", or "synthetic" (no files; for tests).
      validation_size: hold out the LAST N training images as the validation split (the
        records are in a fixed pseudo-random order). The book has no validation split and
        "validates" on test batches; 0 reproduces that: the validation split is the test set.
      num_train_examples: keep only the first N of the remaining training images (0 = all).
      augment: the training distortions; None trains on centre crops (no augmentation).
      data_dir: dataset root override.
    """
    images, labels = load_arrays("train", dataset=dataset, data_dir=data_dir)
    test = load_arrays("test", dataset=dataset, data_dir=data_dir)
    if not 0 <= validation_size < len(images):
        raise ValueError(f"validation_size must be in [0, {len(images)}), got {validation_size}.")
    num_train = len(images) - validation_size
    train = (images[:num_train], labels[:num_train])
    validation = (images[num_train:], labels[num_train:]) if validation_size else test
    if num_train_examples:
        train = (train[0][:num_train_examples], train[1][:num_train_examples])
    crop_size = (augment or BOOK_AUGMENT).crop_size

    def distort(batch: tf.Tensor, key: tf.Tensor) -> tf.Tensor:
        return image_augment.distort(batch, key, augment)

    return pipeline.ClassificationData(
        name=dataset,
        splits={"train": train, "validation": validation, "test": test},
        preprocess_inputs=lambda batch: image_augment.center_crop_and_standardize(batch, crop_size),
        preprocess_targets=lambda batch: tf.cast(batch, tf.int32),
        serving_spec=SERVING_SPEC,
        files=files_read(dataset=dataset, data_dir=data_dir),
        augment_inputs=distort if augment is not None else None,
    )
