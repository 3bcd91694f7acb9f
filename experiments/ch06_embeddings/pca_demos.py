"""
Title: PCA: the demos of Figs. 6.2-6.3 and the MNIST baseline of the autoencoder
Book: Chapter 6, "Principal Component Analysis", "Implementing an Autoencoder" (lines 2521-2890)
Description: PCA on a 2-D cloud and on concentric circles; 2-D and 30-D PCA of MNIST.
Expected result: 30-D PCA test error 13.9 per image (H&S 2006: 13.87); 2-D codes overlap.

The book's PCA code (lines 2797-2812) fits `sklearn.decomposition.PCA(n_components=2)` on the
55,000 training images and applies it to the 10,000 test images; this run uses the port's
NumPy `fdl_tf2.models.pca.PCA` (tested against sklearn) and also measures:

- Figs. 6.2 and 6.3: the principal axes of a correlated Gaussian cloud, and two concentric
  circles whose 1-D PCA codes overlap while their radius separates them (measured as the
  accuracy of the best single threshold on each).
- The reconstruction error on the test set with k = 2 and k = 30 components, in Hinton &
  Salakhutdinov's unit (summed squared error per image) and in the book's (the L2 distance
  per image, the scale of the autoencoder's 4.78), and Fig. 6.10's PCA rows.
- Fig. 6.11's left panel (the 2-D PCA test codes with the book's colours) and the k-NN
  accuracy on those codes (line 2890: the autoencoder's codes should do much better).
- Fig. 6.8: the mean L2 distance from the first "1" of the training split to each class (the
  book's arbitrary 1: 5.75 to 1s, 8.94 to 7s, 11.05 to 0s).

The autoencoder panels of Figs. 6.10 and 6.11 come from the autoencoder experiments.
"""

import dataclasses

import numpy as np

from fdl_tf2 import config as config_lib
from fdl_tf2.data import mnist
from fdl_tf2.models import pca
from fdl_tf2.training import runs
from fdl_tf2.viz import codes as code_figures
from fdl_tf2.viz import reconstructions

EXPERIMENT_ID = "ch06.pca_demos"

FIGURES = (
    "fig6_2_pca_gaussian",
    "fig6_3_circles",
    "fig6_8_class_distances",
    "fig6_10_pca_reconstructions",
    "fig6_11_pca_codes",
)  # Written to figures/ by every run (checked by the smoke tests).


@dataclasses.dataclass(frozen=True)
class Config(config_lib.RunConfig):
    """Defaults are the "book" preset."""

    dataset: str = "mnist"  # "mnist", or "synthetic" (MNIST-shaped prototypes, no files; tests).
    num_train_examples: int = 0  # PCA and k-NN fit on the first N training images (0 = 55,000).
    large_code_size: int = 30  # The second PCA of Fig. 6.10 (H&S 2006); the first has 2 axes.
    knn_neighbours: int = 5  # k of the k-NN classifier on the 2-D codes.
    distance_digit: int = 1  # Fig. 6.8: the class of the image X (the book takes a "1").
    distance_examples: int = 50  # Fig. 6.8: also average over the first N such images.
    gaussian_points: int = 400  # Fig. 6.2: points of the 2-D cloud.
    circle_points: int = 600  # Fig. 6.3: points on the two circles together.
    circle_noise: float = 0.05  # Fig. 6.3: Gaussian noise of make_circles.
    circle_factor: float = 0.5  # Fig. 6.3: inner radius (the outer one is 1).


CONFIGS = {
    "smoke": dict(dataset="synthetic", distance_examples=5),  # Seconds, no files; tests.
    "book": dict(),
    "cpu": dict(),  # The book run takes about a minute on 2 cores.
}


def _pca_demos(config: Config, run_log) -> dict:
    """Figs. 6.2 and 6.3 and their numbers."""
    cloud = pca.gaussian_cloud(config.gaussian_points, seed=config.seed)
    fit = pca.PCA(2, solver="svd").fit(cloud)
    _, true_axes = np.linalg.eigh(np.asarray(pca.CLOUD_COVARIANCE))  # Increasing eigenvalues.
    cosine = abs(float(fit.components[0] @ true_axes[:, -1]))
    code_figures.plot_gaussian_pca(cloud, run_log.figure_path(FIGURES[0]))
    points, labels = pca.concentric_circles(
        config.circle_points,
        noise=config.circle_noise,
        factor=config.circle_factor,
        seed=config.seed,
    )
    circle_codes = pca.PCA(1, solver="svd").fit_transform(points)[:, 0]
    radius = pca.to_polar(points)[:, 0]
    code_figures.plot_circles(points, labels, run_log.figure_path(FIGURES[1]))
    return {
        "gaussian_axis_1_variance_ratio": float(fit.explained_variance_ratio[0]),
        "gaussian_axis_1_angle_error_degrees": float(np.degrees(np.arccos(min(cosine, 1.0)))),
        "circles_pca_1d_threshold_accuracy": pca.best_threshold_accuracy(circle_codes, labels),
        "circles_radius_threshold_accuracy": pca.best_threshold_accuracy(radius, labels),
    }


def _flat_images(split: str, config: Config) -> tuple[np.ndarray, np.ndarray]:
    """A split as float32 `(N, 784)` in [0, 1] and int64 labels `(N,)`."""
    images, labels = mnist.load_arrays(split, dataset=config.dataset, data_dir=config.data_dir)
    return images.reshape(len(images), -1).astype(np.float32) / 255.0, labels.astype(np.int64)


