"""PCA baseline and code analyses (spec ch06-07 §2.1.1, §2.1.3; checklist items 1, 5, 7, 9).

References: `sklearn.decomposition.PCA` (the book's call), the eigenvectors of XᵀX (the book's
formula, line 2532) and brute-force NumPy loops. The fast tests use sklearn's bundled 8x8
digits (1,797 x 64) or small random arrays; the MNIST measurements are `slow`.
"""

import numpy as np
import pytest
from sklearn import datasets, decomposition

from fdl_tf2.models import pca


@pytest.fixture(scope="module")
def digits():
    images, labels = datasets.load_digits(return_X_y=True)  # (1797, 64) in 0..16.
    return images / 16.0, labels


def _correlated(rng, count=300, dimension=12):
    mixing = rng.normal(size=(dimension, dimension)) * np.linspace(3.0, 0.1, dimension)
    return rng.normal(size=(count, dimension)) @ mixing.T + rng.normal(size=dimension)


def _align_signs(ours, theirs):
    """`theirs` with each row's sign flipped to agree with `ours`."""
    signs = np.sign(np.sum(ours * theirs, axis=1))
    return theirs * signs[:, None]


@pytest.mark.parametrize("solver", ["svd", "eigh", "auto"])
def test_pca_matches_sklearn_up_to_the_sign_of_each_component(digits, solver):
    images, _ = digits
    ours = pca.PCA(10, solver=solver).fit(images)
    theirs = decomposition.PCA(n_components=10, svd_solver="full").fit(images)
    np.testing.assert_allclose(ours.mean, theirs.mean_, rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        ours.components, _align_signs(ours.components, theirs.components_), atol=1e-8
    )
    np.testing.assert_allclose(ours.explained_variance, theirs.explained_variance_, rtol=1e-10)
    np.testing.assert_allclose(
        ours.explained_variance_ratio, theirs.explained_variance_ratio_, rtol=1e-10
    )
    codes = ours.transform(images)
    their_codes = theirs.transform(images)
    signs = np.sign(np.sum(codes * their_codes, axis=0))
    np.testing.assert_allclose(codes, their_codes * signs, atol=1e-8)
    # Reconstructions do not depend on the signs at all.
    np.testing.assert_allclose(
        ours.inverse_transform(codes), theirs.inverse_transform(their_codes), atol=1e-10
    )


def test_components_are_the_top_eigenvectors_of_xtx_of_the_centred_data():
    x = _correlated(np.random.default_rng(0))
    fit = pca.PCA(4, solver="svd").fit(x)
    centred = x - x.mean(axis=0)
    scatter = centred.T @ centred  # XᵀX, (12, 12).
    eigenvalues = np.linalg.eigvalsh(scatter)[::-1]
    for component, variance, eigenvalue in zip(
        fit.components, fit.explained_variance, eigenvalues, strict=False
    ):
        np.testing.assert_allclose(scatter @ component, eigenvalue * component, atol=1e-9)
        assert variance == pytest.approx(eigenvalue / (len(x) - 1), rel=1e-12)
    np.testing.assert_allclose(fit.components @ fit.components.T, np.eye(4), atol=1e-12)
    # T = XW with W = components.T (the book's T = XW, for centred X).
    np.testing.assert_allclose(fit.transform(x), centred @ fit.components.T, atol=1e-12)


def test_each_component_has_its_largest_entry_positive():
    fit = pca.PCA(6).fit(_correlated(np.random.default_rng(1)))
    largest = fit.components[np.arange(6), np.argmax(np.abs(fit.components), axis=1)]
    assert np.all(largest > 0)


def test_svd_and_eigh_solvers_agree(digits):
    images, _ = digits
    by_svd = pca.PCA(20, solver="svd").fit(images)
    by_eigh = pca.PCA(20, solver="eigh").fit(images)
    np.testing.assert_allclose(by_svd.components, by_eigh.components, atol=1e-8)
    np.testing.assert_allclose(by_svd.explained_variance, by_eigh.explained_variance, rtol=1e-10)


