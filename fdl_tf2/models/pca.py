"""Principal component analysis, the chapter-6 baseline of the autoencoder, and code analyses.

Book: chapter 6, "Principal Component Analysis" (seed lines 2521-2542: T = XW, where the
columns of W are the top eigenvectors of XᵀX of centred data; Figs. 6.2-6.3) and
"Implementing an Autoencoder in TensorFlow" (lines 2767-2815 and 2890: the PCA baseline fit on
the 55,000 training images and applied to the test images, the class-distance analysis of Fig.
6.8, and the claim that a simple classifier does better on autoencoder codes than on PCA
codes); spec ch06-07 §2.1.1, §2.1.3 and checklist items 1, 5, 7 and 9.
Reference: Hinton & Salakhutdinov (2006), "Reducing the dimensionality of data with neural
networks", Science 313 (the book's ref. 66): 30-D PCA reconstructs the MNIST test images with
an average squared error of 13.87 per image (`squared_error_per_image`).

The book calls `sklearn.decomposition.PCA`; `PCA` here is a small NumPy version with the same
`fit` / `transform` / `inverse_transform` contract, so that the book's formula is visible and
testable: with at least as many examples as features (MNIST: 55,000 x 784) it diagonalises
XᵀX exactly as the book writes it, otherwise it takes the SVD of the centred data. Everything
is float64.
"""

import numpy as np

SOLVERS = ("auto", "svd", "eigh")
"""`svd`: thin SVD of the centred data; `eigh`: eigenvectors of XᵀX (the book's formula, and
sklearn's "covariance_eigh"; 10x faster on MNIST, where the top 30 axes of both agree to
1e-13); `auto`: `eigh` when n >= d."""

_CHUNK_ROWS = 8192  # Rows converted to float64 at a time (bounds the memory of big inputs).


