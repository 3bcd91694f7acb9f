"""DNC addressing: the vectorised, batched ops against the element-wise NumPy reference.

Checklist ch08-09 §6.1: agreement with explicit loops for several N, W, R, B; the book's worked
allocation example; the link-matrix case that catches the `V + V` bug; invariants; finite
gradients through a multi-step unroll including `top_k`.
"""

import numpy as np
import pytest
import tensorflow as tf

from fdl_tf2.memory import addressing, dnc, reference

SIZES = [  # (B, N, W, R)
    (1, 4, 3, 1),
    (2, 5, 4, 2),
    (3, 7, 5, 3),
    (2, 13, 6, 4),
]
ATOL = 1e-6


def _simplex(rng, *shape, total=1.0):
    """Non-negative rows summing to `total` (< 1 leaves some mass out, as DNC weightings do)."""
    x = rng.random(shape) + 1e-3
    return total * x / x.sum(axis=-1, keepdims=True)


def _random_case(rng, batch, slots, width, reads):
    return {
        "memory": rng.normal(size=(batch, slots, width)),
        "usage": rng.random((batch, slots)),
        "link": rng.random((batch, slots, slots)) * (1 - np.eye(slots)) / slots,
        "precedence": _simplex(rng, batch, slots, total=0.8),
        "read_weights": _simplex(rng, batch, reads, slots, total=0.9),
        "write_weights": _simplex(rng, batch, slots, total=0.7),
        "keys": rng.normal(size=(batch, reads, width)),
        "strengths": 1 + rng.random((batch, reads)) * 5,
        "free_gates": rng.random((batch, reads)),
        "gates": rng.random((batch, 2)),
        "erase": rng.random((batch, width)),
        "write_vector": rng.normal(size=(batch, width)),
        "modes": _simplex(rng, batch, reads, 3),
    }


def _f32(x):
    return tf.constant(x, tf.float32)


@pytest.mark.parametrize("batch,slots,width,reads", SIZES)
def test_each_op_matches_the_elementwise_reference(batch, slots, width, reads):
    rng = np.random.default_rng(slots * 100 + reads)
    case = _random_case(rng, batch, slots, width, reads)
    got = {
        "content": addressing.content_weights(
            _f32(case["memory"]), _f32(case["keys"]), _f32(case["strengths"])
        ),
        "retention": addressing.retention(_f32(case["free_gates"]), _f32(case["read_weights"])),
        "allocation": addressing.allocation_weights(_f32(case["usage"])),
        "link": addressing.update_link(
            _f32(case["link"]), _f32(case["precedence"]), _f32(case["write_weights"])
        ),
        "precedence": addressing.update_precedence(
            _f32(case["precedence"]), _f32(case["write_weights"])
        ),
        "memory": addressing.erase_and_write(
            _f32(case["memory"]),
            _f32(case["write_weights"]),
            _f32(case["erase"]),
            _f32(case["write_vector"]),
        ),
        "reads": addressing.read_vectors(_f32(case["memory"]), _f32(case["read_weights"])),
    }
    forward, backward = addressing.directional_weights(
        _f32(case["link"]), _f32(case["read_weights"])
    )
    mixed = addressing.read_weights(
        _f32(case["modes"]), backward, _f32(case["read_weights"]), forward
    )
    write = addressing.write_weights(
        _f32(case["usage"]),
        _f32(case["write_weights"]),
        _f32(case["gates"][:, 0]),
        _f32(case["gates"][:, 1]),
    )
    usage = addressing.update_usage(
        _f32(case["usage"]), _f32(case["write_weights"]), got["retention"]
    )
    for b in range(batch):
        np.testing.assert_allclose(
            got["content"][b],
            reference.content_weights(case["memory"][b], case["keys"][b], case["strengths"][b]),
            atol=ATOL,
        )
        psi = reference.retention(case["free_gates"][b], case["read_weights"][b])
        np.testing.assert_allclose(got["retention"][b], psi, atol=ATOL)
        np.testing.assert_allclose(
            usage[b],
            reference.update_usage(case["usage"][b], case["write_weights"][b], psi),
            atol=ATOL,
        )
        np.testing.assert_allclose(
            got["allocation"][b], reference.allocation_weights(case["usage"][b]), atol=ATOL
        )
        np.testing.assert_allclose(
            got["link"][b],
            reference.update_link(case["link"][b], case["precedence"][b], case["write_weights"][b]),
            atol=ATOL,
        )
        np.testing.assert_allclose(
            got["precedence"][b],
            reference.update_precedence(case["precedence"][b], case["write_weights"][b]),
            atol=ATOL,
        )
        np.testing.assert_allclose(
            got["memory"][b],
            reference.erase_and_write(
                case["memory"][b],
                case["write_weights"][b],
                case["erase"][b],
                case["write_vector"][b],
            ),
            atol=ATOL * 10,
        )
        np.testing.assert_allclose(
            got["reads"][b],
            reference.read_vectors(case["memory"][b], case["read_weights"][b]),
            atol=ATOL * 10,
        )
        f_ref, b_ref = reference.directional_weights(case["link"][b], case["read_weights"][b])
        np.testing.assert_allclose(forward[b], f_ref, atol=ATOL)
        np.testing.assert_allclose(backward[b], b_ref, atol=ATOL)
        np.testing.assert_allclose(
            mixed[b],
            reference.read_weights(case["modes"][b], b_ref, case["read_weights"][b], f_ref),
            atol=ATOL,
        )
        np.testing.assert_allclose(
            write[b],
            reference.write_weights(
                case["usage"][b], case["write_weights"][b], case["gates"][b, 0], case["gates"][b, 1]
            ),
            atol=ATOL,
        )


