"""SavedModel export in the TF Serving layout, with preprocessing in the graph, self-verified.

    saved_models/<model_name>/<version>/   saved_model.pb, variables/, assets/
    saved_models/<model_name>/README.md    signature, outputs, metric of each version

The `serving_default` signature of a classifier takes raw uint8 pixels and returns
`probabilities` (float32, `(batch, classes)`) and `class_ids` (int64, `(batch,)`), so a client
needs no knowledge of the model's normalisation. `export_classifier` reloads the export in a
fresh Python process and checks its outputs against the in-memory model before returning.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

SIGNATURE_KEY = "serving_default"
INPUT_NAME = "images"
_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")


class ExportVerificationError(RuntimeError):
    """A freshly exported SavedModel did not reproduce the in-memory model."""


def next_version(model_dir: Path) -> int:
    """The next free integer version under `model_dir` (1 for a new model)."""
    versions = [int(p.name) for p in Path(model_dir).glob("*") if p.name.isdigit()]
    return max(versions, default=0) + 1


def classifier_serving_fn(
    model: keras.Model,
    preprocess: Callable[[tf.Tensor], tf.Tensor],
    input_spec: tf.TensorSpec | None = None,
) -> Callable[[tf.Tensor], dict[str, tf.Tensor]]:
    """`images -> {"probabilities", "class_ids"}` with `preprocess` applied in the graph.

    Loaded signatures do not check the rank or shape of what a client sends, so the graph
    checks it at run time (`tf.ensure_shape`) and answers a wrong shape with an error.
    """

    def serve(images):
        if input_spec is not None:
            images = tf.ensure_shape(images, input_spec.shape)
        logits = tf.cast(model(preprocess(images), training=False), tf.float32)
        return {
            "probabilities": tf.nn.softmax(logits, axis=-1),
            "class_ids": tf.argmax(logits, axis=-1, output_type=tf.int64),
        }

    return serve


def export_classifier(
    model: keras.Model,
    *,
    name: str,
    input_spec: tf.TensorSpec,
    preprocess: Callable[[tf.Tensor], tf.Tensor],
    sample: np.ndarray,
    export_dir: str | os.PathLike = "saved_models",
    version: int | None = None,
    description: dict[str, Any] | None = None,
    verify: bool = True,
) -> Path:
    """Exports `model` to `<export_dir>/<name>/<version>/` and verifies the export.

    Args:
      model: a classifier returning logits `(batch, classes)`.
      name: lower-case snake_case model name, e.g. `mnist_mlp`.
      input_spec: the raw client input, e.g. `TensorSpec((None, 28, 28), tf.uint8)`.
      preprocess: raw input -> model input, traced into the signature.
      sample: a few raw inputs matching `input_spec`, used for verification.
      export_dir: the model repository root.
      version: positive integer; None takes the next free one. Existing versions are never
        overwritten.
      description: extra facts for the README (metric, dataset, experiment).
      verify: reload in a fresh process and compare outputs (and run `saved_model_cli`).

    Returns:
      The version directory.

    Raises:
      ValueError: a bad name or an existing version.
      ExportVerificationError: the reloaded model disagrees with the in-memory one.
    """
    if not _NAME_PATTERN.match(name):
        raise ValueError(f"Model name must be lower-case snake_case; got {name!r}.")
    model_dir = Path(export_dir) / name
    version = version or next_version(model_dir)
    if version <= 0:
        raise ValueError(f"Version must be a positive integer; got {version}.")
    path = model_dir / str(version)
    if path.exists():
        raise ValueError(f"{path} already exists; versions are never overwritten.")

    serve = classifier_serving_fn(model, preprocess, input_spec)
    spec = tf.TensorSpec(input_spec.shape, input_spec.dtype, name=INPUT_NAME)
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(SIGNATURE_KEY, serve, input_signature=[spec])
    model_dir.mkdir(parents=True, exist_ok=True)
    # Write to a temporary folder first: TF Serving must never see a half-written version.
    staging = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=model_dir))
    try:
        archive.write_out(str(staging), verbose=False)
        if verify:
            expected = {key: value.numpy() for key, value in serve(tf.constant(sample)).items()}
            verify_export(staging, sample, expected)
        os.replace(staging, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _write_readme(model_dir, version, input_spec, description or {})
    return path


_VERIFY_SCRIPT = """
import json, sys
import numpy as np
import tensorflow as tf
path, sample_file, out_file = sys.argv[1:4]
loaded = tf.saved_model.load(path)
fn = loaded.signatures["serving_default"]
sample = np.load(sample_file)
outputs = {k: v.numpy() for k, v in fn(images=tf.constant(sample)).items()}
np.savez(out_file, **outputs)
print(json.dumps({k: [str(t.dtype.name), t.shape.as_list()]
                  for k, t in fn.structured_outputs.items()}))
