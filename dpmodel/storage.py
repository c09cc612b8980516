"""Storage reads in blocks: the read rate a storage NIC sustains, from block size and reads in flight.

Pure, vectorized kernels (scalars or numpy arrays in, arrays of the broadcast shape out).

The paper's traffic manager reads the hit KV from the store in **Full Blocks** (``[layer, tokens,
bytes]``: ``block_tokens`` tokens x every layer, a few MB) and streams it to the prefill GPU in
**Layer Blocks** (one layer of a Full Block, tens of KB). Each read to the store pays a fixed cost
(RPC, chunk lookup, SSD latency: about 1 ms in 3FS) that does not occupy the NIC, then moves its
bytes over the NIC. With ``n`` reads kept in flight (bounded by the I/O ring's depth and by the
blocks the engine has queued), a NIC is a single server visited by ``n`` circulating reads that
each "think" for the fixed cost: the finite-source (machine-repairman) queue. Its busy share is

    U = 1 - B(n, a),   a = t_read / t_xfer,   t_xfer = S / L

with ``B`` the Erlang loss formula, ``S`` the block size and ``L`` the NIC's payload rate. The
effective rate is ``L * U``: monotone in ``S`` and in ``n``, never above ``L``, and about
``n S / (t_read + S / L)`` while few reads are in flight. With a processor-sharing NIC this holds
for any distribution of the fixed cost and of block sizes (insensitivity of the finite-source
queue), so only the means enter.

Notes
-----
n : reads in flight per NIC; a : offered load of the "thinking" reads in units of the transfer time;
S : block bytes; L : payload rate [B/s]; U : NIC busy share.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

# beyond n > a + _TAIL_SIGMAS * sqrt(a) + _TAIL_PAD the loss probability is below ~1e-30 and
# the recursion stops (it only falls further with n); keeps the loop short for deep queues
_TAIL_SIGMAS = 12.0
_TAIL_PAD = 40.0


def erlang_b(*, servers_count: ArrayLike, offered_load: ArrayLike) -> np.ndarray:
    """Erlang loss probability B(n, a), by the stable recursion B(k) = a B(k-1) / (k + a B(k-1)).

    Parameters
    ----------
    servers_count : integer n >= 0 (non-integers are floored)
    offered_load : a >= 0
    """
    n = np.floor(np.asarray(servers_count, float))
    a = np.asarray(offered_load, float)
    n, a = np.broadcast_arrays(n, a)
    if np.any(n < 0) or np.any(a < 0) or np.any(np.isnan(a)):
        raise ValueError("erlang_b: servers_count and offered_load must be >= 0")
    out = np.ones(n.shape)
    if n.size == 0:
        return out
    if n.size == 1:  # the common scalar case, in plain floats (the array loop costs ~25 us a step)
        return np.full(n.shape, _erlang_b_scalar(int(n.flat[0]), float(a.flat[0])))
    a_max = float(np.max(np.where(np.isfinite(a), a, 0.0)))
    k_stop = int(min(float(np.max(n)), math.ceil(a_max + _TAIL_SIGMAS * math.sqrt(a_max) + _TAIL_PAD)))
    b = np.ones(n.shape)
    ab = np.empty(n.shape)
    a_fin = np.where(np.isfinite(a), a, 0.0)
    n_min = float(np.min(n))
    for k in range(1, k_stop + 1):
        np.multiply(a_fin, b, out=ab)
        if k <= n_min:  # every element still iterating
            np.divide(ab, ab + k, out=b)
        else:
            np.divide(ab, ab + k, out=b, where=n >= k)
    return np.where(np.isinf(a), 1.0, b)


def _erlang_b_scalar(n: int, a: float) -> float:
    if math.isinf(a):
        return 1.0
    k_stop = min(n, math.ceil(a + _TAIL_SIGMAS * math.sqrt(a) + _TAIL_PAD))
    b = 1.0
    for k in range(1, k_stop + 1):
        b = a * b / (k + a * b)
    return b


def nic_busy_frac(*, reads_in_flight: ArrayLike, read_overhead_s: ArrayLike, transfer_s: ArrayLike) -> np.ndarray:
    """Busy share of a NIC kept fed by ``reads_in_flight`` reads of fixed cost ``read_overhead_s``.

    The finite-source queue: ``1 - B(n, t_read / t_xfer)``. ``read_overhead_s = 0`` gives 1.
    """
    n = np.asarray(reads_in_flight, float)
    t0 = np.asarray(read_overhead_s, float)
    tx = np.asarray(transfer_s, float)
    if np.any(n < 1):
        raise ValueError("nic_busy_frac: reads_in_flight must be >= 1")
    if np.any(t0 < 0) or np.any(tx <= 0):
        raise ValueError("nic_busy_frac: read_overhead_s must be >= 0 and transfer_s > 0")
    return 1.0 - erlang_b(servers_count=n, offered_load=t0 / tx)


def effective_read_Bps(
    *,
    block_bytes: ArrayLike,
    reads_in_flight: ArrayLike,
    line_Bps: ArrayLike,
    payload_frac: ArrayLike = 1.0,
    read_overhead_s: ArrayLike,
) -> np.ndarray:
    """Read rate one storage NIC sustains [B/s].

    Parameters
    ----------
    block_bytes : bytes per read (a Full Block) [bytes]
    reads_in_flight : reads kept outstanding on the NIC (>= 1)
    line_Bps : NIC line rate [B/s]
    payload_frac : share of the line rate that carries payload when the NIC is busy
    read_overhead_s : fixed cost per read that does not occupy the NIC [s]

    Returns
    -------
    ``L * (1 - B(n, t_read L / S))`` with ``L = line_Bps * payload_frac``.
    """
    S = np.asarray(block_bytes, float)
    if np.any(S <= 0):
        raise ValueError("effective_read_Bps: block_bytes must be > 0")
    L = np.asarray(line_Bps, float) * np.asarray(payload_frac, float)
    if np.any(L <= 0):
        raise ValueError("effective_read_Bps: line_Bps * payload_frac must be > 0")
    return L * nic_busy_frac(reads_in_flight=reads_in_flight, read_overhead_s=read_overhead_s, transfer_s=S / L)


def full_block_bytes(*, kv_bytes_per_token: ArrayLike, block_tokens: ArrayLike) -> np.ndarray:
    """Bytes of one Full Block: ``block_tokens`` tokens x every layer's KV [bytes]."""
    return np.asarray(kv_bytes_per_token, float) * np.asarray(block_tokens, float)


