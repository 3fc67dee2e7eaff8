"""Learn2PD's learned filter (docs/decoding.md "Learned filter"): the archive's learned_filter.json,
its validation, and its logits computed in float32 exactly as native/kernels/learned_filter.h does.

The filter is an MLP over a block's confidence vector x (length L = the block length it was trained
for; x_k = the confidence of a masked position, 1.0 for a decoded one and past a shorter block):
h = relu(W1 x + b1), out = W2 h + b2. Every sum starts from the bias and adds the products in index
order with fmaf (rule_math.fmaf emulates the single rounding), so the reference, the CPU rule and
the CUDA kernel agree bit for bit.
"""
import json
import math
import zipfile
from typing import Dict, List, Optional

import numpy as np

from .rule_math import fmaf

FILE_NAME = "learned_filter.json"
FORMAT = 1
MAX_BLOCK_LENGTH = 1024  # the rule's block length limit (native/kernels/commit_kernel_limits.h)
MAX_HIDDEN = 256         # native/kernels/rule_types.h kMaxFilterHidden
MAX_BYTES = 1 << 20      # native/engine/archive.h kMaxLearnedFilterBytes
KEYS = ("format", "blockLength", "hidden", "w1", "b1", "w2", "b2", "acceptThreshold", "provenance")
PROVENANCE_KEYS = ("model", "date", "genLength", "problems")
PROBLEM_KEYS = ("source", "split", "count", "ids")

F32 = np.float32


class LearnedFilter:
    """A validated filter: w1 [H, L], b1 [H], w2 [L, H], b2 [L] float32."""

    def __init__(self, obj: Dict):
        self.block_length = obj["blockLength"]
        self.hidden = obj["hidden"]
        self.w1 = np.asarray(obj["w1"], dtype=F32).reshape(self.hidden, self.block_length)
        self.b1 = np.asarray(obj["b1"], dtype=F32)
        self.w2 = np.asarray(obj["w2"], dtype=F32).reshape(self.block_length, self.hidden)
        self.b2 = np.asarray(obj["b2"], dtype=F32)
        self.accept_threshold = float(obj["acceptThreshold"])
        self.provenance = obj["provenance"]

    def inputs(self, conf: np.ndarray, masked: np.ndarray) -> np.ndarray:
        """x [L]: conf where masked, 1.0 for decoded positions and past the block."""
        n = len(conf)
        x = np.ones(self.block_length, dtype=F32)
        x[:n] = np.where(np.asarray(masked, dtype=bool), np.asarray(conf, dtype=F32), F32(1.0))
        return x

    def logits(self, conf: np.ndarray, masked: np.ndarray) -> np.ndarray:
        """The filter's logits [len(conf)] (float32, learned_filter.h's fmaf order)."""
        x = self.inputs(conf, masked)
        h = self.b1.copy()
        for k in range(self.block_length):
            h = fmaf(self.w1[:, k], x[k], h)
        h = np.where(h > 0, h, F32(0.0)).astype(F32)
        n = len(conf)
        o = self.b2[:n].copy()
        for j in range(self.hidden):
            o = fmaf(self.w2[:n, j], h[j], o)
        return o.astype(F32)


def logit_threshold(t: float) -> np.float32:
    """float32 of log(t / (1 - t)) computed in double; +inf for t >= 1, -inf for t <= 0."""
    if t >= 1.0:
        return F32(np.inf)
    if t <= 0.0:
        return F32(-np.inf)
    return F32(math.log(t / (1.0 - t)))