def main(config: Config) -> dict:
    """Draws Figs. 6.2, 6.3, 6.8, 6.10 (PCA rows), 6.11 (PCA panel); returns the metrics."""
    context = runs.start_run(config, EXPERIMENT_ID)
    run_log = context.run_log
    say = run_log.print

    # --- Figs. 6.2 and 6.3 ---
    demo_metrics = _pca_demos(config, run_log)
    say(
        "Fig. 6.2: axis 1 keeps {gaussian_axis_1_variance_ratio:.1%} of the variance, "
        "{gaussian_axis_1_angle_error_degrees:.2f} deg from the true axis. Fig. 6.3: best "
        "threshold accuracy {circles_pca_1d_threshold_accuracy:.1%} on the 1-D PCA code, "
        "{circles_radius_threshold_accuracy:.1%} on the radius".format(**demo_metrics)
    )

    # --- PCA of MNIST: k = 2 and k = large_code_size (Fig. 6.10) ---
    train_images, train_labels = _flat_images("train", config)
    if config.num_train_examples:
        train_images = train_images[: config.num_train_examples]
        train_labels = train_labels[: config.num_train_examples]
    test_images, test_labels = _flat_images("test", config)
    large = pca.PCA(config.large_code_size).fit(train_images)
    small = large.truncate(2)
    errors = {}
    for model in (small, large):
        test_reconstructions = model.inverse_transform(model.transform(test_images))
        k = model.num_components
        errors[f"pca_{k}_test_squared_error_per_image"] = float(
            np.mean(pca.squared_error_per_image(test_images, test_reconstructions))
        )
        errors[f"pca_{k}_test_l2_per_image"] = float(
            np.mean(pca.l2_distance_per_image(test_images, test_reconstructions))
        )
        errors[f"pca_{k}_explained_variance_ratio"] = float(np.sum(model.explained_variance_ratio))
        say(
            f"PCA k = {k}: test squared error per image "
            f"{errors[f'pca_{k}_test_squared_error_per_image']:.3f}, L2 per image "
            f"{errors[f'pca_{k}_test_l2_per_image']:.3f}, variance kept "
            f"{errors[f'pca_{k}_explained_variance_ratio']:.1%}"
        )
    shown = np.array([np.flatnonzero(test_labels == digit)[0] for digit in range(10)])
    rows = {
        f"PCA, k = {model.num_components}": model.inverse_transform(
            model.transform(test_images[shown])
        )
        for model in (small, large)
    }
    reconstructions.plot_reconstructions(
        test_images[shown],
        rows,
        run_log.figure_path(FIGURES[3]),
        title="Fig. 6.10 (PCA rows): the first test image of each digit and its reconstructions",
    )
    tiled = reconstructions.tile_images(
        np.concatenate([test_images[shown], *rows.values()]).reshape(-1, 28, 28), columns=10
    )
    run_log.images(0, "pca_reconstructions", np.clip(tiled, 0, 1)[None, :, :, None], split="test")

    # --- Fig. 6.11 (PCA panel) and the k-NN check of line 2890 ---
    test_codes = small.transform(test_images)
    knn = pca.knn_accuracy(
        small.transform(train_images), train_labels, test_codes, test_labels, config.knn_neighbours
    )
    say(f"{config.knn_neighbours}-NN accuracy on the 2-D PCA test codes: {knn:.2%}")
    code_figures.plot_codes(
        {"PCA": test_codes},
        test_labels,
        run_log.figure_path(FIGURES[4]),
        title="Fig. 6.11 (left): 2-D PCA codes of the test images",
    )

    # --- Fig. 6.8: a "1" against each class of the training split ---
    (candidates,) = np.nonzero(train_labels == config.distance_digit)
    chosen = int(candidates[0])
    distances = pca.mean_class_distances(train_images[chosen], train_images, train_labels)
    spread = np.stack(
        [
            pca.mean_class_distances(train_images[index], train_images, train_labels)
            for index in candidates[: config.distance_examples]
        ]
    )  # (distance_examples, 10)
    code_figures.plot_class_distances(
        train_images[chosen],
        pca.class_mean_images(train_images, train_labels),
        distances,
        run_log.figure_path(FIGURES[2]),
        image_label=f"a {config.distance_digit} (train #{chosen})",
    )
    say(f"Fig. 6.8: train #{chosen} to each class: {np.round(distances, 2).tolist()}")

    metrics = {
        **demo_metrics,
        **errors,
        "pca_2_knn_test_accuracy": knn,
        "knn_neighbours": config.knn_neighbours,
        "class_distances_image_index": chosen,
        "class_distances": distances.tolist(),
        "class_distances_mean_over_examples": spread.mean(axis=0).tolist(),
        "num_train_examples": len(train_images),
        "num_test_examples": len(test_images),
    }
    run_log.scalars(0, "test", **{k: v for k, v in metrics.items() if isinstance(v, float)})
    say(f"Figures: {', '.join(FIGURES)}")
    return runs.finish_run(
        context,
        config,
        {
            **metrics,
            "dataset": config.dataset,
            "mnist_files": mnist.files_read(dataset=config.dataset, data_dir=config.data_dir),
        },
    )


if __name__ == "__main__":
    import sys

    print(main(config_lib.from_argv(Config, CONFIGS, sys.argv[1:])))
