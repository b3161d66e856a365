"""What Open MPI 4.1's coll/tuned component does for one collective, as a cost model.

Open MPI 4.1 (Debian 12 ships 4.1.4) picks an algorithm for MPI_Allreduce,
MPI_Reduce_scatter and MPI_Allgatherv by communicator size and message size in
ompi/mca/coll/tuned/coll_tuned_decision_fixed.c (ompi_coll_tuned_*_intra_dec_fixed;
unchanged from v4.1.4 to the v4.1.x branch). The rules below restate its thresholds for
commutative operations such as MPI_SUM; the algorithms themselves are in
ompi/mca/coll/base/coll_base_{allreduce,reduce_scatter,allgatherv}.c.

Each algorithm's cost is a Cost: the messages on the critical path (each costs the
latency alpha once), the bytes on the critical path (each costs 1/beta), and the bytes
the busiest rank sends (what a host's link counter shows). The network is a non-blocking
switch with full-duplex links: a rank can send and receive one message at a time, at
the link rate each way. A reduction's own arithmetic is left out (670k float additions
take about 0.1 ms, against 2 ms or more on the wire).
"""
from dataclasses import dataclass
import math


@dataclass(frozen=True)
class Cost:
    messages: float    # message steps on the critical path (x alpha)
    path_bytes: float  # bytes on the critical path (x 1/beta)
    tx_bytes: float    # bytes sent by the busiest rank

    def __add__(self, other):
        return Cost(self.messages + other.messages, self.path_bytes + other.path_bytes,
                    self.tx_bytes + other.tx_bytes)

    def seconds(self, alpha, beta, wire_overhead=1.0):
        """alpha: seconds per message; beta: bytes per second; wire_overhead: wire bytes per payload byte."""
        return self.messages * alpha + self.path_bytes * wire_overhead / beta


NO_COST = Cost(0, 0, 0)


def _pof2(w):
    """The largest power of two <= w (Open MPI's p' = 2^floor(log2 w))."""
    return 1 << (w.bit_length() - 1)


def _log2_ceil(w):
    return (w - 1).bit_length()


# ---- algorithms; w ranks, nbytes = the whole vector (all ranks' blocks) ----

def ring_reduce_scatter(w, nbytes):
    """W-1 steps, each passes one block (ceil(n/W)) to the right neighbour."""
    block = math.ceil(nbytes / w)
    return Cost(w - 1, (w - 1) * block, (w - 1) * block)


def ring_allgather(w, nbytes):
    return ring_reduce_scatter(w, nbytes)


def ring_allreduce(w, nbytes):
    """Open MPI's ring (4): a ring reduce-scatter, then a ring allgather."""
    return ring_reduce_scatter(w, nbytes) + ring_allgather(w, nbytes)


def rabenseifner_allreduce(w, nbytes):
    """(6) Non-power-of-two W: the first 2r ranks pair up, exchange halves and the odd
    one hands its half back (2 messages, n/2 + n/2 on the path); p' ranks then do a
    recursive-halving reduce-scatter and a recursive-doubling allgather; finally the
    even ranks send the whole result to their odd partner (1 message, n)."""
    p = _pof2(w)
    steps = p.bit_length() - 1
    inner = Cost(2 * steps, 2 * (p - 1) / p * nbytes, 2 * (p - 1) / p * nbytes)
    if w == p:
        return inner
    return inner + Cost(3, 2 * nbytes, 1.5 * nbytes)  # the even rank sends n/2, then n


def recursive_doubling_allreduce(w, nbytes):
    """(3) Every step exchanges the whole vector; a non-power-of-two W adds a step
    before (fold r ranks in) and after (send them the result)."""
    p = _pof2(w)
    steps = p.bit_length() - 1 + (2 if w != p else 0)
    return Cost(steps, steps * nbytes, (p.bit_length() - (0 if w != p else 1)) * nbytes)


