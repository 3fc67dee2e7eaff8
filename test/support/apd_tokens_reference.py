"""APD's token choice by the plain Python reference (tools/localleap/apd_reference.py: mixture and
choose, rule_math's Gumbel noise of hash_rng.position_hash): reads a JSON list of cases on stdin
(the logits as paths of raw float32 files), prints each case's tokens as a JSON list of lists."""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools"))
from localleap import apd_reference, hash_rng, rule_math  # noqa: E402


def tokens_of(c):
    count, width = c["count"], c["width"]
    zd = np.fromfile(c["zd"], dtype=np.float32).reshape(count, width)
    z = zd if c.get("za") is None else apd_reference.mixture(
        zd, np.fromfile(c["za"], dtype=np.float32).reshape(count, width), c["mixtureWeight"])
    T = c["temperature"]
    noise = None
    inv_t = 0.0
    if T > 0:
        inv_t = float(np.float32(1) / np.float32(T))
        noise = rule_math.gumbel_noise(hash_rng.position_hash(c["seed"], c["rowStep"], np.arange(count)), width)
    return [int(t) for t in apd_reference.choose(z, noise, inv_t, c["maskId"])]


print(json.dumps([tokens_of(c) for c in json.load(sys.stdin)]))
