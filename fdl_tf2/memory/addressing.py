"""DNC memory addressing: pure, batched functions of the chapter-8 equations.

Book: chapter 8, "Differentiable Neural Computers" (seed lines 5441-5537 for the equations,
5599-5693 for the vectorised link and allocation listings); spec ch08-09 §1.5-1.8 and §1.13 (the
repository's `mem_ops.py`), errata §5 items 1 and 9, checklist §6.1. Reference: Graves et al.
(2016), "Hybrid computing using a neural network with dynamic external memory" (the book's
ref. 89), whose factoring google-deepmind/dnc's `addressing.py` follows and this module imitates.

Every function takes and returns batched tensors (batch 1 is the book's) and is written in
`keras.ops`, so it runs inside `tf.function(jit_compile=True)` and under Keras' JAX backend.
Shapes: `B` batch, `N` memory slots (`memory_size`), `W` word size, `R` read heads. One write
head, as in the book. The NumPy twin of every function, written element by element from the
equations with explicit loops, is `fdl_tf2.memory.reference`; the tests hold the two together.

Notation (the book's, with the seed's garbled subscripts corrected):

    content weights     C(M, k, beta)[i] = softmax_i(beta * cos(M[i], k))
    retention           psi_t    = prod_r (1 - f_t^r * w_{t-1}^{r}[i])
    usage               u_t      = (u_{t-1} + w_{t-1}^w - u_{t-1} * w_{t-1}^w) * psi_t
    allocation          a_t[phi[j]] = (1 - u_t[phi[j]]) * prod_{i<j} u_t[phi[i]],
                                     phi = the slots sorted by ascending usage
    write weights       w_t^w    = g^w * (g^a * a_t + (1 - g^a) * c_t^w)
    memory              M_t      = M_{t-1} * (1 - w_t^w e_t^T) + w_t^w v_t^T
    link                L_t[i,j] = (1 - w_t^w[i] - w_t^w[j]) L_{t-1}[i,j] + w_t^w[i] p_{t-1}[j],
                                   L_t[i,i] = 0
    precedence          p_t      = (1 - sum_i w_t^w[i]) p_{t-1} + w_t^w
    forward, backward   f_t^r    = L_t w_{t-1}^r,   b_t^r = L_t^T w_{t-1}^r
    read weights        w_t^r    = pi^r[0] b_t^r + pi^r[1] c_t^r + pi^r[2] f_t^r
    read vectors        r_t^r    = M_t^T w_t^r

Book bug, behind a flag: the listing's `pairwise_add` returns `V + V` (2 w[i]) instead of
`V + V^T` (w[i] + w[j]) (seed line 5656, errata 1); `update_link(..., book_pairwise_add=True)`
reproduces it. The allocation sort is not differentiable in the permutation: gradients flow
through the sorted values only, as in the paper (errata 9); ties keep the lower slot first.
"""

from keras import ops

COSINE_EPSILON = 1e-6
"""Added under the square roots of the cosine-similarity norms, so all-zero rows stay finite."""


def content_weights(memory, keys, strengths):
    """Content addressing: a softmax over slots of the strength-scaled cosine similarity.

    `C(M, k, beta)[b, h, i] = softmax_i(beta[b, h] * <M[b, i], k[b, h]> / (|M[b, i]| |k[b, h]|))`,
    with `|x| = sqrt(sum x^2 + COSINE_EPSILON)` (the repository's `l2_normalize` epsilon role).

    Args:
        memory: `(B, N, W)`.
        keys: `(B, H, W)`, one key per head.
        strengths: `(B, H)`, `beta >= 1` after `oneplus`.

    Returns:
        `(B, H, N)` weights; each row sums to 1.
    """
    dot = ops.einsum("bhw,bnw->bhn", keys, memory)
    memory_norm = ops.sqrt(ops.sum(ops.square(memory), axis=-1) + COSINE_EPSILON)  # (B, N)
    key_norm = ops.sqrt(ops.sum(ops.square(keys), axis=-1) + COSINE_EPSILON)  # (B, H)
    similarity = dot / (key_norm[:, :, None] * memory_norm[:, None, :])
    return ops.softmax(strengths[:, :, None] * similarity, axis=-1)


