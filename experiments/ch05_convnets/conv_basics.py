"""
Title: Convolution basics: output sizes, the Fig. 5.11 layer, line detectors, pooling
Book: Chapter 5, "Convolutional Neural Networks" (seed lines 1998-2134, 2336-2344, 2489-2493)
Description: Size formulas vs Keras vs the book's ceiling; Figs. 5.5/5.6, 5.11/5.12, 5.16, pooling.
Expected result: floor = Keras on 21/21 rows; book's ceil +1 on 4/10 conv rows; Fig. 5.11 56 params

Spec ch04-05 §2.2-§2.3, checklist C5-1, C5-2, C5-3, C5-11 and erratum §5.1 item 12. Nothing is
trained. The run prints and stores (results.json) a table of output sizes for the book's
examples and a few classic layers: the floor formula w_out = floor((w - e + 2p) / s) + 1, what
Keras actually produces (`ZeroPadding2D(p)` + `Conv2D(..., padding="valid")`, `MaxPooling2D`,
and `padding="same"`, whose size is ceil(w / s)), and the book's printed ceiling, which is one
too large whenever s does not divide w - e + 2p (e.g. AlexNet's 224-pixel input with an 11x11
filter, p = 2, s = 4: 55 in Keras, 56 by the printed formula).

Figures:
- fig5_5_6_feature_maps: a binary "H/" drawing, the vertical and horizontal 3x3 line detectors
  as a fixed `Conv2D(2, 3, use_bias=False)`, their feature maps and the lines found (Fig. 5.6).
- fig5_11_conv_example: the worked example of Figs. 5.11-5.12 with small integers: the padded
  5x5x3 input, the two 3x3x3 filters and biases, and the 3x3x2 output, with the windows of the
  first two outputs (stride 2) marked.
- fig5_16_cifar_samples: CIFAR-10 training images, one row per class (the book shows a dog).
- pooling_demo: a CIFAR-10 dog max-pooled 2x2/2 (32 -> 16) and 3x3/2 (32 -> 15), and
  fractionally max-pooled with ratio sqrt(2) (32 -> 22) over a pseudo-random partition.
"""

import dataclasses

import keras
import numpy as np

from fdl_tf2 import config as config_lib
from fdl_tf2.data import cifar10
from fdl_tf2.foundations import convolution
from fdl_tf2.training import runs
from fdl_tf2.viz import convolution as convolution_figures
from fdl_tf2.viz import samples

EXPERIMENT_ID = "ch05.conv_basics"

FIGURES = (
    "fig5_5_6_feature_maps",
    "fig5_11_conv_example",
    "fig5_16_cifar_samples",
    "pooling_demo",
)  # Written to figures/ by every run (checked by the smoke tests).

