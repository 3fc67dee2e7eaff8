"""The float32 arithmetic of native/kernels/rule_math.h in numpy, bit for bit.

commit_rule.py computes the Gumbel noise in float64 (close to the engine's, not bitwise: enough
for the block rule's reference, which a sampled decode matches only approximately). APD's
reference (apd_reference.py) uses these instead, so that the engine can reproduce a sampled APD
decode bit for bit: fmaf with a single rounding, detLog (frexp, an atanh series, explicit fmaf,
as the header writes it), the Gumbel score fmaf(z, 1/T, -detLog(-detLog(u))) with u from
hash_rng.gumbel_uniform. tools/test_apd.py compiles the header and compares.

numpy float32 arithmetic (+, -, *, /) rounds once to float32 as IEEE requires, like the engine's
host and device code built with contraction off. numpy has no fused multiply-add, and float64
emulation rounds twice; fmaf() below removes the second rounding's error (see its docstring).
"""
import numpy as np

from . import hash_rng

F32 = np.float32
F64 = np.float64

# Constants of rule_math.h, as float32 (the C++ literals are float literals).
LN2_HI = F32(0.693145751953125)
LN2_LO = F32(1.428606765330187e-06)
SQRT_HALF = F32(0.70710678)
LOG_C = (F32(0.222222222), F32(0.285714286), F32(0.4), F32(0.666666667))


def fmaf(a, b, c) -> np.ndarray:
    """a * b + c rounded once to float32 (a, b, c float32 arrays or scalars; broadcasting).

    The product of two float32 values is exact in float64. The float64 sum s = round64(p + c)
    then carries an error err = (p + c) - s that TwoSum gives exactly. Rounding s to float32 is
    the correct float32 result unless s lies exactly halfway between two float32 neighbours and
    err is not 0: the true value is then on err's side of the midpoint, and that neighbour is
    the answer (no other float32 midpoint can lie between p + c and s, since s is the double
    nearest to p + c and midpoints of float32 values are doubles)."""
    a = np.asarray(a, dtype=F32)
    b = np.asarray(b, dtype=F32)
    c = np.asarray(c, dtype=F32)
    with np.errstate(over="ignore", invalid="ignore"):
        p = a.astype(F64) * b.astype(F64)
        cd = c.astype(F64)
        s = p + cd
        bb = s - p
        err = (p - (s - bb)) + (cd - bb)
        r = s.astype(F32)
        rd = r.astype(F64)
        other = np.where(rd < s, np.nextafter(r, F32(np.inf)), np.nextafter(r, F32(-np.inf)))
        mid = (rd + other.astype(F64)) * 0.5
        fix = np.isfinite(s) & (rd != s) & (mid == s) & (err != 0)
        if np.any(fix):
            up = np.maximum(r, other)
            down = np.minimum(r, other)
            r = np.where(fix, np.where(err > 0, up, down), r)
    return r


def det_log(x) -> np.ndarray:
    """rule_math.h detLog: natural log for finite x > 0 (normal), float32 bit for bit."""
    x = np.asarray(x, dtype=F32)
    m, e = np.frexp(x)  # x = m * 2^e, m in [0.5, 1), both exact
    m = m.astype(F32)
    e = e.astype(np.int32)
    low = m < SQRT_HALF
    m = np.where(low, m * F32(2.0), m).astype(F32)
    e = np.where(low, e - 1, e)
    f = (m - F32(1.0)).astype(F32)
    s = (f / (m + F32(1.0))).astype(F32)
    s2 = (s * s).astype(F32)
    t = fmaf(s2, LOG_C[0], LOG_C[1])
    t = fmaf(t, s2, LOG_C[2])
    t = fmaf(t, s2, LOG_C[3])
    t = (t * s2).astype(F32)
    logm = fmaf(s, t, (s + s).astype(F32))
    fe = e.astype(F32)
    return fmaf(fe, LN2_HI, fmaf(fe, LN2_LO, logm))


def gumbel_noise(p, vocab: int) -> np.ndarray:
    """g_v = -detLog(-detLog(u_v)) (float32 [.., vocab]) for the position streams p."""
    u = hash_rng.gumbel_uniform(p, vocab)
    return (-det_log((-det_log(u)).astype(F32))).astype(F32)


def gumbel_scores(z, inv_temperature, g) -> np.ndarray:
    """rule_math.h gumbelScore: fmaf(z, 1/T, g) in float32 (z sanitized by the caller)."""
    return fmaf(np.asarray(z, dtype=F32), F32(inv_temperature), g)


def sanitize(z) -> np.ndarray:
    """NaN logits count as -inf (rule_math.h sanitizeLogit), as float32."""
    z = np.asarray(z, dtype=F32)
    return np.where(np.isnan(z), F32(-np.inf), z).astype(F32)
