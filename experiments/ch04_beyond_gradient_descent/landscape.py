"""
Title: Error surfaces: identifiability, linear interpolation, momentum walk, curvature
Book: Chapter 4, "Beyond Gradient Descent" (seed lines 1519-1811; Figs. 4.2-4.8, 4.10)
Description: Interpolates between a random and a trained MLP, smooths random walks, draws CG.
Expected result: no bump in Fig. 4.3 (cpu: min at alpha -0.09, 94.3%); std 6.06 sqrt((1-m)/(1+m)).

Fig. 4.3 (E4.1, spec ch04-05 §1.2): the chapter-3 MLP (784-256-256-10, ReLU on the logits as
in the book, `output_relu`) is trained with SGD lr 0.01, batch 100 (or, with
`--checkpoint=PATH`, the authors' TF1 checkpoint `frozen_mlp_checkpoint/model-checkpoint-547800`
is loaded instead), and the mean test cross-entropy is computed along
theta = (1 - alpha) theta_trained + alpha theta_init for alpha in arange(-2, 2, 0.01) (the
listing's "repo" convention; the text's alpha' = 1 - alpha is the top axis). When the MLP is
trained here, theta_init is its own starting point; with a checkpoint it is a fresh He-normal
draw (the listing's `mlp_init`). Results give the alpha of the minimum, the mean |dL/dalpha|
near each endpoint (the "flat region", line 1667) and the number of bumps between them.

Fig. 4.2 (identifiability): random permutations of both hidden layers and positive rescalings
of ReLU units leave the trained MLP's test logits unchanged to float precision; k = -1 does not.
Fig. 4.8 (E4.2, §1.3): walks of 100 steps from {-10..10} smoothed with momentum 0/0.1/0.5/0.9/
0.99, plus the empirical std of 100,000-step walks against sigma sqrt((1-m)/(1+m)).
Figs. 4.4-4.7, 4.10: 1-D critical points and a saddle; on an ill-conditioned 2-D quadratic,
gradient arrows versus the direction to the minimum, and steepest descent with exact line search
(zig-zag) against conjugate gradients (2 steps). Results also hold the fraction of random
symmetric d x d Hessians that are positive definite (d = 1..5; the book's 1/3^d argument).

Measured (`cpu`, MNIST, seed 0, 10 epochs of SGD, 94.33% test accuracy): the test loss falls
monotonically from the init (2.386) to the solution (0.192); the minimum along the line is at
alpha = -0.09, just past the solution; |dL/dalpha| is 0.12 near the solution and 1.5 near the
init. Beyond the init (alpha > 1, repo convention) the curve is flat at ~2.4: with the book's
ReLU'd logits every output dies there, so the "flat region at alpha = 1" (line 1667) reads most
naturally in the listing's convention. Symmetries: permutations and k = 2.5 / 0.1 rescalings
change the logits by < 2e-5; k = -1 changes them by ~6.
"""

import dataclasses
import typing

import keras
import numpy as np

from fdl_tf2 import config as config_lib
from fdl_tf2.data import mnist
from fdl_tf2.foundations import landscape, tf_basics
from fdl_tf2.models import feedforward
from fdl_tf2.training import classifier, runs
from fdl_tf2.viz import error_surfaces

EXPERIMENT_ID = "ch04.landscape"

FIGURES = (
    "fig4_3_interpolation",
    "fig4_8_momentum_walk",
    "fig4_4_4_5_critical_points",
    "fig4_6_4_10_quadratic",
)  # Written to figures/ by every run (checked by the smoke tests).

# The ill-conditioned quadratic E = 1/2 x^T A x - b^T x of the curvature figures.
QUADRATIC_MATRIX = np.array([[10.0, 2.0], [2.0, 1.0]])
QUADRATIC_VECTOR = np.array([1.0, -2.0])
QUADRATIC_START = np.array([-2.0, 4.0])


