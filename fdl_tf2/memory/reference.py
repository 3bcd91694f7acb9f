"""An element-wise NumPy reference of the DNC equations, for tests and for reading.

Every function here handles ONE example (no batch axis) and is written from the equations of
chapter 8 (spec ch08-09 §1.5-1.8) with explicit Python loops: the free-list sort and a running
product for the allocation, a double loop for the link matrix. `fdl_tf2.memory.addressing` holds
the batched, vectorised versions; `tests/unit/memory/test_addressing.py` asserts the two agree.
Shapes: `N` slots, `W` word size, `R` read heads. Computation is in float64.
"""

import math

import numpy as np

COSINE_EPSILON = 1e-6


def content_weights(memory, keys, strengths):
    """`memory` `(N, W)`, `keys` `(H, W)`, `strengths` `(H,)` -> `(H, N)` softmax weights."""
    num_heads, num_slots = len(keys), len(memory)
    weights = np.zeros((num_heads, num_slots))
    for h in range(num_heads):
        key_norm = math.sqrt(sum(x * x for x in keys[h]) + COSINE_EPSILON)
        scores = []
        for i in range(num_slots):
            slot_norm = math.sqrt(sum(x * x for x in memory[i]) + COSINE_EPSILON)
            dot = sum(m * k for m, k in zip(memory[i], keys[h], strict=True))
            cosine = dot / (key_norm * slot_norm)
            scores.append(strengths[h] * cosine)
        top = max(scores)
        exps = [math.exp(s - top) for s in scores]
        total = sum(exps)
        for i in range(num_slots):
            weights[h, i] = exps[i] / total
    return weights


def retention(free_gates, previous_read_weights):
    """`free_gates` `(R,)`, `previous_read_weights` `(R, N)` -> `(N,)`."""
    num_slots = previous_read_weights.shape[1]
    psi = np.ones(num_slots)
    for i in range(num_slots):
        for r in range(len(free_gates)):
            psi[i] *= 1.0 - free_gates[r] * previous_read_weights[r, i]
    return psi


def update_usage(previous_usage, previous_write_weights, retention_vector):
    """`(N,)` x 3 -> `(N,)`."""
    return np.array(
        [
            (u + w - u * w) * psi
            for u, w, psi in zip(
                previous_usage, previous_write_weights, retention_vector, strict=True
            )
        ]
    )


def allocation_weights(usage):
    """`usage` `(N,)` -> `(N,)`: sort into the free list, then a running product."""
    free_list = sorted(range(len(usage)), key=lambda i: usage[i])  # stable: ties by index
    allocation = np.zeros(len(usage))
    product = 1.0
    for slot in free_list:
        allocation[slot] = (1.0 - usage[slot]) * product
        product *= usage[slot]
    return allocation


def write_weights(allocation, write_content_weights, allocation_gate, write_gate):
    """`(N,)`, `(N,)`, scalar, scalar -> `(N,)`."""
    return np.array(
        [
            write_gate * (allocation_gate * a + (1.0 - allocation_gate) * c)
            for a, c in zip(allocation, write_content_weights, strict=True)
        ]
    )


def erase_and_write(memory, write_weighting, erase_vector, write_vector):
    """`memory` `(N, W)`, `write_weighting` `(N,)`, `erase`/`write` `(W,)` -> `(N, W)`."""
    num_slots, word_size = memory.shape
    updated = np.zeros_like(memory, dtype=float)
    for i in range(num_slots):
        for k in range(word_size):
            erased = memory[i, k] * (1.0 - write_weighting[i] * erase_vector[k])
            updated[i, k] = erased + write_weighting[i] * write_vector[k]
    return updated


def update_link(previous_link, previous_precedence, write_weighting):
    """`(N, N)`, `(N,)`, `(N,)` -> `(N, N)`, a double loop over (i, j)."""
    num_slots = len(write_weighting)
    link = np.zeros((num_slots, num_slots))
    for i in range(num_slots):
        for j in range(num_slots):
            if i == j:
                continue
            keep = 1.0 - write_weighting[i] - write_weighting[j]
            link[i, j] = keep * previous_link[i, j] + write_weighting[i] * previous_precedence[j]
    return link


