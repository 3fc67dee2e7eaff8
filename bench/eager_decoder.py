#!/usr/bin/env python3
"""Eager-PyTorch reference decoder for the engine comparison (issue 7, item 3).

Loads the SAME TorchScript model.pt the engine loads (torch.jit.load) and decodes each prompt
alone (batch 1, greedy) with the rules of docs/decoding.md written plainly with torch ops on the
model's device: one forward per step through `logits_at` on the current block's positions, logits
upcast to float32 (NaN as -inf), float32 softmax confidences, the chosen token the lowest index
of the highest logit with the mask id excluded, then
  low-confidence: the k_j most confident masked positions (stable sort: ties to the lower
                  position), k_j = n div s (+1 for the first n mod s steps of the block);
  threshold:      the most confident masked position (argmax: ties to the lower position) and
                  every masked position with c >= theta;
  localleap:      anchors = masked positions with c >= kappa; a masked position within W of an
                  anchor (max-pool over the anchor mask) needs c >= tau, any other c >= kappa;
                  the most confident masked position always commits;
blocks left to right, threshold/localleap blocks run until no mask is left, stopAtEos fills the
rest with eosId after a finished block that holds an end token. Thresholds are float32 and every
comparison is >=. Each generation is timed with torch.cuda.synchronize() before and after.

The engine computes the confidence with an exact integer reduction (docs/decoding.md) that equals
the float32 softmax to about 1e-7 relative; --exact-confidence uses that reduction instead
(tools/train/decoder.py), to tell such rounding apart from a real disagreement.

Input (--prompts): JSON {"genLength", "blockLength", "problems": [{"id", "ids"}], "configs":
[{"name", "strategy", "steps"?, "threshold"?, "anchorThreshold"?, "relaxedThreshold"?, "radius"?,
"stopAtEos"?}]}, as bench/eager_vs_engine.ts writes it. Output (--out, else stdout): JSON with,
per configuration and problem, the generated span, tokens before the first end token, steps,
steps per block and milliseconds.
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F


def load(path, device):
    extra = {"localleap.json": ""}
    module = torch.jit.load(path, map_location=device, _extra_files=extra)
    module.eval()
    return module, json.loads(extra["localleap.json"])


class Rule:
    """The commit rule of one configuration, plainly."""

    def __init__(self, cfg, gen_length, block_length, mask_id, device, exact=False):
        self.strategy = cfg["strategy"]
        if self.strategy not in ("low-confidence", "threshold", "localleap"):
            raise ValueError(f"strategy {self.strategy!r} is not supported here (greedy rules only)")
        self.num_blocks = gen_length // block_length
        self.steps_per_block = (cfg.get("steps") or gen_length) // self.num_blocks
        f32 = lambda v: torch.tensor(float(v), dtype=torch.float32, device=device)  # noqa: E731
        self.theta = f32(cfg.get("threshold", 0.9))
        self.kappa = f32(cfg.get("anchorThreshold", 0.9))
        self.tau = f32(cfg.get("relaxedThreshold", 0.75))
        self.radius = int(cfg.get("radius", 4))
        self.stop_at_eos = bool(cfg.get("stopAtEos", False))
        self.mask_id = mask_id
        self.exact = exact
        if exact:
            sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "train"))
            from decoder import confidence_and_token  # noqa: E402
            self.exact_fn = confidence_and_token

    def token_and_confidence(self, logits):
        """logits [Lb, V] -> (token [Lb] int64, confidence [Lb] float32)."""
        z = logits.float()
        z = torch.where(torch.isnan(z), torch.full_like(z, float("-inf")), z)
        if self.exact:
            return self.exact_fn(z, self.mask_id)
        probs = torch.softmax(z, dim=-1)
        choice = z.clone()
        choice[:, self.mask_id] = float("-inf")
        token = choice.argmax(dim=-1)  # the first (lowest) index of the maximum
        conf = probs.gather(-1, token[:, None])[:, 0]
        return token, conf

    def commit(self, conf, masked, k):
        """Which positions of the block commit: conf float32 [Lb], masked bool [Lb], k int."""
        key = torch.where(masked, conf, torch.full_like(conf, -1.0))  # confidences are >= 0
        if self.strategy == "low-confidence":
            order = torch.sort(key, descending=True, stable=True).indices  # ties: lower position first
            commit = torch.zeros_like(masked)
            commit[order[:k]] = True
            return commit & masked
        if self.strategy == "threshold":
            thr = self.theta
        else:
            anchors = masked & (conf >= self.kappa)
            w = self.radius
            near = F.max_pool1d(anchors.float()[None, None, :], 2 * w + 1, stride=1, padding=w)[0, 0] > 0
            thr = torch.where(near, self.tau, self.kappa)  # near is all false when there is no anchor
        commit = masked & (conf >= thr)
        best = key.argmax()  # the most confident masked position, ties to the lower position
        commit[best] = masked[best]
        return commit


@torch.inference_mode()
def decode(module, meta, prompt, rule, gen_length, block_length, device):
    mask_id, eos_id = meta["maskId"], meta["eosId"]
    end_ids = torch.tensor(meta["endIds"], dtype=torch.long, device=device)
    P = len(prompt)
    canvas = torch.full((1, P + gen_length), mask_id, dtype=torch.long, device=device)
    canvas[0, :P] = torch.tensor(prompt, dtype=torch.long, device=device)
    steps_per_block = [0] * rule.num_blocks
    for k in range(rule.num_blocks):
        lo = P + k * block_length
        positions = torch.arange(lo, lo + block_length, device=device)
        s = rule.steps_per_block
        n = block_length  # masked positions at the block's first step
        j = 0
        while True:
            block = canvas[0, lo:lo + block_length]
            masked = block == mask_id
            if rule.strategy == "low-confidence":
                if j == s:  # the schedule fills the block in exactly s steps
                    break
                kj = n // s + (1 if j < n % s else 0)
            else:
                if not bool(masked.any()):
                    break
                kj = 1
            logits = module.logits_at(canvas, positions)[0]
            token, conf = rule.token_and_confidence(logits)
            commit = rule.commit(conf, masked, kj)
            canvas[0, lo:lo + block_length] = torch.where(commit, token, block)
            steps_per_block[k] += 1
            j += 1
        if rule.stop_at_eos and bool(torch.isin(canvas[0, lo:lo + block_length], end_ids).any()):
            canvas[0, lo + block_length:] = eos_id
            break
    span = canvas[0, P:].tolist()
    return span, steps_per_block


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="the TorchScript model.pt the engine loads")
    ap.add_argument("--prompts", required=True, help="JSON written by bench/eager_vs_engine.ts")
    ap.add_argument("--out", default=None, help="output JSON (default: stdout)")
    ap.add_argument("--device", default=None, help="cuda (default when available) or cpu")
    ap.add_argument("--warmup", type=int, default=3, help="untimed decodes of the first prompt per configuration")
    ap.add_argument("--budget-s", type=float, default=0.0, help="per configuration: stop starting problems after this many seconds")
    ap.add_argument("--exact-confidence", action="store_true", help="the engine's integer reduction instead of softmax")
    a = ap.parse_args(argv)
    device = torch.device(a.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    cuda = device.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    with open(a.prompts) as f:
        job = json.load(f)
    G, Lb = int(job["genLength"]), int(job["blockLength"])
    module, meta = load(a.model, device)
    ends = set(meta["endIds"])
    result = {"device": str(device) + (f" ({torch.cuda.get_device_name(device)})" if cuda else ""),
              "torch": torch.__version__, "model": a.model, "genLength": G, "blockLength": Lb,
              "confidence": "exact integer reduction" if a.exact_confidence else "float32 softmax",
              "configs": []}
    for cfg in job["configs"]:
        rule = Rule(cfg, G, Lb, meta["maskId"], device, a.exact_confidence)
        problems = job["problems"]
        for _ in range(a.warmup):
            decode(module, meta, problems[0]["ids"], rule, G, Lb, device)
        sync()
        rows = []
        t_cfg = time.perf_counter()
        for p in problems:
            if a.budget_s and time.perf_counter() - t_cfg > a.budget_s:
                break
            sync()
            t0 = time.perf_counter()
            span, spb = decode(module, meta, p["ids"], rule, G, Lb, device)
            sync()
            ms = (time.perf_counter() - t0) * 1000
            cut = next((i for i, t in enumerate(span) if t in ends), None)
            rows.append({"id": p["id"], "span": span, "tokens": span if cut is None else span[:cut],
                         "finishReason": "length" if cut is None else "eos", "steps": sum(spb),
                         "stepsPerBlock": spb, "ms": ms})
        total_ms = sum(r["ms"] for r in rows)
        steps = sum(r["steps"] for r in rows)
        print(f"eager {cfg['name']}: {len(rows)} problems, {total_ms / max(1, steps):.3f} ms/step, "
              f"{total_ms / 1000:.1f} s", file=sys.stderr, flush=True)
        result["configs"].append({"name": cfg["name"], "rows": rows})
    text = json.dumps(result)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
    else:
        print(text)


if __name__ == "__main__":
    main()