@dataclasses.dataclass(frozen=True)
class Config(config_lib.EngineConfig):
    """Defaults are the "book" preset."""

    UNSUPPORTED: typing.ClassVar = {
        "mixed_precision": "the error-surface probes (Hessians, interpolation) need float32.",
        "strategy": "the model trains on one device.",
    }

    learning_rate: float = 0.01  # The MLP's SGD rate (line 1327).
    batch_size: int = 100
    epochs: int = 300  # The text's 300 epochs (line 1483); the listing says 1000 (line 1328).
    dataset: str = "mnist"  # Also "fashion_mnist", or "synthetic" (no files; for tests).
    train_subset: int = 0  # Use only the first N training images; 0 means all 55,000.
    test_subset: int = 0  # Interpolate on the first N test images; 0 = all 10,000 (the book).
    output_relu: bool = True  # The book's ReLU'd logits (lines 1466, 1619-1620).
    checkpoint: str = ""  # A TF1 checkpoint (the authors' frozen_mlp_checkpoint): no training.
    alpha_start: float = -2.0  # np.arange(-2, 2, 0.01) as in the listing (line 1630).
    alpha_stop: float = 2.0
    alpha_step: float = 0.01
    walk_steps: int = 100  # Length of the drawn walks (listing 1757-1764).
    walk_variant: str = "book"  # "book": smooth fresh draws; "same": smooth the drawn walk.
    law_steps: int = 100_000  # Length of the walks whose std is compared with the theory.
    histogram_every: int = 0  # No weight histograms: the figure is about the loss surface.


CONFIGS = {
    "smoke": dict(
        epochs=1,
        dataset="synthetic",
        batch_size=50,
        train_subset=500,
        test_subset=500,
        alpha_step=0.1,
        law_steps=20_000,
    ),  # Seconds.
    "book": dict(),
    "cpu": dict(epochs=10),  # About 1.5 minutes on 2 CPU cores.
}


def _test_arrays(config: Config) -> tuple[np.ndarray, np.ndarray]:
    images, labels = mnist.load_arrays("test", dataset=config.dataset, data_dir=config.data_dir)
    if config.test_subset:
        images, labels = images[: config.test_subset], labels[: config.test_subset]
    images = images.reshape(len(images), -1).astype(np.float32) / 255.0
    return images, labels.astype(np.int32)


def _trained_model(config: Config, context) -> tuple[keras.Model, list[np.ndarray]]:
    """Returns the trained MLP and the initial weights of the interpolation line."""
    keras.utils.set_random_seed(config.seed)
    model = feedforward.build_mlp(output_relu=config.output_relu, seed=config.seed)
    if config.checkpoint:
        initial = model.get_weights()  # A fresh random net, the listing's `mlp_init`.
        copied = tf_basics.load_tf1_mlp_checkpoint(config.checkpoint, model)
        context.run_log.print(f"Loaded {len(copied)} variables from {config.checkpoint}")
        return model, initial
    initial = model.get_weights()  # The start of this very SGD run.
    data = mnist.classification_data(
        dataset=config.dataset,
        view="flat",
        num_train_examples=config.train_subset,
        data_dir=config.data_dir,
    )
    classifier.train_classifier(
        config,
        context,
        model,
        keras.optimizers.SGD(config.learning_rate),
        data,
        epochs=config.epochs,
        batch_size=config.batch_size,
    )
    return model, initial


def _identifiability(model: keras.Model, images: np.ndarray, seed: int) -> dict[str, float]:
    """Max |change| of the test logits under the Fig. 4.2 symmetries and the k < 0 case."""
    reference = model(images).numpy()
    rng = np.random.default_rng(seed)
    changes = {}
    for name, edit in (
        ("permutation", "permute"),
        ("rescale_k_2_5", 2.5),
        ("rescale_k_0_1", 0.1),
        ("rescale_k_minus_1", -1.0),
    ):
        copy = keras.models.clone_model(model)
        copy.set_weights(model.get_weights())
        for layer_name in ("hidden_1", "hidden_2"):
            units = copy.get_layer(layer_name).kernel.shape[-1]
            if edit == "permute":
                landscape.permute_hidden_units(copy, layer_name, rng.permutation(units))
            else:
                for unit in rng.choice(units, size=min(32, units), replace=False):
                    landscape.rescale_relu_unit(copy, layer_name, int(unit), edit)
        changes[f"max_logit_change_{name}"] = float(
            np.max(np.abs(copy(images).numpy() - reference))
        )
    return changes