def linear_allreduce(w, nbytes):
    """(1) Reduce to rank 0, then broadcast from it: rank 0's link carries W-1 vectors each way."""
    return Cost(2, 2 * (w - 1) * nbytes, (w - 1) * nbytes)


def tree_allreduce(w, nbytes):
    """(2) Reduce then broadcast, here as binomial trees (Open MPI picks those two by
    their own rules; only chosen for messages below 128 kB, never for a gradient)."""
    depth = _log2_ceil(w)
    return Cost(2 * depth, 2 * depth * nbytes, depth * nbytes)


def halving_reduce_scatter(w, nbytes):
    """Recursive halving (2) and butterfly (4): log2 p' steps halve the vector; a
    non-power-of-two W first folds r ranks in (one whole vector) and at the end sends
    them their block."""
    p = _pof2(w)
    steps = p.bit_length() - 1
    inner = Cost(steps, (p - 1) / p * nbytes, (p - 1) / p * nbytes)
    if w == p:
        return inner
    # a folded-in rank sends the whole vector; the others, their part plus one block
    return Cost(inner.messages + 2, inner.path_bytes + nbytes + nbytes / w, max(nbytes, inner.tx_bytes + nbytes / w))


def linear_reduce_scatter(w, nbytes):
    """(1) A reduce to rank 0 (binomial here), then a linear scatterv of the blocks."""
    depth = _log2_ceil(w)
    return Cost(depth + 1, depth * nbytes + (w - 1) / w * nbytes, (w - 1) / w * nbytes)


def bruck_allgather(w, nbytes):
    """(2) ceil(log2 W) steps, doubling the data each time."""
    return Cost(_log2_ceil(w), (w - 1) / w * nbytes, (w - 1) / w * nbytes)


