"""
Title: Neural style transfer (Gatys et al.) with VGG-19
Book: Chapter 5, "Neural style" (seed lines 2459-2487, Fig. 5.20; repo archive/neural_style)
Description: Adam (lr 10) on the pixels; content (relu4_2), Gram style (relu1_1-5_1) and TV losses.
Expected result: a stylised image; no number to reproduce (Fig. 5.20 is (c) A. Athalye).

The book's code link is the repository's copy of an early neural-style; "book" runs its defaults
(1000 Adam iterations, learning rate 10, weights 5 / 100 / 100, noise N(0, 1) * 0.256, the
content image at full size, style scale 1) and its loss normalisations (spec ch04-05 §2.9;
`fdl_tf2.models.style_transfer` states them). The network is the Keras VGG-19 with ImageNet
weights instead of the MatConvNet .mat file. The weights (about 80 MB) are taken from the Keras
cache or `--weights=PATH`, or downloaded once when online; offline without them the run fails
at once, saying how to provide them. `--network=vgg19_random` uses random weights (no files):
the losses then behave as numbers to optimise, not as content or style.

The default images ship with the package (`fdl_tf2/assets/style_transfer/README.md`): the NASA
astronaut photo (public domain) and a procedural swirl image generated with NumPy, since the
book's MIT-dome photo and Afremov painting are copyrighted. Pass your own with
`--content=PATH --styles=PATH` (several styles: `--styles=a.jpg,b.jpg`).

    python -m fdl_tf2 run ch05.neural_style --content=photo.jpg --styles=art.jpg --output=out.png

Options beyond the repository: `--init_from_content=True` and `--pooling=avg` (Gatys et al.'s
choices). Unlike the repository, the lowest loss is looked for at every iteration (the step
computes it anyway), not only at checkpoint iterations and the last one.
"""

import dataclasses
import time
from pathlib import Path

from fdl_tf2 import config as config_lib
from fdl_tf2.data import download
from fdl_tf2.models import style_transfer
from fdl_tf2.training import runs
from fdl_tf2.viz import style_transfer as style_figures

EXPERIMENT_ID = "ch05.neural_style"

FIGURES = ("neural_style_comparison", "neural_style_losses")
"""Written to figures/ by every run (checked by the smoke tests); `stylized.png` is too."""

NETWORKS = ("vgg19_imagenet", "vgg19_random")
LOSS_NAMES = ("total", "content", "style", "tv")


@dataclasses.dataclass(frozen=True)
class Config(config_lib.RunConfig):
    """Defaults are the "book" preset: the repository's `main.py` defaults."""

    content: str | None = None  # Content image path; None: the packaged astronaut photo.
    styles: str | tuple[str, ...] | None = None  # Style image path(s): "a.jpg" or "a.jpg,b.jpg".
    output: str | None = None  # Also write the result here (the run's figures/ always gets it).
    iterations: int = style_transfer.ITERATIONS  # Adam steps (1000).
    width: int | None = None  # Resize the content image to this width; None keeps its size.
    style_scales: float | tuple[float, ...] | None = None  # Per style; None means 1.0 each.
    content_weight: float = style_transfer.CONTENT_WEIGHT  # 5.
    style_weight: float = style_transfer.STYLE_WEIGHT  # 100.
    style_blend_weights: float | tuple[float, ...] | None = None  # None: equal; sum set to 1.
    tv_weight: float = style_transfer.TV_WEIGHT  # 100.
    learning_rate: float = style_transfer.LEARNING_RATE  # Adam, 10.
    initial: str | None = None  # Starting image path (resized to the content); None: noise.
    init_from_content: bool = False  # Start from the content image (Gatys et al.).
    print_iterations: int = 0  # Print the losses every N iterations; 0: only at the end.
    checkpoint_iterations: int = 0  # Save the best image so far every N iterations; 0: never.
    weights: str | None = None  # Path of the Keras VGG-19 notop .h5; None: the Keras cache.
    network: str = "vgg19_imagenet"  # Or "vgg19_random": random weights, no files (smoke).
    pooling: str = "max"  # The repository's max pooling, or "avg" (Gatys et al.).
    jit_compile: bool = False  # XLA for the optimisation step.
    log_every_steps: int = 10  # Iterations between loss scalars in TensorBoard; 0: none.