def _random_interface(rng, batch, width, reads):
    raw = rng.normal(size=(batch, dnc.interface_size(reads, width)))
    return raw, dnc.parse_interface(_f32(raw), reads, width)


@pytest.mark.parametrize("batch,slots,width,reads", SIZES)
def test_memory_step_unrolled_matches_the_reference(batch, slots, width, reads):
    """Five steps of the whole memory update, batched TF against the per-example loops."""
    rng = np.random.default_rng(7 + slots)
    # A random, non-degenerate start: from the all-equal initial state, slots tie in usage and
    # float32 rounding, not the equations, would decide the free-list order.
    case = _random_case(rng, batch, slots, width, reads)
    tf_state = dnc.MemoryState(
        memory=_f32(case["memory"]),
        read_weights=_f32(case["read_weights"]),
        write_weights=_f32(case["write_weights"]),
        link=_f32(case["link"]),
        precedence=_f32(case["precedence"]),
        usage=_f32(case["usage"]),
    )
    ref_states = [
        {name: np.asarray(value[b], np.float64) for name, value in tf_state._asdict().items()}
        for b in range(batch)
    ]
    for _ in range(5):
        _, interface = _random_interface(rng, batch, width, reads)
        tf_state, tf_reads, _ = dnc.memory_step(tf_state, interface)
        for b in range(batch):
            ref_interface = {
                name: np.asarray(value[b], np.float64)
                for name, value in interface._asdict().items()
            }
            ref_interface["write_key"] = ref_interface["write_key"][0]
            ref_interface["write_strength"] = ref_interface["write_strength"][0]
            ref_states[b], ref_reads = reference.memory_step(ref_states[b], ref_interface)
            for name in ref_states[b]:
                np.testing.assert_allclose(
                    getattr(tf_state, name)[b], ref_states[b][name], atol=1e-5, err_msg=name
                )
            np.testing.assert_allclose(tf_reads[b], ref_reads, atol=1e-5)


def test_allocation_worked_example_from_the_book():
    """Seed line 5485: u = [1, 0.7, 0.2, 0.4] -> a = [0, 0.024, 0.8, 0.12]."""
    usage = _f32([[1.0, 0.7, 0.2, 0.4]])
    np.testing.assert_allclose(
        addressing.allocation_weights(usage)[0], [0.0, 0.024, 0.8, 0.12], atol=1e-6
    )
    np.testing.assert_allclose(
        reference.allocation_weights([1.0, 0.7, 0.2, 0.4]), [0.0, 0.024, 0.8, 0.12], atol=1e-12
    )


def test_allocation_ties_take_the_lower_slot_first():
    np.testing.assert_allclose(
        addressing.allocation_weights(_f32([[0.5, 0.5, 1.0]]))[0], [0.5, 0.25, 0.0], atol=1e-7
    )


def test_link_matrix_catches_the_book_pairwise_add_bug():
    """Errata 1: a non-zero previous link separates w[i] + w[j] from the listing's 2 w[i]."""
    previous_link = _f32([0.1 * (1 - np.eye(3))])
    precedence = _f32([[0.1, 0.6, 0.3]])
    write = _f32([[0.7, 0.2, 0.0]])
    correct = [[0, 0.43, 0.24], [0.03, 0, 0.14], [0.03, 0.08, 0]]
    buggy = [[0, 0.38, 0.17], [0.08, 0, 0.12], [0.1, 0.1, 0]]
    link = addressing.update_link(previous_link, precedence, write)
    np.testing.assert_allclose(link[0], correct, atol=1e-6)
    np.testing.assert_allclose(
        addressing.update_link(previous_link, precedence, write, book_pairwise_add=True)[0],
        buggy,
        atol=1e-6,
    )
    np.testing.assert_allclose(
        addressing.update_precedence(precedence, write)[0], [0.71, 0.26, 0.03], atol=1e-6
    )
    forward, backward = addressing.directional_weights(link, _f32([[[0.0, 1.0, 0.0]]]))
    np.testing.assert_allclose(forward[0, 0], [0.43, 0, 0.08], atol=1e-6)
    np.testing.assert_allclose(backward[0, 0], [0.03, 0, 0.14], atol=1e-6)