def test_training_error_is_the_sum_of_the_discarded_eigenvalues():
    x = _correlated(np.random.default_rng(2), count=80, dimension=10)
    centred = x - x.mean(axis=0)
    eigenvalues = np.linalg.eigvalsh(centred.T @ centred)[::-1]
    for k in (1, 3, 9):
        fit = pca.PCA(k).fit(x)
        errors = pca.squared_error_per_image(x, fit.inverse_transform(fit.transform(x)))
        assert np.sum(errors) == pytest.approx(np.sum(eigenvalues[k:]), rel=1e-9)
    full = pca.PCA(10).fit(x)
    np.testing.assert_allclose(full.inverse_transform(full.transform(x)), x, atol=1e-10)


def test_truncate_equals_a_fresh_fit_and_images_may_be_2d(digits):
    images, _ = digits
    large = pca.PCA(30).fit(images)
    small, fresh = large.truncate(2), pca.PCA(2).fit(images.reshape(-1, 8, 8))
    np.testing.assert_allclose(small.components, fresh.components, atol=1e-10)
    np.testing.assert_allclose(small.explained_variance_ratio, fresh.explained_variance_ratio)
    np.testing.assert_allclose(
        small.transform(images[:5].reshape(5, 8, 8)), fresh.transform(images[:5]), atol=1e-10
    )


def test_pca_rejects_bad_arguments_and_use_before_fit():
    with pytest.raises(ValueError, match="num_components"):
        pca.PCA(0)
    with pytest.raises(ValueError, match="Unknown solver"):
        pca.PCA(2, solver="randomized")
    with pytest.raises(RuntimeError, match="not fitted"):
        pca.PCA(2).transform(np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"num_components=5 .* shape \(4, 3\)"):
        pca.PCA(5).fit(np.zeros((4, 3)))
    fit = pca.PCA(2).fit(np.random.default_rng(0).normal(size=(10, 4)))
    with pytest.raises(ValueError, match="5 features; PCA was fit on 4"):
        fit.transform(np.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"codes must be \(n, 2\)"):
        fit.inverse_transform(np.zeros((2, 3)))


def test_gaussian_cloud_has_the_documented_covariance_and_axis():
    cloud = pca.gaussian_cloud(20_000, seed=0)
    np.testing.assert_allclose(np.cov(cloud.T), [[3.0, 1.6], [1.6, 1.2]], atol=0.1)
    fit = pca.PCA(2).fit(cloud)
    np.testing.assert_allclose(fit.components[0], [0.863, 0.505], atol=0.01)
    assert fit.explained_variance_ratio[0] == pytest.approx(0.937, abs=0.005)
    np.testing.assert_array_equal(pca.gaussian_cloud(5, seed=3), pca.gaussian_cloud(5, seed=3))


def test_concentric_circles_and_polar_coordinates_separate_them():
    points, labels = pca.concentric_circles(400, noise=0.0, factor=0.5, seed=0)
    assert points.shape == (400, 2) and np.bincount(labels).tolist() == [200, 200]
    polar = pca.to_polar(points)
    np.testing.assert_allclose(polar[labels == 0, 0], 1.0, atol=1e-12)  # Outer circle.
    np.testing.assert_allclose(polar[labels == 1, 0], 0.5, atol=1e-12)  # Inner circle.
    back = polar[:, :1] * np.stack([np.cos(polar[:, 1]), np.sin(polar[:, 1])], axis=1)
    np.testing.assert_allclose(back, points, atol=1e-12)


def test_to_polar_of_hand_checked_points():
    points = np.array([[1.0, 0.0], [0.0, 2.0], [-1.0, 0.0], [0.0, -3.0], [1.0, 1.0]])
    np.testing.assert_allclose(
        pca.to_polar(points),
        [[1, 0], [2, np.pi / 2], [1, np.pi], [3, -np.pi / 2], [np.sqrt(2), np.pi / 4]],
        atol=1e-15,
    )
    np.testing.assert_allclose(pca.to_polar([[3.0, 1.0]], center=(2.0, 1.0)), [[1.0, 0.0]])
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        pca.to_polar(np.zeros((3, 3)))