CONFIGS = {
    # Seconds on CPU, no files: random VGG-19 weights on 48-pixel images. From the 0.256-scale
    # noise, the random network's losses are dominated by TV; lr 10 (or 1) overshoots it.
    "smoke": dict(
        network="vgg19_random",
        width=48,
        iterations=8,
        learning_rate=0.1,
        log_every_steps=1,
        print_iterations=4,
        checkpoint_iterations=4,
    ),
    "book": dict(),
    # Width 128 and 500 iterations: about 3 min on 2 CPU cores (0.3 s per iteration measured on
    # a shared machine); the book preset (384 px, 1000 iterations) is 18x the work (~50 min).
    "cpu": dict(width=128, iterations=500, print_iterations=50),
    # `make ch05`: the whole pipeline in seconds without the ImageNet weights, which cannot be
    # downloaded offline; a random VGG-19 does not stylise, so the image is not Fig. 5.20.
    "quick": dict(network="vgg19_random", width=64, iterations=20, learning_rate=0.1),
}


def _split_paths(value: str | tuple[str, ...] | None) -> list[Path]:
    if value is None:
        return [style_transfer.DEFAULT_STYLE]
    if isinstance(value, str):
        value = tuple(part for part in value.split(",") if part.strip())
    if not value:
        raise ValueError("--styles needs at least one image path.")
    return [Path(part.strip()) for part in value]


def _per_style(value, num_styles: int, name: str, default: float | None) -> list | None:
    if value is None:
        return None if default is None else [default] * num_styles
    values = [value] * num_styles if isinstance(value, (int, float)) else list(value)
    if len(values) != num_styles:
        raise ValueError(f"--{name} has {len(values)} values for {num_styles} style images.")
    return [float(item) for item in values]


def _check_config(config: Config) -> None:
    if config.network not in NETWORKS:
        raise ValueError(f"--network={config.network!r}; valid: {', '.join(NETWORKS)}.")
    if config.network == "vgg19_random" and config.weights is not None:
        raise ValueError("--weights is only used with --network=vgg19_imagenet.")
    if config.iterations < 1:
        raise ValueError(f"--iterations must be >= 1; got {config.iterations}.")
    if config.pooling not in ("max", "avg"):
        raise ValueError(f'--pooling must be "max" or "avg"; got {config.pooling!r}.')


def _load_images(config: Config) -> dict:
    """Content, styles (resized as the repository does) and the optional initial image."""
    content_path = Path(config.content) if config.content else style_transfer.DEFAULT_CONTENT
    style_paths = _split_paths(config.styles)
    for path in (content_path, *style_paths):
        if not path.is_file():
            raise FileNotFoundError(f"Image {path} does not exist.")
    original = style_transfer.load_image(content_path)
    size = style_transfer.content_size(*original.shape[:2], config.width)
    content = style_transfer.load_image(content_path, size)
    scales = _per_style(config.style_scales, len(style_paths), "style_scales", 1.0)
    styles = []
    for path, scale in zip(style_paths, scales, strict=True):
        height, width = style_transfer.load_image(path).shape[:2]
        target = style_transfer.style_size(height, width, size[1], scale)
        styles.append(style_transfer.load_image(path, target))
    initial = None
    if config.initial is not None:
        initial = style_transfer.load_image(config.initial, size)
    return dict(
        content=content,
        styles=styles,
        initial=initial,
        files={
            path.name: download.sha256_of(path)
            for path in (content_path, *style_paths)
            + ((Path(config.initial),) if config.initial else ())
        },
    )