def _is_float32(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and float(F32(v)) == float(v)


def _matrix(obj: Dict, key: str, rows: int, cols: int) -> None:
    m = obj[key]
    if not isinstance(m, list) or len(m) != rows:
        raise ValueError(f"{key} must be a list of {rows} rows")
    for r, row in enumerate(m):
        if not isinstance(row, list) or len(row) != cols:
            raise ValueError(f"{key}[{r}] must be a list of {cols} numbers")
        if not all(_is_float32(v) for v in row):
            raise ValueError(f"{key}[{r}] must hold finite float32 values")


def _vector(obj: Dict, key: str, n: int) -> None:
    v = obj[key]
    if not isinstance(v, list) or len(v) != n:
        raise ValueError(f"{key} must be a list of {n} numbers")
    if not all(_is_float32(x) for x in v):
        raise ValueError(f"{key} must hold finite float32 values")


def validate(obj) -> None:
    """Raises ValueError saying what is wrong (the checks of lib/learnedFilter.ts)."""
    if not isinstance(obj, dict):
        raise ValueError("learned_filter.json must be a JSON object")
    missing = [k for k in KEYS if k not in obj]
    if missing:
        raise ValueError(f"learned_filter.json lacks {', '.join(missing)}")
    extra = sorted(set(obj) - set(KEYS))
    if extra:
        raise ValueError(f"learned_filter.json has unknown keys {', '.join(extra)}")
    if obj["format"] != FORMAT or isinstance(obj["format"], bool):
        raise ValueError(f"learned_filter.json format must be {FORMAT}, got {obj['format']!r}")
    for key, hi in (("blockLength", MAX_BLOCK_LENGTH), ("hidden", MAX_HIDDEN)):
        v = obj[key]
        if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= hi:
            raise ValueError(f"{key} must be an integer in [1, {hi}], got {v!r}")
    L, H = obj["blockLength"], obj["hidden"]
    _matrix(obj, "w1", H, L)
    _vector(obj, "b1", H)
    _matrix(obj, "w2", L, H)
    _vector(obj, "b2", L)
    t = obj["acceptThreshold"]
    if not isinstance(t, (int, float)) or isinstance(t, bool) or not 0.0 <= t <= 1.0:
        raise ValueError(f"acceptThreshold must be a number in [0, 1], got {t!r}")
    p = obj["provenance"]
    if not isinstance(p, dict) or any(k not in p for k in PROVENANCE_KEYS):
        raise ValueError(f"provenance must be an object with {', '.join(PROVENANCE_KEYS)}")
    if not isinstance(p["problems"], dict) or any(k not in p["problems"] for k in PROBLEM_KEYS):
        raise ValueError(f"provenance.problems must be an object with {', '.join(PROBLEM_KEYS)}")


def parse(text: str, where: str = FILE_NAME) -> LearnedFilter:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{where}: not JSON ({e})") from None
    try:
        validate(obj)
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from None
    return LearnedFilter(obj)


def to_json(w1, b1, w2, b2, accept_threshold: float, provenance: Dict) -> str:
    """The file's text: float32 weights as the shortest decimal of their double, which round-trips."""
    w1 = np.asarray(w1, dtype=F32)
    w2 = np.asarray(w2, dtype=F32)
    obj = {
        "format": FORMAT,
        "blockLength": int(w1.shape[1]),
        "hidden": int(w1.shape[0]),
        "w1": [[float(v) for v in row] for row in w1],
        "b1": [float(v) for v in np.asarray(b1, dtype=F32)],
        "w2": [[float(v) for v in row] for row in w2],
        "b2": [float(v) for v in np.asarray(b2, dtype=F32)],
        "acceptThreshold": float(accept_threshold),
        "provenance": provenance,
    }
    validate(obj)
    return json.dumps(obj, indent=1)


def read_from_archive(path: str) -> Optional[str]:
    """The archive's learned_filter.json text, None when it has none (the size checked first)."""
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            parts = info.filename.split("/")
            if len(parts) == 3 and parts[1] == "extra" and parts[2] == FILE_NAME:
                if info.file_size > MAX_BYTES:
                    raise ValueError(f"{path}: its {FILE_NAME} is {info.file_size} bytes, over the limit of "
                                     f"{MAX_BYTES >> 20} MiB")
                return z.read(info).decode("utf-8")
    return None


def random_filter(block_length: int, hidden: int, seed: int, provenance: Dict) -> str:
    """A filter with random weights (test fixtures): inputs near 1 push the logits up, so it accepts
    some confident positions and not others."""
    rng = np.random.default_rng(seed)
    w1 = rng.normal(0.0, 1.0, (hidden, block_length)) / math.sqrt(block_length)
    b1 = rng.normal(0.0, 0.5, hidden)
    w2 = rng.normal(0.0, 1.0, (block_length, hidden)) / math.sqrt(hidden)
    b2 = rng.normal(0.0, 0.5, block_length)
    # A diagonal path: position i's own confidence raises its logit.
    for i in range(min(block_length, hidden)):
        w1[i, i] += 4.0
        w2[i, i] += 2.0
        b1[i] -= 2.0
    return to_json(w1, b1, w2, b2, 0.9, provenance)