# (name, w, e, p, s): the book's examples and classic layers, some where the ceiling is wrong.
CONV_EXAMPLES = (
    ("Fig. 5.11: 5x5x3, p=1, 3x3 filters, s=2", 5, 3, 1, 2),
    ("MNIST conv1: 28x28, 5x5, p=2, s=1", 28, 5, 2, 1),
    ("MNIST conv2: 14x14, 5x5, p=2, s=1", 14, 5, 2, 1),
    ("CIFAR-10 conv1: 24x24 crop, 5x5, p=2, s=1", 24, 5, 2, 1),
    ("VGG: 224x224, 3x3, p=1, s=1", 224, 3, 1, 1),
    ("AlexNet conv1: 227x227, 11x11, p=0, s=4", 227, 11, 0, 4),
    ("AlexNet paper: 224x224, 11x11, p=2, s=4", 224, 11, 2, 4),
    ("ResNet stem: 224x224, 7x7, p=3, s=2", 224, 7, 3, 2),
    ("32x32, 5x5, p=0, s=2", 32, 5, 0, 2),
    ("6x6, 3x3, p=0, s=2", 6, 3, 0, 2),
)
# (name, w, e, s) of "valid" max pooling; the book's two variants are (2, 2) and (3, 2).
POOL_EXAMPLES = (
    ("MNIST pool1: 28, 2x2/2", 28, 2, 2),
    ("MNIST pool2: 14, 2x2/2", 14, 2, 2),
    ("32, 2x2/2 (non-overlapping)", 32, 2, 2),
    ("32, 3x3/2 (overlapping)", 32, 3, 2),
    ("AlexNet: 55, 3x3/2", 55, 3, 2),
    ("7, 2x2/2 (odd width)", 7, 2, 2),
)
# (name, kind, w, e, s) with padding="same": output ceil(w / s) whatever e is.
SAME_EXAMPLES = (
    ("MNIST conv 'SAME': 28, 5x5/1", "conv", 28, 5, 1),
    ("MNIST pool 'SAME': 28, 2x2/2", "pool", 28, 2, 2),
    ("CIFAR-10 pool 'SAME': 24, 2x2/2", "pool", 24, 2, 2),
    ("'SAME' conv, odd width: 7, 3x3/2", "conv", 7, 3, 2),
    ("'SAME' pool, odd width: 25, 3x3/2", "pool", 25, 3, 2),
)
# (name, e, d_in, k) of the book's conv layers.
PARAMETER_EXAMPLES = (
    ("fig5_11", 3, 3, 2),
    ("mnist_conv1", 5, 1, 32),
    ("mnist_conv2", 5, 32, 64),
    ("cifar10_conv1", 5, 3, 64),
    ("cifar10_conv2", 5, 64, 64),
)
DOG = 5  # CIFAR-10 label of "dog", the class of Fig. 5.16.


@dataclasses.dataclass(frozen=True)
class Config(config_lib.RunConfig):
    """Defaults are the "book" preset."""

    dataset: str = "cifar10"  # Images of Fig. 5.16 and the pooling demo; "synthetic": no files.
    samples_per_class: int = 8  # Fig. 5.16: images per class (one row per class).
    line_image_size: int = 20  # Figs. 5.5/5.6: side of the binary drawing.
    pooling_ratio: float = 2**0.5  # Fractional max pooling alpha; Graham's sqrt(2).
    dog_index: int = 6  # Pooling demo: which dog (in training-file order) is pooled.


CONFIGS = {
    "smoke": dict(dataset="synthetic"),  # Seconds, no files; used by tests.
    "book": dict(),
    "cpu": dict(),  # Seconds already.
    "quick": dict(),  # `make ch05`: the same.
}


# --- Output-size table ----------------------------------------------------------------------


def _keras_width(layers: list[keras.layers.Layer], width: int) -> int:
    outputs = np.zeros((1, width, width, 1), np.float32)
    for layer in layers:
        outputs = layer(outputs)
    return int(outputs.shape[2])


def size_table() -> list[dict]:
    """Output widths by the formulas and by Keras for every example above."""
    rows = []
    for name, width, extent, padding, stride in CONV_EXAMPLES:
        layers = [keras.layers.ZeroPadding2D(padding)] if padding else []
        layers.append(keras.layers.Conv2D(1, extent, strides=stride, padding="valid"))
        rows.append(
            dict(
                kind="conv",
                name=name,
                width=width,
                extent=extent,
                padding=padding,
                stride=stride,
                formula=convolution.conv_output_size(width, extent, padding, stride),
                keras=_keras_width(layers, width),
                book_ceil=convolution.book_conv_output_size(width, extent, padding, stride),
            )
        )
    for name, width, extent, stride in POOL_EXAMPLES:
        keras_width = _keras_width([keras.layers.MaxPooling2D(extent, stride)], width)
        rows.append(
            dict(
                kind="pool",
                name=name,
                width=width,
                extent=extent,
                padding=0,
                stride=stride,
                formula=convolution.pool_output_size(width, extent, stride),
                keras=keras_width,
                book_ceil=None,  # The book's pooling formula already uses a floor.
            )
        )
    for name, kind, width, extent, stride in SAME_EXAMPLES:
        layer = (
            keras.layers.Conv2D(1, extent, strides=stride, padding="same")
            if kind == "conv"
            else keras.layers.MaxPooling2D(extent, stride, padding="same")
        )
        rows.append(
            dict(
                kind=f"{kind} same",
                name=name,
                width=width,
                extent=extent,
                padding=None,
                stride=stride,
                formula=convolution.same_padding_output_size(width, stride),
                keras=_keras_width([layer], width),
                book_ceil=None,
            )
        )
    return rows