def _threshold_reference(values, labels):
    """Every cut between distinct sorted values (and none), both orientations."""
    best = 0.0
    for cut in np.concatenate([[-np.inf], np.unique(values)]):
        predicted = (values > cut).astype(int)
        best = max(best, np.mean(predicted == labels), np.mean(predicted != labels))
    return best


def test_best_threshold_accuracy_equals_trying_every_cut_and_keeps_ties_together():
    rng = np.random.default_rng(0)
    values, labels = np.round(rng.normal(size=120), 1), rng.integers(0, 2, 120)  # Many ties.
    assert pca.best_threshold_accuracy(values, labels) == pytest.approx(
        _threshold_reference(values, labels), abs=1e-15
    )
    assert pca.best_threshold_accuracy([3.0, 1.0, 2.0, 4.0], [1, 0, 0, 1]) == 1.0
    assert pca.best_threshold_accuracy([1.0, 2.0], [1, 0]) == 1.0  # Reversed rule.
    assert pca.best_threshold_accuracy([1.0, 1.0, 1.0, 1.0], [0, 1, 1, 1]) == 0.75  # One tie.
    with pytest.raises(ValueError, match="0 or 1"):
        pca.best_threshold_accuracy([1.0, 2.0], [0, 2])


def _knn_reference(train, train_labels, test, k):
    distances = np.sum((test[:, None] - train[None]) ** 2, axis=-1)  # (n_test, n_train)
    neighbours = np.argsort(distances, axis=1, kind="stable")[:, :k]
    votes = train_labels[neighbours]
    return np.array([np.bincount(row).argmax() for row in votes])


@pytest.mark.parametrize("k", [1, 3, 7])
def test_knn_accuracy_equals_a_brute_force_majority_vote(k):
    rng = np.random.default_rng(k)
    train, train_labels = rng.normal(size=(200, 2)), rng.integers(0, 3, 200)
    test, test_labels = rng.normal(size=(50, 2)), rng.integers(0, 3, 50)
    expected = np.mean(_knn_reference(train, train_labels, test, k) == test_labels)
    assert pca.knn_accuracy(train, train_labels, test, test_labels, k=k) == expected


def test_knn_accuracy_is_one_on_separated_clusters_and_checks_arguments():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    train_labels, test_labels = rng.integers(0, 3, 90), rng.integers(0, 3, 30)
    train = centres[train_labels] + rng.normal(size=(90, 2))
    test = centres[test_labels] + rng.normal(size=(30, 2))
    assert pca.knn_accuracy(train, train_labels, test, test_labels, k=5) == 1.0
    with pytest.raises(ValueError, match=r"k must be in \[1, 90\]"):
        pca.knn_accuracy(train, train_labels, test, test_labels, k=91)
    with pytest.raises(ValueError, match="codes differ in size"):
        pca.knn_accuracy(train, train_labels, np.zeros((30, 3)), test_labels)


def test_mean_class_distances_equal_a_loop_and_leave_out_the_image_itself():
    rng = np.random.default_rng(0)
    images, labels = rng.uniform(size=(60, 16)), rng.integers(0, 3, 60)
    labels[:3] = [0, 1, 2]
    chosen = 7
    result = pca.mean_class_distances(images[chosen], images, labels, num_classes=4)
    for label in range(3):
        others = [
            np.linalg.norm(images[i] - images[chosen])
            for i in range(60)
            if labels[i] == label and i != chosen
        ]
        assert result[label] == pytest.approx(np.mean(others), rel=1e-12)
    assert np.isnan(result[3])  # No example of class 3.
    kept = pca.mean_class_distances(images[chosen], images, labels, exclude_self=False)
    own = labels == labels[chosen]
    assert kept[labels[chosen]] == pytest.approx(
        np.mean(np.linalg.norm(images[own] - images[chosen], axis=1)), rel=1e-12
    )
    assert kept[labels[chosen]] < result[labels[chosen]]  # The zero distance pulls it down.