"""


def verify_export(path: Path, sample: np.ndarray, expected: dict[str, np.ndarray]) -> None:
    """Loads `path` in a fresh process; compares outputs; checks `saved_model_cli show`.

    The two subprocesses run concurrently (each spends most of its time importing TF).

    Raises:
      ExportVerificationError: on any mismatch or failure.
    """
    show = _start_show(path)
    with tempfile.TemporaryDirectory() as scratch:
        sample_file = os.path.join(scratch, "sample.npy")
        out_file = os.path.join(scratch, "outputs.npz")
        np.save(sample_file, sample)
        result = subprocess.run(
            [sys.executable, "-c", _VERIFY_SCRIPT, str(path), sample_file, out_file],
            capture_output=True,
            text=True,
            env=_SUBPROCESS_ENV,
        )
        if result.returncode != 0:
            show.kill()
            raise ExportVerificationError(f"Reloading {path} failed:\n{result.stderr[-2000:]}")
        reloaded = dict(np.load(out_file))
    shown = _finish_show(path, show)
    for key, value in expected.items():
        if key not in reloaded:
            raise ExportVerificationError(f"Reloaded signature lacks output {key!r}.")
        if value.dtype.kind == "f":
            close = np.allclose(reloaded[key], value, rtol=1e-5, atol=1e-6)
        else:
            close = np.array_equal(reloaded[key], value)
        if not close:
            raise ExportVerificationError(f"Output {key!r} of {path} differs after reloading.")
    if SIGNATURE_KEY not in shown or INPUT_NAME not in shown:
        raise ExportVerificationError(f"saved_model_cli does not list {SIGNATURE_KEY}:\n{shown}")


_SUBPROCESS_ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}


def _start_show(path: str | os.PathLike) -> subprocess.Popen:
    cli = shutil.which("saved_model_cli") or os.path.join(
        os.path.dirname(sys.executable), "saved_model_cli"
    )
    return subprocess.Popen(
        [cli, "show", "--all", "--dir", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_SUBPROCESS_ENV,
    )


def _finish_show(path: str | os.PathLike, process: subprocess.Popen) -> str:
    stdout, stderr = process.communicate()
    if process.returncode != 0:
        raise ExportVerificationError(f"saved_model_cli failed on {path}:\n{stderr[-2000:]}")
    return stdout


def show_signature(path: str | os.PathLike) -> str:
    """The output of `saved_model_cli show --all --dir <path>`."""
    return _finish_show(path, _start_show(path))


def _write_readme(
    model_dir: Path, version: int, input_spec: tf.TensorSpec, description: dict[str, Any]
) -> None:
    shape = [None if d is None else int(d) for d in input_spec.shape]
    history_file = model_dir / "versions.json"
    history = json.loads(history_file.read_text()) if history_file.exists() else {}
    history[str(version)] = description
    history_file.write_text(json.dumps(history, indent=2, sort_keys=True) + "\n")
    rows = "\n".join(
        f"| {v} | {', '.join(f'{k}: {val}' for k, val in sorted(facts.items()))} |"
        for v, facts in sorted(history.items(), key=lambda item: int(item[0]))
    )
    name = model_dir.name
    model_dir.joinpath("README.md").write_text(
        f"# {name}\n\n"
        "TF Serving model repository entry written by `fdl_tf2.export.saved_model`.\n\n"
        f"Signature `{SIGNATURE_KEY}`:\n"
        f"- input `{INPUT_NAME}`: {input_spec.dtype.name} of shape {shape}, raw pixels "
        "(0-255; normalisation happens inside the graph);\n"
        "- output `probabilities`: float32 `(batch, classes)`, softmax of the logits;\n"
        "- output `class_ids`: int64 `(batch,)`, the most probable class.\n\n"
        "| version | facts |\n|---|---|\n"
        f"{rows}\n"
    )