def neighbor_allgather(w, nbytes):
    """(4) W/2 steps between alternating neighbours; an odd W falls back to the ring."""
    if w % 2:
        return ring_allgather(w, nbytes)
    return Cost(w // 2, (w - 1) / w * nbytes, (w - 1) / w * nbytes)


def two_proc_allgather(w, nbytes):
    """(5) Two ranks swap their halves in one exchange."""
    return Cost(1, nbytes / 2, nbytes / 2)


def linear_allgather(w, nbytes):
    """(1) Gather the blocks to rank 0, then broadcast (binomial here); tiny messages only."""
    depth = _log2_ceil(w)
    return Cost(1 + depth, (w - 1) / w * nbytes + depth * nbytes, depth * nbytes)


# ---- Open MPI 4.1's fixed decision rules (commutative operations) ----
# Each rule: (communicator size below, [(message bytes below, algorithm), ...],
# algorithm for larger messages); the first rule whose size bound exceeds W applies.

ALLREDUCE_RULES = [
    (4, [(8, 4), (4096, 3), (8192, 4), (16384, 3), (65536, 4), (262144, 5)], 6),
    (8, [(16, 4), (8192, 3)], 6),
    (16, [(8192, 3)], 6),
    (32, [(64, 5), (4096, 3)], 6),
    (64, [(128, 5)], 6),
    (128, [(262144, 3)], 6),
    (256, [(131072, 2), (262144, 3)], 6),
    (512, [(4096, 2)], 6),
    (2048, [(2048, 2), (16384, 3)], 6),
    (4096, [(2048, 2), (4096, 5), (16384, 3)], 6),
    (None, [(2048, 2), (16384, 5), (32768, 3)], 6),
]
ALLREDUCE_ALGORITHMS = {  # segmented ring (5) with the fixed rules' segment size 0 is the plain ring
    1: ("linear", linear_allreduce), 2: ("reduce+bcast", tree_allreduce),
    3: ("recursive doubling", recursive_doubling_allreduce), 4: ("ring", ring_allreduce),
    5: ("ring", ring_allreduce), 6: ("Rabenseifner", rabenseifner_allreduce),
}

# message size = the whole vector (the sum of the receive counts)
REDUCE_SCATTER_RULES = [
    (4, [(65536, 3), (131072, 4)], 3),
    (8, [(8, 1), (262144, 2)], 3),
    (32, [(262144, 2)], 3),
    (64, [(64, 1), (2048, 2), (524288, 4)], 3),
    (128, [(256, 1), (512, 2), (2048, 4), (4096, 2)], 4),
    (256, [(256, 1), (512, 2)], 4),
    (512, [(256, 1), (1024, 2)], 4),
    (1024, [(512, 1), (2048, 2), (8192, 4), (16384, 2)], 4),
    (2048, [(512, 1), (4096, 2), (16384, 4), (32768, 2)], 4),
    (4096, [(512, 1), (4096, 2)], 4),
    (None, [(1024, 1), (8192, 2)], 4),
]
REDUCE_SCATTER_ALGORITHMS = {
    1: ("reduce+scatterv", linear_reduce_scatter), 2: ("recursive halving", halving_reduce_scatter),
    3: ("ring", ring_reduce_scatter), 4: ("butterfly", halving_reduce_scatter),
}

# message size = one rank's block (the vector / W)
ALLGATHERV_RULES = [
    (3, [(2048, 3), (4096, 5), (8192, 3)], 5),
    (8, [(256, 1), (4096, 4), (8192, 3), (16384, 4), (262144, 2)], 4),
    (16, [(1024, 1)], 2),
    (32, [(128, 1), (262144, 2)], 3),
    (64, [(256, 1), (8192, 2)], 3),
    (128, [(256, 1), (4096, 2)], 3),
    (256, [(1024, 2), (65536, 4)], 3),
    (512, [(1024, 2)], 3),
    (1024, [(512, 2), (1024, 1), (4096, 2), (1048576, 4)], 3),
    (None, [(4096, 2)], 4),
]
ALLGATHERV_ALGORITHMS = {
    1: ("gatherv+bcast", linear_allgather), 2: ("Bruck", bruck_allgather), 3: ("ring", ring_allgather),
    4: ("neighbor exchange", neighbor_allgather), 5: ("two-proc", two_proc_allgather),
}


def decide(rules, w, message_bytes):
    """The algorithm number Open MPI's fixed rules give for W ranks and a message size."""
    for size_below, by_bytes, otherwise in rules:
        if size_below is None or w < size_below:
            for bytes_below, algorithm in by_bytes:
                if message_bytes < bytes_below:
                    return algorithm
            return otherwise
    raise AssertionError("the last rule has no size bound")


def openmpi_allreduce(w, nbytes):
    """(algorithm name, Cost) of MPI_Allreduce of nbytes on W ranks."""
    if w == 1:
        return "-", NO_COST
    name, cost = ALLREDUCE_ALGORITHMS[decide(ALLREDUCE_RULES, w, nbytes)]
    return name, cost(w, nbytes)


def openmpi_reduce_scatter_allgatherv(w, nbytes):
    """(algorithm names, Cost) of MPI_Reduce_scatter then MPI_Allgatherv of nbytes in W blocks."""
    if w == 1:
        return "-", NO_COST
    rs_name, rs = REDUCE_SCATTER_ALGORITHMS[decide(REDUCE_SCATTER_RULES, w, nbytes)]
    ag_name, ag = ALLGATHERV_ALGORITHMS[decide(ALLGATHERV_RULES, w, nbytes // w)]
    if ag is neighbor_allgather and w % 2:
        ag_name = "ring"  # neighbor exchange falls back to the ring for odd W
    return f"{rs_name} + {ag_name}", rs(w, nbytes) + ag(w, nbytes)


def ring_reduce_scatter_allgather(w, nbytes):
    """(name, Cost) of a ring reduce-scatter then a ring allgather: 2(W-1) messages, 2(W-1)/W n."""
    if w == 1:
        return "-", NO_COST
    return "ring", ring_allreduce(w, nbytes)
