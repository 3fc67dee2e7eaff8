"""The per-position choice and the commit rule of docs/decoding.md, on one row's current block.

Plain numpy, written to mirror the document line by line rather than to be fast.
"""
from typing import List, Tuple

import numpy as np

from . import hash_rng

STRATEGIES = ("low-confidence", "random", "threshold", "localleap", "learned")


def argmax_except(score: np.ndarray, excluded: int) -> np.ndarray:
    """Row-wise argmax over every column but `excluded` (lowest index among equal maxima)."""
    if not 0 <= excluded < score.shape[1]:
        return np.argmax(score, axis=1)
    t = np.argmax(np.delete(score, excluded, axis=1), axis=1)
    return t + (t >= excluded)


def choose(z: np.ndarray, temperature: float, seed: int, r: int, gen_pos: np.ndarray,
           mask_id: int) -> Tuple[np.ndarray, np.ndarray]:
    """Chosen tokens t [K] (int64) and confidences c [K] (float32) for logits z [K, V].

    The mask id is never chosen (it still counts in the softmax). Confidence = softmax of the
    plain logits in float64, rounded to float32 (the engine's exact integer sums agree to ~1e-7
    relative). NaN logits count as -inf."""
    z = np.where(np.isnan(z), -np.inf, z.astype(np.float64))
    zmax = z.max(axis=1, keepdims=True)
    if temperature > 0:
        p = hash_rng.position_hash(seed, r, gen_pos)
        inv_t = float(np.float32(1.0 / temperature))  # the engine multiplies by a float32 1/T
        score = z * inv_t + hash_rng.gumbel(p, z.shape[1])
        t = argmax_except(score, mask_id)
    else:
        t = argmax_except(z, mask_id)
    with np.errstate(invalid="ignore", over="ignore"):
        e = np.exp(z - zmax)
        prob = e[np.arange(len(t)), t] / e.sum(axis=1)
    c = np.where(np.isfinite(zmax[:, 0]), prob, 0.0).astype(np.float32)
    return t.astype(np.int64), c


def order_keys(strategy: str, conf: np.ndarray, seed: int, r: int, gen_pos: np.ndarray) -> np.ndarray:
    """key_i as uint64: float32 bits of c_i (monotone for c >= 0), or the random-order key."""
    if strategy == "random":
        return hash_rng.random_key(hash_rng.position_hash(seed, r, gen_pos))
    return np.asarray(conf, dtype=np.float32).view(np.uint32).astype(np.uint64)


def ranks(masked: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """rank_i = #{masked j != i : key_j > key_i, or key_j == key_i and j < i}."""
    n = len(keys)
    i, j = np.arange(n)[:, None], np.arange(n)[None, :]
    ki, kj = keys[:, None], keys[None, :]
    beats = np.asarray(masked, dtype=bool)[None, :] & (j != i) & ((kj > ki) | ((kj == ki) & (j < i)))
    return beats.sum(axis=1)


def commit_mask(strategy: str, masked: np.ndarray, conf: np.ndarray, keys: np.ndarray, k: int,
                threshold: float, anchor_threshold: float, relaxed_threshold: float, radius: int,
                learned=None, accept_threshold: float = 0.96) -> np.ndarray:
    """commit_i = masked_i and (rank_i < k or c_i >= thr_i); thresholds compared in float32.

    "learned" (docs/decoding.md "Learned filter"): `learned` is the archive's LearnedFilter;
    commit_i = masked_i and (rank_i < 1 or logit_i > float32(log(t / (1 - t))))."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}")
    masked = np.asarray(masked, dtype=bool)
    conf = np.asarray(conf, dtype=np.float32)
    n = len(conf)
    if strategy in ("threshold", "localleap", "learned"):
        k = 1
    if strategy == "learned":
        from .learned_filter import logit_threshold
        if learned is None:
            raise ValueError('strategy "learned" needs the archive\'s learned filter')
        accept = learned.logits(conf, masked) > logit_threshold(accept_threshold)
        return masked & ((ranks(masked, keys) < k) | accept)
    thr = np.full(n, np.inf, dtype=np.float32)
    if strategy == "threshold":
        thr[:] = np.float32(threshold)
    elif strategy == "localleap":
        kappa, tau = np.float32(anchor_threshold), np.float32(relaxed_threshold)
        anchors = [a for a in range(n) if masked[a] and conf[a] >= kappa]
        for i in range(n):
            near = any(abs(i - a) <= radius for a in anchors)
            thr[i] = tau if near else kappa
    rank = ranks(masked, keys)
    return masked & ((rank < k) | (conf >= thr))


def schedule(n: int, s: int) -> List[int]:
    """k_j for the s steps of a block that starts with n masked positions."""
    return [n // s + (1 if j < n % s else 0) for j in range(s)]


def check_steps(gen_length: int, block_length: int, steps: int) -> int:
    """Validates the steps option of low-confidence / random; returns steps per block."""
    num_blocks = gen_length // block_length
    if steps % num_blocks or not num_blocks <= steps <= gen_length:
        raise ValueError(f"steps must be a multiple of genLength / blockLength = {num_blocks} "
                         f"between {num_blocks} and {gen_length}, got {steps}")
    return steps // num_blocks