def _as_rows(x: np.ndarray, name: str = "x") -> np.ndarray:
    """`(n, ...)` -> `(n, d)` view; images `(n, 28, 28)` become `(n, 784)`."""
    x = np.asarray(x)
    if x.ndim < 2 or x.shape[0] == 0:
        raise ValueError(f"{name} must be (n, d) or (n, height, width); got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.number):
        raise ValueError(f"{name} must be numeric; got dtype {x.dtype}")
    return x.reshape(len(x), -1)


def _flip_signs(components: np.ndarray) -> np.ndarray:
    """Each row times +-1 so that its entry of largest magnitude is positive (deterministic)."""
    largest = np.argmax(np.abs(components), axis=1)
    signs = np.sign(components[np.arange(len(components)), largest])
    return components * np.where(signs == 0, 1.0, signs)[:, None]


class PCA:
    """Projection on the top principal axes: `T = (X - mean) W`, `X_hat = T Wᵀ + mean`.

    W = `components.T` `(d, k)`: its columns are the k unit eigenvectors of the scatter matrix
    `(X - mean)ᵀ(X - mean)` with the largest eigenvalues, i.e. the directions of largest
    variance, each orthogonal to the previous ones (the book's iterative description). Signs
    are fixed so that the largest-magnitude entry of each component is positive.

    Attributes (after `fit`):
      mean: `(d,)` the training mean.
      components: `(k, d)` orthonormal rows, in order of decreasing variance.
      explained_variance: `(k,)` variance along each component: eigenvalue / (n - 1).
      explained_variance_ratio: `(k,)` its fraction of the total variance.
    """

    def __init__(self, num_components: int, solver: str = "auto"):
        if int(num_components) != num_components or num_components < 1:
            raise ValueError(f"num_components must be a positive integer; got {num_components}")
        if solver not in SOLVERS:
            raise ValueError(f"Unknown solver {solver!r}; expected one of {SOLVERS}.")
        self.num_components = int(num_components)
        self.solver = solver
        self.mean: np.ndarray | None = None
        self.components: np.ndarray | None = None
        self.explained_variance: np.ndarray | None = None
        self.explained_variance_ratio: np.ndarray | None = None

    def fit(self, x: np.ndarray) -> "PCA":
        """Learns the mean and the principal axes of `x` `(n, d)` (or `(n, h, w)`); n >= 2."""
        x = _as_rows(x)
        count, dimension = x.shape
        if count < 2 or self.num_components > min(count, dimension):
            raise ValueError(
                f"num_components={self.num_components} needs at least that many examples and "
                f"features (and n >= 2); x has shape {x.shape}"
            )
        if not np.all(np.isfinite(x)):
            raise ValueError("x holds NaN or infinite values")
        solver = self.solver
        if solver == "auto":
            solver = "eigh" if count >= dimension else "svd"
        mean = np.zeros(dimension)
        for start in range(0, count, _CHUNK_ROWS):
            mean += np.sum(x[start : start + _CHUNK_ROWS], axis=0, dtype=np.float64)
        mean /= count
        if solver == "svd":
            centred = x.astype(np.float64) - mean  # (n, d)
            _, singular_values, right_vectors = np.linalg.svd(centred, full_matrices=False)
            eigenvalues = singular_values**2  # Of (X - mean)ᵀ(X - mean), decreasing.
            vectors = right_vectors  # (min(n, d), d), rows.
            total = float(np.sum(centred**2))
        else:
            scatter = np.zeros((dimension, dimension))  # (X - mean)ᵀ(X - mean), (d, d).
            for start in range(0, count, _CHUNK_ROWS):
                chunk = x[start : start + _CHUNK_ROWS].astype(np.float64) - mean
                scatter += chunk.T @ chunk
            values, columns = np.linalg.eigh(scatter)  # Increasing eigenvalues.
            eigenvalues = np.clip(values[::-1], 0.0, None)
            vectors = columns[:, ::-1].T  # (d, d), rows by decreasing eigenvalue.
            total = float(np.trace(scatter))
        k = self.num_components
        self.mean = mean
        self.components = _flip_signs(vectors[:k])
        self.explained_variance = eigenvalues[:k] / (count - 1)
        self.explained_variance_ratio = eigenvalues[:k] / total if total > 0 else np.zeros(k)
        return self

    def _check_fitted(self) -> None:
        if self.components is None:
            raise RuntimeError("PCA is not fitted yet: call fit(x) first.")

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Codes `T = (x - mean) W`: `(n, d)` (or `(n, h, w)`) -> float64 `(n, k)`."""
        self._check_fitted()
        x = _as_rows(x)
        if x.shape[1] != len(self.mean):
            raise ValueError(f"x has {x.shape[1]} features; PCA was fit on {len(self.mean)}")
        codes = np.empty((len(x), self.num_components))
        for start in range(0, len(x), _CHUNK_ROWS):
            chunk = x[start : start + _CHUNK_ROWS].astype(np.float64) - self.mean
            codes[start : start + _CHUNK_ROWS] = chunk @ self.components.T
        return codes

    def inverse_transform(self, codes: np.ndarray) -> np.ndarray:
        """Reconstructions `T Wᵀ + mean`: `(n, k)` -> float64 `(n, d)` (flat)."""
        self._check_fitted()
        codes = np.asarray(codes, dtype=np.float64)
        if codes.ndim != 2 or codes.shape[1] != self.num_components:
            raise ValueError(f"codes must be (n, {self.num_components}); got shape {codes.shape}")
        return codes @ self.components + self.mean

    def fit_transform(self, x: np.ndarray) -> np.ndarray:
        """`fit(x)` then `transform(x)`."""
        return self.fit(x).transform(x)

    def truncate(self, num_components: int) -> "PCA":
        """A fitted PCA with only the first `num_components` axes, without refitting.

        The top-m axes of a fit with k >= m components are the top-m axes of a fit with m, so
        the 2-D PCA of Fig. 6.11 is the 30-D PCA truncated.
        """
        self._check_fitted()
        if not 1 <= num_components <= self.num_components:
            raise ValueError(f"num_components must be in [1, {self.num_components}]")
        truncated = PCA(num_components, self.solver)
        truncated.mean = self.mean
        truncated.components = self.components[:num_components]
        truncated.explained_variance = self.explained_variance[:num_components]
        truncated.explained_variance_ratio = self.explained_variance_ratio[:num_components]
        return truncated


# --- Demo data of Figs. 6.2 and 6.3 ---


CLOUD_MEAN = (1.0, 0.5)
CLOUD_COVARIANCE = ((3.0, 1.6), (1.6, 1.2))
"""Fig. 6.2's cloud: eigenvalues 3.94 and 0.26, first axis along (0.86, 0.50)."""


def gaussian_cloud(
    num_points: int = 400,
    *,
    seed: int = 0,
    mean: tuple[float, float] = CLOUD_MEAN,
    covariance: tuple[tuple[float, float], tuple[float, float]] = CLOUD_COVARIANCE,
) -> np.ndarray:
    """Fig. 6.2: a correlated 2-D Gaussian cloud, float64 `(num_points, 2)`.

    The default covariance has eigenvalues 3.94 and 0.26: its first principal axis, along
    (0.86, 0.50), holds 94 % of the variance.
    """
    rng = np.random.default_rng(seed)
    return rng.multivariate_normal(np.asarray(mean), np.asarray(covariance), size=num_points)


def concentric_circles(
    num_points: int = 600, *, noise: float = 0.05, factor: float = 0.5, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Fig. 6.3: points from two concentric circles (`sklearn.datasets.make_circles`).

    Args:
      num_points: in total, half on each circle.
      noise: standard deviation of Gaussian noise added to the points.
      factor: radius of the inner circle; the outer one has radius 1.
      seed: the random state.

    Returns:
      points float64 `(num_points, 2)` and labels int64 `(num_points,)`: 0 on the outer circle,
      1 on the inner one.
    """
    from sklearn.datasets import make_circles

    points, labels = make_circles(num_points, noise=noise, factor=factor, random_state=seed)
    return points.astype(np.float64), labels.astype(np.int64)


def to_polar(points: np.ndarray, center: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """Cartesian `(n, 2)` -> polar `(n, 2)`: `[radius, angle]`, angle = atan2(y, x) in (-pi, pi].

    Fig. 6.3 (line 2540): the distance from the centre on the horizontal axis and the angle
    from the x axis on the vertical one separate the two circles.
    """
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"points must be (n, 2); got shape {points.shape}")
    offsets = points - np.asarray(center, dtype=np.float64)
    radius = np.hypot(offsets[:, 0], offsets[:, 1])
    angle = np.arctan2(offsets[:, 1], offsets[:, 0])
    return np.stack([radius, angle], axis=1)


def best_threshold_accuracy(values: np.ndarray, labels: np.ndarray) -> float:
    """Accuracy of the best single cut `label = [value > t]` (or its reverse) on 0/1 labels.

    How well one coordinate separates two classes (Fig. 6.3): 1.0 when one cut does, about
    0.5 when they overlap completely. Tied values always fall on the same side of a cut.

    Args:
      values: `(n,)`, e.g. the 1-D PCA codes or the radii of the circle points.
      labels: `(n,)` zeros and ones.
    """
    values, labels = np.asarray(values, dtype=np.float64), np.asarray(labels)
    if values.ndim != 1 or labels.shape != values.shape or len(values) == 0:
        raise ValueError(f"values and labels must be (n,); got {values.shape}, {labels.shape}")
    if not np.all((labels == 0) | (labels == 1)):
        raise ValueError("labels must be 0 or 1")
    order = np.argsort(values, kind="stable")
    sorted_values, sorted_labels = values[order], labels[order].astype(np.int64)
    ones_below = np.concatenate([[0], np.cumsum(sorted_labels)])  # (n + 1,): cut before i.
    zeros_below = np.arange(len(values) + 1) - ones_below
    correct = zeros_below + (ones_below[-1] - ones_below)  # Rule: label 1 above the cut.
    valid = np.concatenate([[True], sorted_values[1:] > sorted_values[:-1], [True]])
    best = np.max(np.maximum(correct, len(values) - correct)[valid])
    return float(best / len(values))


# --- Analyses of codes and reconstructions ---


def knn_accuracy(
    train_codes: np.ndarray,
    train_labels: np.ndarray,
    test_codes: np.ndarray,
    test_labels: np.ndarray,
    k: int = 5,
) -> float:
    """Test accuracy of a k-nearest-neighbour classifier fit on the training codes.

    The "code quality" check of line 2890: a simple classifier on 2-D codes (Euclidean
    distance, majority vote; `sklearn.neighbors.KNeighborsClassifier`).

    Args:
      train_codes: `(n_train, m)`, e.g. the 2-D PCA codes of the 55,000 training images.
      train_labels: `(n_train,)`.
      test_codes: `(n_test, m)`.
      test_labels: `(n_test,)`.
      k: neighbours that vote, 1 <= k <= n_train.

    Returns:
      The fraction of test codes classified correctly.
    """
    from sklearn.neighbors import KNeighborsClassifier

    train_codes, test_codes = np.asarray(train_codes), np.asarray(test_codes)
    train_labels, test_labels = np.asarray(train_labels), np.asarray(test_labels)
    if train_codes.ndim != 2 or train_labels.shape != train_codes.shape[:1]:
        raise ValueError(f"train codes {train_codes.shape} / labels {train_labels.shape} mismatch")
    if test_codes.ndim != 2 or test_labels.shape != test_codes.shape[:1]:
        raise ValueError(f"test codes {test_codes.shape} / labels {test_labels.shape} mismatch")
    if test_codes.shape[1] != train_codes.shape[1]:
        raise ValueError(f"codes differ in size: {train_codes.shape[1]} vs {test_codes.shape[1]}")
    if not 1 <= k <= len(train_codes):
        raise ValueError(f"k must be in [1, {len(train_codes)}]; got {k}")
    classifier = KNeighborsClassifier(n_neighbors=k).fit(train_codes, train_labels)
    return float(np.mean(classifier.predict(test_codes) == test_labels))


def l2_distances(image: np.ndarray, images: np.ndarray) -> np.ndarray:
    """`||images_i - image||_2` for each i: `(d,)` (or `(h, w)`) and `(n, ...)` -> `(n,)`."""
    image = np.asarray(image, dtype=np.float64).reshape(-1)
    images = _as_rows(images, "images")
    if images.shape[1] != image.size:
        raise ValueError(f"image has {image.size} values; images have {images.shape[1]} each")
    distances = np.empty(len(images))
    for start in range(0, len(images), _CHUNK_ROWS):
        difference = images[start : start + _CHUNK_ROWS].astype(np.float64) - image
        distances[start : start + _CHUNK_ROWS] = np.sqrt(np.sum(difference**2, axis=1))
    return distances


def mean_class_distances(
    image: np.ndarray,
    images: np.ndarray,
    labels: np.ndarray,
    num_classes: int = 10,
    exclude_self: bool = True,
) -> np.ndarray:
    """Fig. 6.8: the mean L2 distance from one image to the examples of each class.

    The book (line 2771) compares a "1" X with "all the other" images: X is 5.75 from the
    other 1s, 8.94 from 7s and 11.05 from 0s (MNIST in [0, 1], 784-d). Hence, with
    `exclude_self`, when `image` is among `images` one exact copy (distance 0) is left out of
    the mean of its class: a pixel-identical duplicate is indistinguishable from X itself, and
    leaving out one zero is what "the other 1s" means either way. Other copies count.

    Args:
      image: `(784,)` or `(28, 28)`, in the same units as `images` (e.g. [0, 1]).
      images: `(n, 784)` or `(n, 28, 28)`.
      labels: `(n,)` ints in `[0, num_classes)`.
      num_classes: classes to report.
      exclude_self: leave one exact copy of `image` out, as above.

    Returns:
      float64 `(num_classes,)`; NaN for a class with no example left.
    """
    labels = np.asarray(labels)
    distances = l2_distances(image, images)  # (n,)
    if labels.shape != distances.shape:
        raise ValueError(f"{len(distances)} images but labels of shape {labels.shape}")
    keep = np.ones(len(distances), dtype=bool)
    if exclude_self:
        (copies,) = np.nonzero(distances == 0.0)
        if len(copies):
            keep[copies[0]] = False
    means = np.full(num_classes, np.nan)
    for label in range(num_classes):
        chosen = keep & (labels == label)
        if np.any(chosen):
            means[label] = float(np.mean(distances[chosen]))
    return means


def class_mean_images(images: np.ndarray, labels: np.ndarray, num_classes: int = 10) -> np.ndarray:
    """Fig. 6.8: the mean image of each class, float64 `(num_classes, *image_shape)`.

    Raises:
      ValueError: a class has no example.
    """
    images = np.asarray(images)
    labels = np.asarray(labels)
    if labels.shape != images.shape[:1]:
        raise ValueError(f"{len(images)} images but labels of shape {labels.shape}")
    means = np.empty((num_classes, *images.shape[1:]))
    for label in range(num_classes):
        chosen = labels == label
        if not np.any(chosen):
            raise ValueError(f"class {label} has no example")
        means[label] = np.mean(images[chosen], axis=0, dtype=np.float64)
    return means


def squared_error_per_image(x: np.ndarray, x_hat: np.ndarray) -> np.ndarray:
    """`sum_i (x_i - x_hat_i)²` per image, Hinton & Salakhutdinov's unit: `(n, ...)` -> `(n,)`."""
    x, x_hat = _as_rows(x), _as_rows(x_hat, "x_hat")
    if x.shape != x_hat.shape:
        raise ValueError(f"x {x.shape} and x_hat {x_hat.shape} differ in shape")
    return np.sum((x.astype(np.float64) - x_hat.astype(np.float64)) ** 2, axis=1)


def l2_distance_per_image(x: np.ndarray, x_hat: np.ndarray) -> np.ndarray:
    """`||x - x_hat||_2` per image, the book's loss unit (lines 2612-2624): `(n, ...)` -> `(n,)`."""
    return np.sqrt(squared_error_per_image(x, x_hat))