def main(config: Config) -> dict:
    """Draws Figs. 4.3, 4.8, 4.4-4.7, 4.10; returns the interpolation and walk numbers."""
    if config.walk_variant not in ("book", "same"):
        raise ValueError(f"walk_variant must be 'book' or 'same'; got {config.walk_variant!r}")
    context = runs.start_run(config, EXPERIMENT_ID)
    run_log = context.run_log
    model, initial_weights = _trained_model(config, context)
    images, labels = _test_arrays(config)
    trained_weights = model.get_weights()

    # Fig. 4.3: the linear interpolation (repo convention).
    alphas = np.arange(config.alpha_start, config.alpha_stop, config.alpha_step)
    losses = landscape.interpolation_curve(
        model, initial_weights, trained_weights, images, labels, alphas, "repo"
    )
    for index, (alpha, loss) in enumerate(zip(alphas, losses, strict=True)):
        run_log.scalars(index, "test", alpha=float(alpha), interpolated_cost=float(loss))
    summary = landscape.interpolation_summary(alphas, losses, "repo")
    logits = model(images).numpy()
    test_accuracy = float(np.mean(np.argmax(logits, axis=1) == labels))
    # The curve at alpha = 0 must be the trained model's own test loss (checked in results).
    test_loss = float(
        np.mean(keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True))
    )
    plural = "" if config.epochs == 1 else "s"
    source = (
        f"checkpoint {config.checkpoint}"
        if config.checkpoint
        else f"SGD, {config.epochs} epoch{plural}"
    )
    error_surfaces.plot_interpolation(
        alphas, losses, summary, source, run_log.figure_path("fig4_3_interpolation")
    )
    run_log.print(
        f"Trained MLP ({source}): test accuracy {test_accuracy:.4f}, test loss "
        f"{summary['trained_loss']:.4f}; random init loss {summary['initial_loss']:.4f}; "
        f"minimum at alpha {summary['alpha_of_minimum']:.2f}; "
        f"bumps between endpoints {summary['bumps_between_endpoints']}"
    )

    # Fig. 4.2: the symmetries of the trained network.
    identifiability = _identifiability(model, images[:1000], config.seed)
    run_log.print(f"Identifiability: {identifiability}")

    # Fig. 4.8: momentum random walks, and the stationary-std law on long walks.
    walks = {
        momentum: landscape.momentum_random_walk(
            config.walk_steps, momentum, seed=config.seed, variant=config.walk_variant
        )
        for momentum in landscape.BOOK_MOMENTA
    }
    error_surfaces.plot_momentum_walks(walks, run_log.figure_path("fig4_8_momentum_walk"))
    walk_stds = {}
    for momentum in landscape.BOOK_MOMENTA:
        _, long_walk = landscape.momentum_random_walk(
            config.law_steps, momentum, seed=config.seed + 1, variant=config.walk_variant
        )
        empirical = float(np.std(long_walk[config.law_steps // 50 :]))
        walk_stds[f"walk_std_m{momentum}"] = empirical
        walk_stds[f"walk_std_theory_m{momentum}"] = landscape.stationary_std(momentum)
    run_log.print(f"Random-walk std (empirical, theory): {walk_stds}")

    # Figs. 4.4-4.7, 4.10: curvature on toy functions.
    error_surfaces.plot_critical_points(run_log.figure_path("fig4_4_4_5_critical_points"))
    descent = landscape.steepest_descent_path(
        QUADRATIC_MATRIX, QUADRATIC_VECTOR, QUADRATIC_START, 12
    )
    conjugate = landscape.conjugate_gradient_path(
        QUADRATIC_MATRIX, QUADRATIC_VECTOR, QUADRATIC_START
    )
    error_surfaces.plot_quadratic(
        QUADRATIC_MATRIX,
        QUADRATIC_VECTOR,
        descent,
        conjugate,
        run_log.figure_path("fig4_6_4_10_quadratic"),
    )
    minimum = np.linalg.solve(QUADRATIC_MATRIX, QUADRATIC_VECTOR)
    # Saddle statistics (lines 1673-1682): random symmetric Hessians are rarely all-positive.
    positive_definite = {
        f"fraction_positive_definite_d{dimension}": landscape.fraction_positive_definite(
            dimension, 20_000, seed=config.seed
        )
        for dimension in range(1, 6)
    }
    run_log.print(f"Fraction of random Hessians that are positive definite: {positive_definite}")

    return runs.finish_run(
        context,
        config,
        {
            **summary,
            "test_accuracy": test_accuracy,
            "test_loss": test_loss,
            "num_alphas": len(alphas),
            "num_test_images": len(images),
            **identifiability,
            **walk_stds,
            **positive_definite,
            "steepest_descent_distance_after_2_steps": float(np.linalg.norm(descent[2] - minimum)),
            "conjugate_gradient_distance_after_2_steps": float(
                np.linalg.norm(conjugate[2] - minimum)
            ),
            "epochs": 0 if config.checkpoint else config.epochs,
        },
    )


if __name__ == "__main__":
    import sys

    print(main(config_lib.from_argv(Config, CONFIGS, sys.argv[1:])))
