#!/usr/bin/env python3
"""Train Learn2PD's learned filter for a localleap archive (docs/decoding.md "Learned filter").

1. Decodes training prompts with the archive through the plain Python reference decoder at one
   token per step (strategy low-confidence, steps = genLength), greedy, and records at every step
   the current block's confidence vector (masked positions; decoded ones count as 1.0) and, for
   every masked position, whether its current argmax equals the token the decode ends with there.
2. Trains the MLP (blockLength -> hidden (ReLU) -> blockLength, one logit per position) with
   binary cross-entropy over the masked positions (torch, CPU or CUDA).
3. Writes learned_filter.json (--out) with the weights, the accept threshold to store and the
   provenance (model, prompt set, the ids of the problems decoded, genLength, date); --into
   ARCHIVE also adds it to an archive (tools/add_filter.py).

Prompts: a JSONL file of {"id", "question" or "prompt"} (rendered with the reference chat template
by default, --raw for plain text) or {"id", "ids": [token ids]} (already tokenized: any model).
Only training-split problems belong here: never the prompts you evaluate on.
"""
import argparse
import datetime
import hashlib
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "train"))


def log(msg: str) -> None:
    print(f"[train_filter {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_tokenizer(archive: str, given):
    """The `tokenizers` package when present, else tools/train/bpe_lite.py (the reference tokenizer)."""
    path = given
    if path is None:
        import zipfile
        with zipfile.ZipFile(archive) as z:
            names = [n for n in z.namelist() if n.endswith("/extra/tokenizer.json")]
            if not names:
                raise ValueError(f"{archive} embeds no tokenizer.json: pass --tokenizer or token ids in the prompts")
            tmp = tempfile.NamedTemporaryFile("wb", suffix=".json", delete=False)
            tmp.write(z.read(names[0]))
            tmp.close()
            path = tmp.name
    try:
        from common import HFTokenizer
        return HFTokenizer(path)
    except ImportError:
        from bpe_lite import BPELite
        return BPELite(path)


def read_prompts(path: str, limit: int):
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            r = json.loads(line)
            if "id" not in r:
                raise ValueError(f"{path}:{n}: every prompt needs an id (the provenance lists them)")
            rows.append(r)
    return rows[:limit] if limit else rows


def encode(rows, tok, raw: bool):
    from common import chat_prompt
    out = []
    for r in rows:
        if "ids" in r:
            out.append([int(t) for t in r["ids"]])
            continue
        text = r.get("question", r.get("prompt"))
        if not isinstance(text, str):
            raise ValueError(f"prompt {r['id']}: needs question, prompt or ids")
        out.append(tok.encode(text if raw else chat_prompt(text)))
    return out


def collect(model, prompts, gen_length: int, block_length: int, batch: int, budget_s: float, ids, stop_at_eos: bool,
            cache: str, log_every=1):
    """Decodes batches until the prompts or the time budget run out; returns (X, M, Y, used ids)."""
    import numpy as np
    from localleap.reference_decoder import decode
    X, M, Y, used = [], [], [], []
    t0 = time.time()
    for start in range(0, len(prompts), batch):
        if time.time() - t0 > budget_s:
            log(f"time budget of {budget_s:.0f} s reached after {len(used)} problems")
            break
        chunk = prompts[start:start + batch]
        records = []  # (row, block, masked, tokens, conf)

        def observe(b, blk, masked, t, c):
            records.append((b, blk, masked, t.copy(), c.copy()))

        out = decode(model, chunk, gen_length, block_length, "low-confidence", gen_length, stop_at_eos=stop_at_eos,
                     cache=cache, observer=observe)
        for b, blk, masked, t, c in records:
            final = np.asarray(out["rows"][b]["tokens"][blk * block_length:(blk + 1) * block_length])
            x = np.where(masked, c, np.float32(1.0)).astype(np.float32)
            X.append(x)
            M.append(masked.astype(np.float32))
            Y.append(((t == final) & masked).astype(np.float32))
        used.extend(ids[start:start + batch])
        if (start // batch) % log_every == 0:
            log(f"{len(used)} problems decoded, {len(X)} block states, {time.time() - t0:.0f} s")
    return np.stack(X), np.stack(M), np.stack(Y), used


def train(X, M, Y, hidden: int, epochs: int, seed: int, device: str, val_share: float = 0.1):
    import numpy as np
    import torch
    torch.manual_seed(seed)
    n = len(X)
    order = np.random.default_rng(seed).permutation(n)
    n_val = max(1, int(n * val_share))
    val, tr = order[:n_val], order[n_val:]
    t = lambda a: torch.from_numpy(a).to(device)  # noqa: E731
    Xt, Mt, Yt = t(X), t(M), t(Y)
    L = X.shape[1]
    net = torch.nn.Sequential(torch.nn.Linear(L, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, L)).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    bce = torch.nn.BCEWithLogitsLoss(reduction="none")
    bs = 512
    tr_t = torch.from_numpy(tr).to(device)
    for epoch in range(epochs):
        perm = tr_t[torch.randperm(len(tr_t), device=device)]
        total = 0.0
        for i in range(0, len(perm), bs):
            idx = perm[i:i + bs]
            logits = net(Xt[idx])
            loss = (bce(logits, Yt[idx]) * Mt[idx]).sum() / Mt[idx].sum().clamp_min(1)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss) * len(idx)
        if epoch % 10 == 0 or epoch == epochs - 1:
            log(f"epoch {epoch}: train loss {total / max(1, len(tr)):.4f}")
    with torch.no_grad():
        v = torch.from_numpy(val).to(device)
        p = torch.sigmoid(net(Xt[v]))
        m = Mt[v] > 0
        y = Yt[v] > 0
        stats = {"valStates": int(len(val)), "valPositions": int(m.sum())}
        for thr in (0.5, 0.9, 0.96):
            acc = (p > thr) & m
            stats[f"precisionAt{thr}"] = round(float((acc & y).sum()) / max(1, int(acc.sum())), 4)
            stats[f"acceptedShareAt{thr}"] = round(float(acc.sum()) / max(1, int(m.sum())), 4)
        stats["labelPositiveShare"] = round(float((y & m).sum()) / max(1, int(m.sum())), 4)
    w1, b1 = net[0].weight.detach().cpu().numpy(), net[0].bias.detach().cpu().numpy()
    w2, b2 = net[2].weight.detach().cpu().numpy(), net[2].bias.detach().cpu().numpy()
    return w1, b1, w2, b2, stats


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="the localleap archive (model.pt) to decode with")
    ap.add_argument("--prompts", default="bench/data/calibration-train.jsonl", help="training prompts (JSONL)")
    ap.add_argument("--split", default="train", help="what the prompt set is, recorded in the provenance")
    ap.add_argument("--tokenizer", default=None, help="tokenizer.json (default: the archive's embedded one)")
    ap.add_argument("--raw", action="store_true", help="prompts are plain text, not chat messages")
    ap.add_argument("--limit", type=int, default=0, help="at most this many prompts (0: all)")
    ap.add_argument("--time-budget", type=float, default=1e9, metavar="S", help="stop decoding after S seconds")
    ap.add_argument("--gen-length", type=int, default=256)
    ap.add_argument("--block-length", type=int, default=32, help="the filter's block length")
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--batch", type=int, default=8, help="prompts decoded together")
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--cache", default="dual", choices=["none", "prefix", "dual"],
                    help="the decodes' KV cache (default dual, generate()'s default for format-v2 archives; "
                         "none for v1 archives)")
    ap.add_argument("--stop-at-eos", action=argparse.BooleanOptionalAction, default=True,
                    help="end a decode after the block holding its end token (default; the blocks after it are "
                         "end-token padding)")
    ap.add_argument("--accept-threshold", type=float, default=0.96, help="the default t stored in the filter")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--out", required=True, help="learned_filter.json to write")
    ap.add_argument("--into", default=None, help="also add the filter to this archive (in place)")
    args = ap.parse_args(argv)
    try:
        import torch
        if args.threads:
            torch.set_num_threads(args.threads)
        from localleap.learned_filter import to_json
        from localleap.reference_decoder import ReferenceModel
        model = ReferenceModel(args.model, args.device)
        if model.version < 2 and args.cache != "none":
            log(f"{args.model} is a format-v1 archive: decoding with cache none")
            args.cache = "none"
        rows = read_prompts(args.prompts, args.limit)
        tok = None if all("ids" in r for r in rows) else load_tokenizer(args.model, args.tokenizer)
        prompts = encode(rows, tok, args.raw)
        ids = [str(r["id"]) for r in rows]
        log(f"{len(prompts)} prompts from {args.prompts}; decoding with {args.model} (genLength {args.gen_length}, "
            f"block {args.block_length}, one token per step)")
        t0 = time.time()
        X, M, Y, used = collect(model, prompts, args.gen_length, args.block_length, args.batch, args.time_budget, ids,
                                args.stop_at_eos, args.cache)
        decode_s = time.time() - t0
        log(f"training on {len(X)} block states ({int(M.sum())} masked positions) of {len(used)} problems")
        t1 = time.time()
        w1, b1, w2, b2, stats = train(X, M, Y, args.hidden, args.epochs, args.seed, args.device)
        log(f"validation: {json.dumps(stats)}")
        provenance = {
            "model": f"{model.meta.get('name', '?')} ({os.path.basename(args.model)}, sha256 {sha256(args.model)})",
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "genLength": args.gen_length,
            "problems": {"source": args.prompts, "split": args.split, "count": len(used), "ids": used},
            "tool": "tools/train_filter.py",
            "decode": {"strategy": "low-confidence", "steps": args.gen_length, "blockLength": args.block_length,
                       "temperature": 0, "cache": args.cache, "stopAtEos": args.stop_at_eos, "seconds": round(decode_s, 1),
                       "device": args.device},
            "training": {"states": int(len(X)), "maskedPositions": int(M.sum()), "epochs": args.epochs,
                         "hidden": args.hidden, "seed": args.seed, "seconds": round(time.time() - t1, 1), **stats},
        }
        text = to_json(w1, b1, w2, b2, args.accept_threshold, provenance)
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text + "\n")
        log(f"wrote {args.out}")
        if args.into:
            from add_filter import add_filter
            add_filter(args.into, text, args.into)
            log(f"added it to {args.into}")
    except (ValueError, OSError) as e:
        print(f"train_filter: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