def test_mean_class_distances_leave_out_only_one_copy_and_nothing_for_outside_images():
    images = np.array([[0.0, 0.0], [0.0, 0.0], [3.0, 4.0], [6.0, 8.0]])
    labels = np.array([0, 0, 0, 1])
    # Two copies of the image: one is "itself", the other a genuine example at distance 0.
    np.testing.assert_allclose(
        pca.mean_class_distances([0.0, 0.0], images, labels, num_classes=2), [2.5, 10.0]
    )
    # An image not among `images`: every example counts.
    np.testing.assert_allclose(
        pca.mean_class_distances([0.0, 1.0], images, labels, num_classes=2),
        [(1 + 1 + np.sqrt(9 + 9)) / 3, np.sqrt(36 + 49)],
    )


def test_class_mean_images_keep_the_image_shape_and_need_every_class():
    rng = np.random.default_rng(0)
    images, labels = rng.uniform(size=(30, 4, 4)), np.arange(30) % 3
    means = pca.class_mean_images(images, labels, num_classes=3)
    assert means.shape == (3, 4, 4)
    np.testing.assert_allclose(means[1], images[1::3].mean(axis=0), rtol=1e-12)
    with pytest.raises(ValueError, match="class 3 has no example"):
        pca.class_mean_images(images, labels, num_classes=4)


def test_per_image_errors_of_hand_checked_images():
    x = np.zeros((2, 2, 2))
    x_hat = np.array([[[1.0, 2.0], [2.0, 0.0]], [[0.0, 0.0], [3.0, 4.0]]])
    np.testing.assert_allclose(pca.squared_error_per_image(x, x_hat), [9.0, 25.0])
    np.testing.assert_allclose(pca.l2_distance_per_image(x, x_hat.reshape(2, 4)), [3.0, 5.0])
    with pytest.raises(ValueError, match="differ in shape"):
        pca.squared_error_per_image(np.zeros((2, 4)), np.zeros((2, 5)))


@pytest.mark.slow
def test_mnist_pca_errors_knn_and_class_distances(mnist_dir):
    """Real MNIST (55,000 train / 10,000 test, [0, 1]); about 30 s on 2 cores."""
    from fdl_tf2.data import mnist

    train, train_labels = mnist.load_arrays("train", data_dir=mnist_dir)
    test, test_labels = mnist.load_arrays("test", data_dir=mnist_dir)
    train = train.reshape(-1, 784).astype(np.float32) / 255.0
    test = test.reshape(-1, 784).astype(np.float32) / 255.0
    large = pca.PCA(30).fit(train)
    reconstructed = large.inverse_transform(large.transform(test))
    # Hinton & Salakhutdinov (2006): 13.87 for 30-D PCA (measured here: 13.866).
    assert np.mean(pca.squared_error_per_image(test, reconstructed)) == pytest.approx(13.9, abs=0.5)
    small = large.truncate(2)
    accuracy = pca.knn_accuracy(
        small.transform(train), train_labels, small.transform(test), test_labels, k=5
    )
    assert 0.35 < accuracy < 0.5  # Measured 0.4268: the 2-D PCA classes overlap (Fig. 6.11).
    # Fig. 6.8 for the first "1" of the training split: the book's 1 is 5.75 from 1s, 8.94
    # from 7s (the nearest other class) and 11.05 from 0s (the farthest).
    first_one = int(np.flatnonzero(train_labels == 1)[0])
    distances = pca.mean_class_distances(train[first_one], train, train_labels)
    others = np.delete(np.arange(10), 1)
    assert distances[1] == pytest.approx(5.75, abs=0.5)
    assert others[np.argmin(distances[others])] == 7 and np.argmax(distances) == 0