def update_precedence(previous_precedence, write_weighting):
    """`(N,)`, `(N,)` -> `(N,)`."""
    written = sum(write_weighting)
    pairs = zip(previous_precedence, write_weighting, strict=True)
    return np.array([(1.0 - written) * p + w for p, w in pairs])


def directional_weights(link, previous_read_weights):
    """`link` `(N, N)`, `previous_read_weights` `(R, N)` -> forward, backward, each `(R, N)`."""
    num_reads, num_slots = previous_read_weights.shape
    forward = np.zeros((num_reads, num_slots))
    backward = np.zeros((num_reads, num_slots))
    for r in range(num_reads):
        for i in range(num_slots):
            for j in range(num_slots):
                forward[r, i] += link[i, j] * previous_read_weights[r, j]
                backward[r, i] += link[j, i] * previous_read_weights[r, j]
    return forward, backward


def read_weights(read_modes, backward, read_content_weights, forward):
    """`read_modes` `(R, 3)` (backward, content, forward), the others `(R, N)` -> `(R, N)`."""
    num_reads, num_slots = backward.shape
    weights = np.zeros((num_reads, num_slots))
    for r in range(num_reads):
        for i in range(num_slots):
            weights[r, i] = (
                read_modes[r, 0] * backward[r, i]
                + read_modes[r, 1] * read_content_weights[r, i]
                + read_modes[r, 2] * forward[r, i]
            )
    return weights


def read_vectors(memory, read_weighting):
    """`memory` `(N, W)`, `read_weighting` `(R, N)` -> `(R, W)`."""
    num_slots, word_size = memory.shape
    vectors = np.zeros((len(read_weighting), word_size))
    for r in range(len(read_weighting)):
        for k in range(word_size):
            vectors[r, k] = sum(read_weighting[r, i] * memory[i, k] for i in range(num_slots))
    return vectors


def memory_step(state, interface):
    """One DNC memory step, in the repository's order (spec §1.13 steps 3-12).

    Args:
        state: dict with `memory` `(N, W)`, `usage` `(N,)`, `link` `(N, N)`, `precedence` `(N,)`,
            `read_weights` `(R, N)`, `write_weights` `(N,)`.
        interface: dict of the parsed, squashed interface of one example: `read_keys` `(R, W)`,
            `read_strengths` `(R,)`, `write_key` `(W,)`, `write_strength` scalar, `erase_vector`,
            `write_vector` `(W,)`, `free_gates` `(R,)`, `allocation_gate`, `write_gate`
            scalars, `read_modes` `(R, 3)`.

    Returns:
        `(new_state, read_vectors)` with the same keys and `(R, W)` read vectors.
    """
    psi = retention(interface["free_gates"], state["read_weights"])
    usage = update_usage(state["usage"], state["write_weights"], psi)
    allocation = allocation_weights(usage)
    write_content = content_weights(
        state["memory"], interface["write_key"][None], np.array([interface["write_strength"]])
    )[0]
    write = write_weights(
        allocation, write_content, interface["allocation_gate"], interface["write_gate"]
    )
    memory = erase_and_write(
        state["memory"], write, interface["erase_vector"], interface["write_vector"]
    )
    link = update_link(state["link"], state["precedence"], write)
    precedence = update_precedence(state["precedence"], write)
    read_content = content_weights(memory, interface["read_keys"], interface["read_strengths"])
    forward, backward = directional_weights(link, state["read_weights"])
    reads = read_weights(interface["read_modes"], backward, read_content, forward)
    new_state = {
        "memory": memory,
        "usage": usage,
        "link": link,
        "precedence": precedence,
        "read_weights": reads,
        "write_weights": write,
    }
    return new_state, read_vectors(memory, reads)
