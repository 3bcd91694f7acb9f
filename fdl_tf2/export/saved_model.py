"""SavedModel export in the TF Serving layout: any endpoints, each verified in a fresh process.

    saved_models/<model_name>/<version>/   saved_model.pb, variables/, assets/
    saved_models/<model_name>/README.md    signatures, and the facts of each version
    saved_models/<model_name>/versions.json

    path = export("mnist_mlp",
                  endpoints={"serving_default": classifier_endpoint(model, preprocess, spec)},
                  samples={"serving_default": (raw_images,)}, track=[model], facts={...})

An endpoint is `(function, input_signature)`: a function of raw client inputs (pixels,
strings, frames) returning a dict of named tensors, and one named `tf.TensorSpec` per
argument. A model with several endpoints (an autoencoder's `encode` and `decode`) passes
them all. Before a version becomes visible, every endpoint is checked:
- a fresh Python process reloads the export and reproduces the in-memory outputs on `samples`;
- the same process sends each input a wrong dtype and a wrong rank, which must be refused;
- `saved_model_cli show --all` lists every signature and input.
Loaded signatures do not check shapes themselves, so each endpoint checks its inputs with
`tf.ensure_shape` in the graph. Versions are never overwritten.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

SIGNATURE_KEY = "serving_default"
_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")

Endpoint = tuple[Callable[..., Mapping[str, tf.Tensor]], Sequence[tf.TensorSpec]]
"""`(function of the raw inputs -> {output name: tensor}, one named TensorSpec per input)`."""


class ExportVerificationError(RuntimeError):
    """A freshly exported SavedModel did not reproduce the in-memory model."""


def next_version(model_dir: Path) -> int:
    """The next free integer version under `model_dir` (1 for a new model)."""
    versions = [int(p.name) for p in Path(model_dir).glob("*") if p.name.isdigit()]
    return max(versions, default=0) + 1


def classifier_endpoint(
    model: keras.Model,
    preprocess: Callable[[tf.Tensor], tf.Tensor],
    input_spec: tf.TensorSpec,
    input_name: str = "images",
) -> Endpoint:
    """`images -> {"probabilities", "class_ids"}` with `preprocess` applied in the graph.

    Args:
      model: returns logits `(batch, classes)`.
      preprocess: raw input -> model input, traced into the signature.
      input_spec: the raw client input, e.g. uint8 `(None, 28, 28)`.
    """

    def classify(images):
        logits = tf.cast(model(preprocess(images), training=False), tf.float32)
        return {
            "probabilities": tf.nn.softmax(logits, axis=-1),
            "class_ids": tf.argmax(logits, axis=-1, output_type=tf.int64),
        }

    return classify, [tf.TensorSpec(input_spec.shape, input_spec.dtype, name=input_name)]


def _checked(function: Callable, specs: Sequence[tf.TensorSpec]) -> Callable:
    """`function` behind a run-time shape check of every input (loaded signatures lack one)."""

    def endpoint(*inputs):
        inputs = [tf.ensure_shape(x, spec.shape) for x, spec in zip(inputs, specs, strict=True)]
        return function(*inputs)

    return endpoint


def _validate(endpoints: Mapping[str, Endpoint], samples: Mapping[str, Sequence]) -> None:
    if not endpoints:
        raise ValueError("export needs at least one endpoint.")
    for key, (_, specs) in endpoints.items():
        names = [spec.name for spec in specs]
        if not all(names) or len(set(names)) != len(names):
            raise ValueError(f"Endpoint {key!r}: every input spec needs a unique name: {names}.")
        if key not in samples:
            raise ValueError(f"Endpoint {key!r} has no sample inputs to verify it with.")
        if len(samples[key]) != len(specs):
            raise ValueError(
                f"Endpoint {key!r} takes {len(specs)} inputs; got {len(samples[key])} samples."
            )


def export(
    model_name: str,
    *,
    endpoints: Mapping[str, Endpoint],
    samples: Mapping[str, Sequence[np.ndarray]],
    track: Sequence[Any] = (),
    facts: Mapping[str, Any] | None = None,
    export_dir: str | os.PathLike = "saved_models",
    version: int | None = None,
    verify: bool = True,
) -> Path:
    """Exports `endpoints` to `<export_dir>/<model_name>/<version>/` and verifies them.

    Args:
      model_name: lower-case snake_case, e.g. `mnist_mlp`.
      endpoints: signature key -> `(function, input_signature)`; the function takes one
        tensor per spec and returns a dict of tensors. Use `SIGNATURE_KEY` for the default.
      samples: signature key -> one raw array per input, for verification.
      track: the Keras models / layers whose variables the functions use.
      facts: what the README and versions.json record for this version (metric, dataset).
      export_dir: the model repository root.
      version: positive integer; None takes the next free one. Existing versions are never
        overwritten.
      verify: reload in a fresh process, compare outputs, check that wrong dtypes and ranks
        are refused, and run `saved_model_cli show`.

    Returns:
      The version directory.

    Raises:
      ValueError: a bad name, an existing version, unnamed inputs or missing samples.
      ExportVerificationError: the reloaded export disagrees with the in-memory functions.
    """
    if not _NAME_PATTERN.match(model_name):
        raise ValueError(f"Model name must be lower-case snake_case; got {model_name!r}.")
    _validate(endpoints, samples)
    model_dir = Path(export_dir) / model_name
    version = version or next_version(model_dir)
    if version <= 0:
        raise ValueError(f"Version must be a positive integer; got {version}.")
    path = model_dir / str(version)
    if path.exists():
        raise ValueError(f"{path} already exists; versions are never overwritten.")

    archive = keras.export.ExportArchive()
    for trackable in track:
        archive.track(trackable)
    functions = {}
    for key, (function, specs) in endpoints.items():
        functions[key] = archive.add_endpoint(key, _checked(function, specs), list(specs))
    model_dir.mkdir(parents=True, exist_ok=True)
    # Write to a temporary folder first: TF Serving must never see a half-written version.
    staging = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=model_dir))
    try:
        archive.write_out(str(staging), verbose=False)
        if verify:
            expected = {
                key: {
                    name: value.numpy()
                    for name, value in functions[key](*map(tf.constant, samples[key])).items()
                }
                for key in endpoints
            }
            verify_export(staging, endpoints, samples, expected)
        os.replace(staging, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    outputs = {
        key: functions[key].get_concrete_function(*specs).structured_outputs
        for key, (_, specs) in endpoints.items()
    }
    _write_readme(model_dir, version, endpoints, outputs, facts or {})
    return path


_VERIFY_SCRIPT = """
import json, sys
import numpy as np
import tensorflow as tf
path, plan_file, out_dir = sys.argv[1:4]
plan = json.load(open(plan_file))
loaded = tf.saved_model.load(path)
report = {}
for key, inputs in plan.items():
    fn = loaded.signatures[key]
    arrays = {name: np.load(file) for name, file in inputs.items()}
    tensors = {name: tf.constant(array) for name, array in arrays.items()}
    outputs = {name: value.numpy() for name, value in fn(**tensors).items()}
    # String outputs come back as object arrays; fixed-width bytes load without pickling.
    outputs = {n: v.astype(np.bytes_) if v.dtype == object else v for n, v in outputs.items()}
    np.savez(f"{out_dir}/{key}.npz", **outputs)
    refused = {}
    for name, array in arrays.items():
        if array.dtype.kind in "SUO":
            wrong_dtype = np.zeros(array.shape, np.int32)
        else:
            wrong_dtype = array.astype(np.float64 if array.dtype != np.float64 else np.int32)
        wrong_rank = array[..., None]
        for label, bad in (("dtype", wrong_dtype), ("rank", wrong_rank)):
            try:
                fn(**{**tensors, name: tf.constant(bad)})
                refused[f"{name}:{label}"] = False
            except (TypeError, ValueError, tf.errors.InvalidArgumentError):
                refused[f"{name}:{label}"] = True
    report[key] = refused