def main(config: Config) -> dict:
    """Stylises the content image; returns the final losses and speed (also results.json)."""
    _check_config(config)
    images = _load_images(config)
    weights_path = None
    if config.network == "vgg19_imagenet":  # Fails within seconds offline, before any output.
        weights_path = style_transfer.ensure_vgg19_weights(config.weights)
    context = runs.start_run(config, EXPERIMENT_ID)
    run_log = context.run_log
    height, width = images["content"].shape[:2]
    run_log.print(
        f"Content {width}x{height}, {len(images['styles'])} style image(s), "
        f"{config.network} ({config.pooling} pooling), {config.iterations} iterations"
    )

    # --- Model and targets ---
    extractor = style_transfer.build_feature_extractor(weights_path, pooling=config.pooling)
    transfer = style_transfer.StyleTransfer(
        extractor,
        images["content"],
        images["styles"],
        content_weight=config.content_weight,
        style_weight=config.style_weight,
        tv_weight=config.tv_weight,
        style_blend_weights=_per_style(
            config.style_blend_weights, len(images["styles"]), "style_blend_weights", None
        ),
        learning_rate=config.learning_rate,
        initial_image=images["initial"],
        init_from_content=config.init_from_content,
        seed=config.seed,
        jit_compile=config.jit_compile,
    )

    # --- Optimisation ---
    history = []
    start = time.perf_counter()
    run_log.trace_on()
    for iteration in range(config.iterations):
        losses = transfer.step()
        if iteration == 0:
            run_log.trace_export("style_transfer_step")
            initial_loss = float(losses["total"])  # Waits for the traced first step.
            first_step_seconds = time.perf_counter() - start
            loop_start = time.perf_counter()
        last = iteration == config.iterations - 1
        every = config.log_every_steps
        if last or (every and iteration % every == 0):
            values = {name: float(losses[name]) for name in LOSS_NAMES}
            history.append({"step": iteration, **values})
            run_log.scalars(iteration, "train", **values)
        if config.print_iterations and (iteration % config.print_iterations == 0 or last):
            line = ", ".join(f"{name} {float(losses[name]):.4g}" for name in LOSS_NAMES)
            run_log.print(f"Iteration {iteration + 1:4d}/{config.iterations}: {line}")
        checkpoint = config.checkpoint_iterations
        if checkpoint and iteration % checkpoint == 0 and not last:
            snapshot, _ = transfer.result()
            style_transfer.save_image(run_log.figure_path(f"checkpoint_{iteration:05d}"), snapshot)
            run_log.images(iteration, "output_image", snapshot[None], max_outputs=1)
    float(losses["total"])  # Synchronise before stopping the clock.
    loop_seconds = time.perf_counter() - loop_start
    wall_seconds = time.perf_counter() - start
    result, best = transfer.result()
    final = transfer.losses()

    # --- Outputs ---
    stylized_path = style_transfer.save_image(run_log.figure_path("stylized"), result)
    if config.output:
        style_transfer.save_image(config.output, result)
    run_log.images(config.iterations, "output_image", result[None], max_outputs=1)
    style_figures.plot_comparison(
        images["content"], images["styles"], result, run_log.figure_path(FIGURES[0])
    )
    style_figures.plot_losses(history, LOSS_NAMES, run_log.figure_path(FIGURES[1]))
    steady = config.iterations - 1
    speed = steady / loop_seconds if steady and loop_seconds > 0 else float("nan")
    run_log.print(
        f"Best loss {best['total']:.4g} (content {best['content']:.4g}, style "
        f"{best['style']:.4g}, tv {best['tv']:.4g}); {speed:.2f} iterations/s "
        f"after a {first_step_seconds:.1f} s first step; wrote {config.output or stylized_path}"
    )
    return runs.finish_run(
        context,
        config,
        {
            "total_loss": best["total"],
            "content_loss": best["content"],
            "style_loss": best["style"],
            "tv_loss": best["tv"],
            "initial_loss": initial_loss,
            "last_iterate_loss": final["total"],
            "iterations": transfer.iterations,
            "iterations_per_second": speed,
            "first_step_seconds": first_step_seconds,
            "wall_seconds": wall_seconds,
            "step_traces": transfer.trace_count,
            "image_height": height,
            "image_width": width,
            "network": config.network,
            "weights_file": weights_path.name if weights_path else None,
            "images_sha256": images["files"],
            "output": config.output,
        },
    )


if __name__ == "__main__":
    import sys

    print(main(config_lib.from_argv(Config, CONFIGS, sys.argv[1:])))