def retention(free_gates, previous_read_weights):
    """Memory retention `psi[b, i] = prod_r (1 - f[b, r] * w^r_{t-1}[b, r, i])`.

    Args:
        free_gates: `(B, R)` in [0, 1].
        previous_read_weights: `(B, R, N)`.

    Returns:
        `(B, N)` in [0, 1].
    """
    return ops.prod(1.0 - free_gates[:, :, None] * previous_read_weights, axis=1)


def update_usage(previous_usage, previous_write_weights, retention_vector):
    """Usage `u_t = (u_{t-1} + w^w_{t-1} - u_{t-1} * w^w_{t-1}) * psi_t`.

    Args:
        previous_usage: `(B, N)` in [0, 1].
        previous_write_weights: `(B, N)`, last step's write weighting.
        retention_vector: `(B, N)`, from `retention`.

    Returns:
        `(B, N)` in [0, 1].
    """
    written = previous_usage + previous_write_weights - previous_usage * previous_write_weights
    return written * retention_vector


def allocation_weights(usage):
    """Allocation: the free list, its exclusive cumulative product and the inverse permutation.

    The book's four steps (seed lines 5665-5693, Fig. 8.11), without loops:
    1. `top_k(-u, N)` sorts the slots by ascending usage (the free list `phi`);
    2. `exclusive_cumprod(sorted u)[j] = prod_{i<j} sorted_u[i]`;
    3. `sorted_a = (1 - sorted_u) * exclusive_cumprod`;
    4. `a = sorted_a[argsort(phi)]`, the inverse permutation, for the book's `TensorArray.scatter`.

    Example (seed line 5485): `u = [1, 0.7, 0.2, 0.4]` gives `a = [0, 0.024, 0.8, 0.12]`.

    Args:
        usage: `(B, N)` in [0, 1].

    Returns:
        `(B, N)`, non-negative, summing to `1 - prod_i u[i]` (at most 1).
    """
    num_slots = ops.shape(usage)[-1]
    negative_sorted, free_list = ops.top_k(-usage, k=num_slots)  # (B, N) each
    sorted_usage = -negative_sorted
    # Exclusive cumulative product: shift the inclusive one right by a column of ones.
    ones = ops.ones_like(sorted_usage[:, :1])
    exclusive = ops.cumprod(ops.concatenate([ones, sorted_usage[:, :-1]], axis=-1), axis=-1)
    sorted_allocation = (1.0 - sorted_usage) * exclusive
    inverse_permutation = ops.argsort(free_list, axis=-1)
    return ops.take_along_axis(sorted_allocation, inverse_permutation, axis=-1)


def write_weights(allocation, write_content_weights, allocation_gate, write_gate):
    """Write weighting `w^w = g^w * (g^a * a + (1 - g^a) * c^w)`.

    Args:
        allocation: `(B, N)`, from `allocation_weights`.
        write_content_weights: `(B, N)`, `content_weights(M_{t-1}, k^w, beta^w)` (the memory
            BEFORE this step's write).
        allocation_gate: `(B,)` in [0, 1].
        write_gate: `(B,)` in [0, 1].

    Returns:
        `(B, N)`, non-negative, summing to at most 1.
    """
    gate_a = allocation_gate[:, None]
    return write_gate[:, None] * (gate_a * allocation + (1.0 - gate_a) * write_content_weights)


def erase_and_write(memory, write_weighting, erase_vector, write_vector):
    """Memory update `M_t = M_{t-1} * (1 - w e^T) + w v^T` (seed line 5461).

    Args:
        memory: `(B, N, W)`, `M_{t-1}`.
        write_weighting: `(B, N)`.
        erase_vector: `(B, W)` in [0, 1].
        write_vector: `(B, W)`.

    Returns:
        `(B, N, W)`, `M_t`.
    """
    weights = write_weighting[:, :, None]  # (B, N, 1)
    return memory * (1.0 - weights * erase_vector[:, None, :]) + weights * write_vector[:, None, :]