def reads_in_flight(*, depth_max: ArrayLike, hit_tokens: ArrayLike, block_tokens: ArrayLike, engines_count: ArrayLike = 1) -> np.ndarray:
    """Reads a busy storage NIC keeps in flight: the I/O ring's depth, bounded by the blocks the
    node's engines have queued (at least one turn's hit each when the NIC is the bottleneck).

    ``min(depth_max, engines * ceil(hit / block_tokens))``, and at least 1.
    """
    blocks = np.ceil(np.asarray(hit_tokens, float) / np.asarray(block_tokens, float)) * np.asarray(engines_count, float)
    return np.maximum(1.0, np.minimum(np.asarray(depth_max, float), blocks))


def layer_block_load_Bps(*, layer_block_bytes: ArrayLike, per_copy_s: ArrayLike, link_Bps: ArrayLike) -> np.ndarray:
    """Rate of layerwise DRAM -> HBM loads in Layer Blocks on one GPU's link [B/s].

    One copy (an RDMA work request, or a cudaMemcpyAsync) per Layer Block; submission is
    pipelined with the transfers, so the slower of the two sets the pace:
    ``S / max(t_submit, S / link)``.
    """
    S = np.asarray(layer_block_bytes, float)
    B = np.asarray(link_Bps, float)
    t = np.asarray(per_copy_s, float)
    if np.any(S <= 0) or np.any(B <= 0) or np.any(t < 0):
        raise ValueError("layer_block_load_Bps: layer_block_bytes and link_Bps must be > 0, per_copy_s >= 0")
    return S / np.maximum(t, S / B)