def test_invariants_over_a_random_unroll():
    """Usage in [0, 1]; weightings non-negative, summing to <= 1; the link diagonal 0."""
    rng = np.random.default_rng(3)
    batch, slots, width, reads = 4, 8, 5, 2
    state = dnc.MemoryState(
        _f32(np.full((batch, slots, width), 1e-6)),
        _f32(np.full((batch, reads, slots), 1e-6)),
        _f32(np.full((batch, slots), 1e-6)),
        _f32(np.zeros((batch, slots, slots))),
        _f32(np.zeros((batch, slots))),
        _f32(np.zeros((batch, slots))),
    )
    for _ in range(20):
        raw = rng.normal(scale=3.0, size=(batch, dnc.interface_size(reads, width)))
        state, _, record = dnc.memory_step(state, dnc.parse_interface(_f32(raw), reads, width))
        eps = 1e-5
        assert np.all(state.usage >= -eps) and np.all(state.usage <= 1 + eps)
        for weights in (record.allocation, state.write_weights, state.precedence):
            assert np.all(weights >= -eps)
            assert np.all(np.sum(weights, axis=-1) <= 1 + eps)
        assert np.all(state.read_weights >= -eps)
        assert np.all(np.sum(state.read_weights, axis=-1) <= 1 + eps)
        assert np.all(state.link >= -eps) and np.all(state.link <= 1 + eps)
        np.testing.assert_array_equal(np.diagonal(state.link, axis1=1, axis2=2), 0.0)


def _unrolled_loss(interfaces, slots, width, reads):
    """A scalar of every step's read vectors and usage, from the repository's initial state."""
    steps, batch = interfaces.shape[0], interfaces.shape[1]
    dtype = interfaces.dtype
    fill = tf.constant(dnc.INITIAL_FILL, dtype)
    state = dnc.MemoryState(
        tf.fill((batch, slots, width), fill),
        tf.fill((batch, reads, slots), fill),
        tf.fill((batch, slots), fill),
        tf.zeros((batch, slots, slots), dtype),
        tf.zeros((batch, slots), dtype),
        tf.zeros((batch, slots), dtype),
    )
    total = tf.constant(0.0, dtype)
    for t in range(steps):
        state, read_vectors, _ = dnc.memory_step(
            state, dnc.parse_interface(interfaces[t], reads, width)
        )
        total += tf.reduce_sum(tf.sin(read_vectors)) + tf.reduce_sum(state.usage**2)
    return total


def test_gradients_are_finite_through_a_multi_step_unroll():
    """Through top_k, the cumprod and the link over 8 steps, from the tied initial usage."""
    slots, width, reads = 6, 4, 2
    raw = tf.constant(
        np.random.default_rng(0).normal(size=(8, 2, dnc.interface_size(reads, width))),
        tf.float32,
    )
    with tf.GradientTape() as tape:
        tape.watch(raw)
        value = _unrolled_loss(raw, slots, width, reads)
    gradient = tape.gradient(value, raw).numpy()
    assert np.all(np.isfinite(gradient))
    assert np.count_nonzero(gradient) > 0.5 * gradient.size


def test_gradients_match_finite_differences():
    """float64, 3 steps, R=1: the analytic Jacobian equals the numerical one."""
    slots, width, reads = 5, 3, 1
    raw = tf.constant(
        np.random.default_rng(1).normal(size=(3, 1, dnc.interface_size(reads, width))),
        tf.float64,
    )
    loss = tf.function(lambda x: _unrolled_loss(x, slots, width, reads))
    theoretical, numerical = tf.test.compute_gradient(loss, [raw], delta=1e-6)
    np.testing.assert_allclose(theoretical[0], numerical[0], atol=1e-5)


def test_ops_compile_with_xla():
    usage = _f32(np.random.default_rng(1).random((3, 9)))
    compiled = tf.function(addressing.allocation_weights, jit_compile=True)
    np.testing.assert_allclose(compiled(usage), addressing.allocation_weights(usage), atol=1e-7)