def _format_table(rows: list[dict]) -> str:
    header = f"{'example':44s} {'kind':9s} {'floor formula':>13s} {'Keras':>6s} {'book ceil':>9s}"
    lines = [header, "-" * len(header)]
    for row in rows:
        ceil = "" if row["book_ceil"] is None else str(row["book_ceil"])
        if row["book_ceil"] is not None and row["book_ceil"] != row["keras"]:
            ceil += " (!)"
        lines.append(
            f"{row['name']:44s} {row['kind']:9s} {row['formula']:13d} {row['keras']:6d} {ceil:>9s}"
        )
    return "\n".join(lines)


# --- Run ------------------------------------------------------------------------------------


def main(config: Config) -> dict:
    """Computes the size table and the demos, writes the figures; returns the results."""
    context = runs.start_run(config, EXPERIMENT_ID)
    run_log = context.run_log

    # --- Output sizes (C5-1, erratum 12) ---
    table = size_table()
    run_log.print("Output widths: floor formula vs Keras vs the book's printed ceiling")
    run_log.print(_format_table(table))
    formula_matches = sum(row["formula"] == row["keras"] for row in table)
    ceil_rows = [row for row in table if row["book_ceil"] is not None]
    ceil_wrong = [row["name"] for row in ceil_rows if row["book_ceil"] != row["keras"]]
    run_log.print(
        f"Floor/ceil(w/s) formulas agree with Keras on {formula_matches}/{len(table)} rows; the "
        f"book's ceiling is wrong on {len(ceil_wrong)}/{len(ceil_rows)} conv rows: {ceil_wrong}"
    )
    parameter_counts = {}
    for name, extent, depth_in, filters in PARAMETER_EXAMPLES:
        layer = keras.layers.Conv2D(filters, extent)
        layer.build((None, 32, 32, depth_in))
        parameter_counts[name] = dict(
            formula=convolution.conv_parameter_count(extent, depth_in, filters),
            keras=layer.count_params(),
        )
    run_log.print(f"Conv-layer parameters (k d_in e^2 + k): {parameter_counts}")

    # --- Worked example, Figs. 5.11-5.12 ---
    inputs, kernel, bias = convolution.fig_5_11_values(config.seed)
    model = convolution.build_fig_5_11_example(kernel, bias)
    outputs = keras.ops.convert_to_numpy(model(inputs[None]))[0]  # (3, 3, 2).
    reference = convolution.conv2d_numpy(inputs, kernel, bias, stride=2, padding=1)
    fig_5_11_error = float(np.max(np.abs(outputs - reference)))
    run_log.print(
        f"Fig. 5.11 layer: output {outputs.shape}, {model.count_params()} parameters, "
        f"max |Keras - NumPy loop| = {fig_5_11_error:g}"
    )
    convolution_figures.plot_conv_example(
        inputs, kernel, bias, outputs, run_log.figure_path(FIGURES[1])
    )

    # --- Line detectors, Figs. 5.5-5.6 (C5-2) ---
    drawing = convolution.line_drawing(config.line_image_size)
    maps = convolution.line_feature_maps(drawing)  # (size, size, 2).
    found = convolution.detect_lines(maps)  # (size, size, 2) bool.
    run_log.print(
        f"Line detectors on a {drawing.shape} drawing with {int(drawing.sum())} ink pixels: "
        f"{int(found[..., 0].sum())} pixels on vertical lines and {int(found[..., 1].sum())} "
        f"on horizontal lines found (response > {convolution.LINE_DETECTION_THRESHOLD:g})"
    )
    convolution_figures.plot_feature_maps(drawing, maps, found, run_log.figure_path(FIGURES[0]))

    # --- CIFAR-10 samples, Fig. 5.16 ---
    images, labels = cifar10.load_arrays("train", dataset=config.dataset, data_dir=config.data_dir)
    names = cifar10.label_names(config.data_dir)
    grid = samples.class_grid(images, labels, config.samples_per_class, cifar10.NUM_CLASSES)
    source = "offline copy" if config.dataset == "cifar10" else f"{config.dataset}, not real"
    samples.plot_cifar_samples(
        grid, names, source, run_log.figure_path(FIGURES[2]), highlight_row=DOG
    )

    # --- Pooling (§2.3, C5-3) ---
    (dogs,) = np.nonzero(labels == DOG)
    if config.dog_index >= len(dogs):
        raise ValueError(f"dog_index={config.dog_index}, but there are {len(dogs)} dog images.")
    dog = images[dogs[config.dog_index]].astype(np.float32)  # (32, 32, 3).
    pooled = {
        "2x2/2": convolution.max_pool(dog[None], 2, 2)[0],
        "3x3/2": convolution.max_pool(dog[None], 3, 2)[0],
    }
    fractional, rows, columns = convolution.fractional_max_pool(
        dog[None], config.pooling_ratio, seed=config.seed + 1
    )
    pooled["fractional"] = fractional[0]
    pooled_sizes = {name: list(value.shape) for name, value in pooled.items()}
    run_log.print(f"Pooling the 32x32x3 dog: {pooled_sizes}")
    convolution_figures.plot_pooling(
        dog, pooled, rows, columns, config.pooling_ratio, run_log.figure_path(FIGURES[3])
    )

    # --- Other domains (C5-11) ---
    video_shapes = convolution.video_conv3d_shapes()
    spectrogram_shapes = convolution.spectrogram_conv_shapes()
    run_log.print(f"Conv3D on video: {video_shapes[0]} -> {video_shapes[1]}")
    for name, (shape_in, shape_out) in spectrogram_shapes.items():
        run_log.print(f"{name} on a spectrogram: {shape_in} -> {shape_out}")

    tiled = samples.tile_grid(grid)  # (10 * 32, samples_per_class * 32, 3).
    run_log.images(0, "cifar10_samples", tiled[None], max_outputs=1)
    normalised = (maps + convolution.LINE_MATCH_RESPONSE) / (2 * convolution.LINE_MATCH_RESPONSE)
    run_log.images(0, "line_feature_maps", normalised.transpose(2, 0, 1)[..., None], max_outputs=2)

    metrics = {
        "formula_keras_agreement": formula_matches / len(table),
        "book_ceil_wrong_rows": float(len(ceil_wrong)),
        "fig5_11_parameters": float(model.count_params()),
        "fig5_11_max_abs_error": fig_5_11_error,
        "vertical_line_pixels": float(found[..., 0].sum()),
        "horizontal_line_pixels": float(found[..., 1].sum()),
        "fractional_pool_width": float(pooled["fractional"].shape[1]),
    }
    run_log.scalars(0, "test", **metrics)
    run_log.print(f"Figures: {', '.join(FIGURES)}")
    return runs.finish_run(
        context,
        config,
        {
            **metrics,
            "size_table": table,
            "parameter_counts": parameter_counts,
            "fig5_11_output_shape": list(outputs.shape),
            "fig5_11_output": outputs.tolist(),
            "pooled_sizes": pooled_sizes,
            "fractional_rows": rows.tolist(),
            "video_conv3d_shapes": [list(shape) for shape in video_shapes],
            "spectrogram_shapes": {
                name: [list(shape) for shape in shapes]
                for name, shapes in spectrogram_shapes.items()
            },
            "dataset": config.dataset,
            "cifar10_files": cifar10.files_read(dataset=config.dataset, data_dir=config.data_dir),
        },
    )


if __name__ == "__main__":
    import sys

    print(main(config_lib.from_argv(Config, CONFIGS, sys.argv[1:])))