def update_link(previous_link, previous_precedence, write_weighting, book_pairwise_add=False):
    """Temporal link `L_t[i,j] = (1 - w[i] - w[j]) L_{t-1}[i,j] + w[i] p_{t-1}[j]`, zero diagonal.

    `L_t[i, j]` is the degree to which slot i was written right after slot j (seed lines
    5523-5525). The pairwise sum is a broadcast, `w[:, :, None] + w[:, None, :]`, and the outer
    product `w p^T` another (the book's vectorised listing, seed line 5639).

    Args:
        previous_link: `(B, N, N)`, `L_{t-1}`.
        previous_precedence: `(B, N)`, `p_{t-1}`.
        write_weighting: `(B, N)`, `w^w_t`.
        book_pairwise_add: reproduce the listing's bug, `(1 - 2 w[i]) L_{t-1}[i, j]` (errata 1).

    Returns:
        `(B, N, N)`, `L_t`, entries in [0, 1], diagonal 0.
    """
    row = write_weighting[:, :, None]  # (B, N, 1): w[i]
    column = write_weighting[:, None, :]  # (B, 1, N): w[j]
    pairwise = row + row if book_pairwise_add else row + column
    link = (1.0 - pairwise) * previous_link + row * previous_precedence[:, None, :]
    num_slots = ops.shape(write_weighting)[-1]
    off_diagonal = 1.0 - ops.eye(num_slots, dtype=link.dtype)
    return link * off_diagonal


def update_precedence(previous_precedence, write_weighting):
    """Precedence `p_t = (1 - sum_i w[i]) p_{t-1} + w` (seed lines 5517-5521).

    Args:
        previous_precedence: `(B, N)`, `p_{t-1}`.
        write_weighting: `(B, N)`.

    Returns:
        `(B, N)`, summing to at most 1.
    """
    written = ops.sum(write_weighting, axis=-1, keepdims=True)
    return (1.0 - written) * previous_precedence + write_weighting


def directional_weights(link, previous_read_weights):
    """Forward and backward weightings `f^r = L w^r_{t-1}` and `b^r = L^T w^r_{t-1}`.

    Both use `L_t` (the paper and the repository; the seed's `L_{t-1}^T`, line 5533, is a typo).

    Args:
        link: `(B, N, N)`, `L_t`.
        previous_read_weights: `(B, R, N)`.

    Returns:
        `(forward, backward)`, each `(B, R, N)`.
    """
    forward = ops.einsum("bij,brj->bri", link, previous_read_weights)
    backward = ops.einsum("bji,brj->bri", link, previous_read_weights)
    return forward, backward


def read_weights(read_modes, backward, read_content_weights, forward):
    """Read weighting `w^r = pi[0] b + pi[1] c^r + pi[2] f` per head (seed lines 5535-5537).

    Args:
        read_modes: `(B, R, 3)`, a softmax over (backward, content, forward).
        backward: `(B, R, N)`.
        read_content_weights: `(B, R, N)`, `content_weights(M_t, k^r, beta^r)` (the memory
            AFTER this step's write).
        forward: `(B, R, N)`.

    Returns:
        `(B, R, N)`, non-negative, each head summing to at most 1.
    """
    return (
        read_modes[:, :, 0:1] * backward
        + read_modes[:, :, 1:2] * read_content_weights
        + read_modes[:, :, 2:3] * forward
    )


def read_vectors(memory, read_weighting):
    """Read vectors `r^r = M^T w^r` (seed line 5471).

    Args:
        memory: `(B, N, W)`, `M_t`.
        read_weighting: `(B, R, N)`.

    Returns:
        `(B, R, W)`.
    """
    return ops.einsum("brn,bnw->brw", read_weighting, memory)
