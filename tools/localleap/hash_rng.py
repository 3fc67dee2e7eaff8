"""The counter-based random numbers of docs/decoding.md ("Random numbers"), in numpy uint64.

Every value is a pure function of (seed, row step r, generation position g, token v), so CPU, GPU
and this reference draw the same numbers whatever the batch layout.
"""
import numpy as np

U64 = np.uint64
GOLDEN = U64(0x9E3779B97F4A7C15)
M1 = U64(0xBF58476D1CE4E5B9)
M2 = U64(0x94D049BB133111EB)
RANDOM_SALT = U64(0x52414E444F4D4B59)  # "RANDOMKY"
GUMBEL_SALT = U64(0x47554D42454C2121)  # "GUMBEL!!"


def mix(z) -> np.ndarray:
    """splitmix64 finaliser on uint64 arrays (wrapping arithmetic)."""
    z = np.asarray(z, dtype=U64)
    with np.errstate(over="ignore"):
        z = z + GOLDEN
        z = (z ^ (z >> U64(30))) * M1
        z = (z ^ (z >> U64(27))) * M2
        return z ^ (z >> U64(31))


def position_hash(seed: int, r: int, g) -> np.ndarray:
    """p = mix(mix(mix(s) + r) + g) for one row's seed s, its step r and generation positions g."""
    if not (isinstance(seed, (int, np.integer)) and 0 <= int(seed) < 2 ** 64):
        raise ValueError(f"seed must be an integer in [0, 2^64), got {seed!r}")
    g = np.asarray(g, dtype=U64)
    with np.errstate(over="ignore"):
        return mix(mix(mix(U64(int(seed))) + U64(int(r))) + g)


def random_key(p) -> np.ndarray:
    """Random-order key of strategy `random` (uint64, larger = earlier)."""
    return mix(np.asarray(p, dtype=U64) ^ RANDOM_SALT)


def gumbel_uniform(p, vocab: int) -> np.ndarray:
    """u_v = (float32(h >> 41) + 0.5) * 2^-23 with h = mix(mix(p ^ salt) + v): float32 [.., vocab]."""
    base = mix(np.asarray(p, dtype=U64) ^ GUMBEL_SALT)[..., None]
    with np.errstate(over="ignore"):
        h = mix(base + np.arange(vocab, dtype=U64))
    return ((h >> U64(41)).astype(np.float32) + np.float32(0.5)) * np.float32(2.0 ** -23)


def gumbel(p, vocab: int) -> np.ndarray:
    """Gumbel noise -log(-log(u)) in float64 (the engine uses float32 det_log; close, not bitwise)."""
    u = gumbel_uniform(p, vocab).astype(np.float64)
    return -np.log(-np.log(u))