print(json.dumps(report))
"""


def verify_export(
    path: Path,
    endpoints: Mapping[str, Endpoint],
    samples: Mapping[str, Sequence[np.ndarray]],
    expected: Mapping[str, Mapping[str, np.ndarray]],
) -> str:
    """Loads `path` in a fresh process and checks every endpoint (see the module doc).

    The `saved_model_cli` subprocess runs concurrently (each spends most of its time
    importing TF).

    Returns:
      What `saved_model_cli show --all` printed.

    Raises:
      ExportVerificationError: on any mismatch or failure.
    """
    show = _start_show(path)
    with tempfile.TemporaryDirectory() as scratch:
        plan = {}
        for key, (_, specs) in endpoints.items():
            plan[key] = {}
            for spec, array in zip(specs, samples[key], strict=True):
                file = os.path.join(scratch, f"{key}.{spec.name}.npy")
                np.save(file, np.asarray(array))
                plan[key][spec.name] = file
        plan_file = os.path.join(scratch, "plan.json")
        Path(plan_file).write_text(json.dumps(plan))
        result = subprocess.run(
            [sys.executable, "-c", _VERIFY_SCRIPT, str(path), plan_file, scratch],
            capture_output=True,
            text=True,
            env=_SUBPROCESS_ENV,
        )
        if result.returncode != 0:
            show.kill()
            raise ExportVerificationError(f"Reloading {path} failed:\n{result.stderr[-2000:]}")
        refused = json.loads(result.stdout.strip().splitlines()[-1])
        reloaded = {key: dict(np.load(os.path.join(scratch, f"{key}.npz"))) for key in endpoints}
    shown = _finish_show(path, show)
    check_reloaded(path, endpoints, expected, reloaded, refused, shown)
    return shown


def check_reloaded(
    path: str | os.PathLike,
    endpoints: Mapping[str, Endpoint],
    expected: Mapping[str, Mapping[str, np.ndarray]],
    reloaded: Mapping[str, Mapping[str, np.ndarray]],
    refused: Mapping[str, Mapping[str, bool]],
    shown: str,
) -> None:
    """`verify_export`'s verdict on what the fresh process returned.

    Args:
      expected, reloaded: signature key -> output name -> array, in memory and reloaded.
      refused: signature key -> "input:dtype" / "input:rank" -> whether the reload refused it.
      shown: the `saved_model_cli show --all` listing.

    Raises:
      ExportVerificationError: a missing or differing output, an accepted wrong input, or a
        signature or input that the listing lacks.
    """
    for key, outputs in expected.items():
        for name, value in outputs.items():
            if name not in reloaded[key]:
                raise ExportVerificationError(f"Reloaded signature {key!r} lacks output {name!r}.")
            if value.dtype.kind == "f":
                close = np.allclose(reloaded[key][name], value, rtol=1e-5, atol=1e-6)
            else:
                close = np.array_equal(reloaded[key][name], value)
            if not close:
                raise ExportVerificationError(
                    f"Output {name!r} of signature {key!r} of {path} differs after reloading."
                )
        accepted = [check for check, ok in refused[key].items() if not ok]
        if accepted:
            raise ExportVerificationError(
                f"Signature {key!r} of {path} accepted wrong inputs: {accepted}."
            )
    for key, (_, specs) in endpoints.items():
        missing = [name for name in (key, *(spec.name for spec in specs)) if name not in shown]
        if missing:
            raise ExportVerificationError(f"saved_model_cli does not list {missing}:\n{shown}")


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


def _describe(spec: tf.TensorSpec) -> str:
    shape = [None if d is None else int(d) for d in spec.shape]
    return f"{spec.dtype.name} {shape}"


def _write_readme(
    model_dir: Path,
    version: int,
    endpoints: Mapping[str, Endpoint],
    outputs: Mapping[str, Mapping[str, tf.Tensor]],
    facts: Mapping[str, Any],
) -> None:
    history_file = model_dir / "versions.json"
    history = json.loads(history_file.read_text()) if history_file.exists() else {}
    history[str(version)] = dict(facts)
    history_file.write_text(json.dumps(history, indent=2, sort_keys=True) + "\n")
    rows = "\n".join(
        f"| {v} | {', '.join(f'{k}: {val}' for k, val in sorted(entry.items()))} |"
        for v, entry in sorted(history.items(), key=lambda item: int(item[0]))
    )
    signatures = []
    for key, (_, specs) in endpoints.items():
        inputs = ", ".join(f"`{spec.name}`: {_describe(spec)}" for spec in specs)
        described = ", ".join(
            f"`{name}`: {_describe(tf.TensorSpec(t.shape, t.dtype))}"
            for name, t in sorted(outputs[key].items())
        )
        signatures.append(f"- `{key}`: inputs {inputs}; outputs {described}.")
    model_dir.joinpath("README.md").write_text(
        f"# {model_dir.name}\n\n"
        "TF Serving model repository entry written by `fdl_tf2.export.saved_model`. Inputs are\n"
        "raw (pixels 0-255, strings, frames); preprocessing happens inside the graph.\n\n"
        "Signatures:\n" + "\n".join(signatures) + "\n\n"
        "| version | facts |\n|---|---|\n"
        f"{rows}\n"
    )
