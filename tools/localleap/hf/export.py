"""Hugging Face checkpoint folder -> localleap model archive (docs/hf-export.md)."""
import json
import os
import sys
import time
from typing import Callable, Dict, Optional

import torch

from ..exporter import check_export_options, parity_check
from ..metadata import build_metadata
from ..weights import DTYPES, build_with_weights
from .checkpoint import GIB, plan_weights, read_checkpoint_config, read_optional_json, stream_weights
from .families import HFModel, resolve_special_ids
from .reference import predictions_at, reference_logits
from .tokenizer import Tokenizer

# Allowed max |exported - reference| relative to max(1, max |reference logit|). The reference
# computes in float32, so the bound is the export dtype's own rounding: measured 8e-7 (float32)
# and 1.2e-2 (bfloat16, 8 layers x 512, CPU) on random-weight checkpoints, while a crossed tensor
# (gate/up, the two norms, k/v biases of one layer) or the wrong logits shift gives 0.08 to 0.7 on
# the 2-layer test checkpoints, and more the more layers it touches.
HF_PARITY_TOLERANCE = {"float32": 1e-4, "float16": 2e-2, "bfloat16": 1e-1}

# Files copied next to the archive so that loadModel({ tokenizerPath: dirname(out) }) also works.
SIDE_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json")


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def hf_parity(t: Dict[str, torch.Tensor], m: HFModel, scripted, shifted: bool, mask_id: Optional[int], dtype: str,
              device: str, prompts: int, log: Callable[[str], None], seed: int = 4321) -> Dict:
    """The exported module against the family's own forward (reference.py), on canvases like the
    engine's: random prompt tokens followed by masks, a few tokens already filled in (a causal
    model, mask_id None: random tokens, compared at the same randomly chosen positions).
    Compares (1) forward(ids) with the reference's raw logits and (2) what the engine reads,
    logits_at(ids, positions - shift) with the metadata's logitsShifted, with the logits the
    family's own generation code uses for those masked positions. Bound: max |diff| <=
    HF_PARITY_TOLERANCE[dtype] x max(1, max |reference logit|)."""
    gen = torch.Generator().manual_seed(seed)
    bound = HF_PARITY_TOLERANCE[dtype]
    worst_abs, worst_rel, agree, total = 0.0, 0.0, 0, 0
    shift = 1 if shifted else 0
    with torch.no_grad():
        for p in range(prompts):
            n = int(torch.randint(8, 49, (1,), generator=gen))
            plen = int(torch.randint(2, n // 2 + 1, (1,), generator=gen))
            ids = torch.randint(0, m.vocab_size, (2, n), generator=gen)
            masked = torch.zeros(n, dtype=torch.bool)
            masked[plen:] = torch.rand(n - plen, generator=gen) < 0.8
            if mask_id is not None:
                ids[ids == mask_id] = 0
                ids[:, masked] = mask_id
            positions = masked.nonzero().flatten()
            if positions.numel() == 0:
                positions = torch.tensor([n - 1])
            ids = ids.to(device)
            positions = positions.to(device)
            raw = reference_logits(t, m, ids)
            want = predictions_at(t, m, ids, positions)
            scale = max(1.0, float(raw.abs().max()))
            checks = {
                "forward": scripted(ids).float() - raw,
                "logits_at (engine convention)": scripted.logits_at(ids, positions - shift).float() - want,
            }
            for what, d in checks.items():
                a = float(d.abs().max())
                worst_abs = max(worst_abs, a)
                worst_rel = max(worst_rel, a / scale)
                if not a / scale <= bound:  # also catches NaN
                    raise ValueError(f"parity check failed: {what} differs from the {m.family.name} reference forward by "
                                     f"{a:.4g} (max |reference logit| {scale:.4g}, relative {a / scale:.3g} > bound "
                                     f"{bound}) on prompt {p} (length {n}). The name map or the logits convention is "
                                     f"wrong, or the checkpoint is not a {m.family.name} checkpoint"
                                     + ("" if dtype == "float32" else "; --dtype float32 tells rounding from a mapping error"))
            got = scripted.logits_at(ids, positions - shift).float()
            agree += int((got.argmax(-1) == want.argmax(-1)).sum())
            total += got.shape[0] * got.shape[1]
    stats = {"prompts": prompts, "maxAbsDiff": worst_abs, "maxRelDiff": worst_rel, "bound": bound,
             "top1Agreement": agree / max(total, 1)}
    log(f"parity vs the {m.family.name} reference forward (float32, Hugging Face tensor names): {prompts} prompts, "
        f"max |diff| {worst_abs:.3g} = {worst_rel:.3g} x logit scale (bound {bound}), "
        f"argmax agreement at masked positions {stats['top1Agreement']:.1%}")
    return stats


def export_hf(checkpoint: str, out_path: str, dtype: str = "bfloat16", device: str = "auto",
              attention: str = "auto", parity_prompts: int = 3, max_length: Optional[int] = None,
              log: Callable[[str], None] = _stderr) -> Dict:
    """Writes out_path (and the tokenizer files next to it); returns a report with the
    localleap.json object under "metadata"."""
    t0 = time.time()
    report: Dict = {"checkpoint": os.path.abspath(checkpoint), "out": os.path.abspath(out_path), "times": {}}
    device, attention = check_export_options(dtype, device, attention, parity_prompts)
    if max_length is not None and max_length < 2:
        raise ValueError(f"max length must be >= 2, got {max_length}")

    # Everything that can be checked without reading the weights' data comes first.
    _, fam, m = read_checkpoint_config(checkpoint)
    cfg = m.model_config(max_length)
    log(f"{checkpoint}: {fam.name} ({'causal LM' if fam.kind == 'causal' else ('shifted' if fam.logits_shifted else 'unshifted') + ' logits'}), {m.num_layers} layers, "
        f"hidden {m.hidden_size}, {m.num_heads} heads ({m.num_kv_heads} kv), MLP {m.intermediate_size}, "
        f"vocab {m.vocab_size}, max length {cfg.max_length}")
    for note in m.notes:
        log(f"  config: {note}")
    tok = Tokenizer(checkpoint, fam.name)
    if tok.converted:
        log("  tokenizer: no tokenizer.json; built one from vocab.json + merges.txt + added_tokens_decoder")
    gen_cfg = read_optional_json(checkpoint, "generation_config.json")
    ids = resolve_special_ids(m, tok.token_id, gen_cfg, tok.config, log)
    add_bos, why_bos = tok.adds_bos()
    causal = fam.kind == "causal"
    meta = {"architecture": fam.architecture, "eos_id": ids["eos_id"], "end_ids": ids["end_ids"],
            "pad_id": ids["pad_id"], "add_bos": add_bos, "name": _model_name(checkpoint)}
    if causal:
        meta["kind"] = "causal"
    else:
        meta.update({"mask_id": ids["mask_id"], "logits_shifted": fam.logits_shifted})
    if tok.chat_template is not None:
        meta["chat_template"] = tok.chat_template
    if not causal:
        # AdaBlock's delimiter threshold (its paper's values); the delimiter is the tokenizer's "\n" (build_metadata).
        meta["delimiter_threshold"] = 0.5 if fam.architecture == "dream" else 0.3
    md = build_metadata(meta, cfg, dtype, attention, meta["name"], tok.config, tok.json)
    md["exporter"].update({"tool": "tools/export_hf.py", "family": fam.name, "source": meta["name"],
                           "ids": ids["sources"], "addBos": why_bos})
    log(f"  ids: {'causal, no mask' if causal else 'mask ' + str(md['maskId'])}, eos {md['eosId']}, end {md['endIds']}, "
        f"pad {md['padId']}, delimiters {md.get('delimiterIds', 'none')}; "
        f"addBos {md['addBos']} ({why_bos}); chat template {'yes' if md['chatTemplate'] else 'none'}")
    plan = plan_weights(checkpoint, fam, m)
    n_params = sum(int(torch.Size(info.shape).numel()) for _, info, _ in plan.tensors.values())
    log(f"weights: {len(plan.shards)} shards, {len(plan.tensors)} tensors, {_count(n_params)} parameters, "
        f"{plan.bytes() / GIB:.2f} GiB on disk; converting to {dtype} on {device} (attention {attention})")
    if plan.ignored:
        log(f"  ignoring {len(plan.ignored)} tensors not used for inference: {', '.join(plan.ignored[:3])}")
    report["times"]["check_s"] = time.time() - t0

    t1 = time.time()
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    hf = stream_weights(plan, DTYPES[dtype], device, log)
    report["times"]["read_s"] = time.time() - t1

    t2 = time.time()
    # The neutral model holds the very tensors read above (no copy): reference.py reads them by
    # their Hugging Face names, the exported network through the family's name map.
    neutral = {ours: hf[theirs] for ours, theirs in fam.name_map(m).items()}
    model = build_with_weights(cfg, neutral, DTYPES[dtype], device, attention == "sdpa", checkpoint,
                               causal=fam.kind == "causal")
    del neutral
    log("scripting")
    scripted = torch.jit.script(model)
    report["times"]["script_s"] = time.time() - t2

    t3 = time.time()
    if parity_prompts:
        report["parity"] = hf_parity(hf, m, scripted, md.get("logitsShifted", False), md.get("maskId"), dtype,
                                     device, parity_prompts, log)
        report["parity"]["engineMethods"] = parity_check(model, scripted, cfg.vocab_size, cfg.max_length, dtype,
                                                         device, parity_prompts, log)
        md["exporter"]["parity"] = report["parity"]
    report["times"]["parity_s"] = time.time() - t3

    t4 = time.time()
    extra = {"localleap.json": json.dumps(md, indent=2)}
    extra.update({k: v for k, v in tok.files.items() if k in ("tokenizer.json", "tokenizer_config.json")})
    out_dir = os.path.dirname(os.path.abspath(out_path))
    os.makedirs(out_dir, exist_ok=True)
    log(f"saving {out_path} with {', '.join(sorted(k for k in extra if k != 'localleap.json'))}")
    tmp = out_path + ".tmp"
    torch.jit.save(scripted, tmp, _extra_files=extra)
    os.replace(tmp, out_path)
    copied = _side_files(checkpoint, out_dir, tok, log)
    if copied:
        log(f"  next to it: {', '.join(copied)}")
    report["times"]["save_s"] = time.time() - t4
    report["times"]["total_s"] = time.time() - t0
    report["fileBytes"] = os.path.getsize(out_path)
    report["parameters"] = n_params
    if device == "cuda":
        report["peakGpuBytes"] = torch.cuda.max_memory_allocated()
    report["metadata"] = md
    log(f"done: {out_path} ({report['fileBytes'] / GIB:.2f} GiB) in {report['times']['total_s']:.1f} s"
        + (f", peak GPU memory {report['peakGpuBytes'] / GIB:.2f} GiB" if device == "cuda" else ""))
    return report


def _model_name(checkpoint: str) -> str:
    """The folder's name; for a Hugging Face cache snapshot (models--org--name/snapshots/<commit>)
    the repository's name."""
    path = os.path.abspath(checkpoint)
    base = os.path.basename(path)
    parts = path.split(os.sep)
    if len(parts) >= 3 and parts[-2] == "snapshots" and parts[-3].startswith("models--"):
        return parts[-3][len("models--"):].replace("--", "/")
    return base


def _count(n: int) -> str:
    return f"{n / 1e9:.2f} B" if n >= 1e9 else f"{n / 1e6:.2f} M"


def _side_files(checkpoint: str, out_dir: str, tok: Tokenizer, log: Callable[[str], None]):
    """Copies the tokenizer files next to the archive (the built tokenizer.json too); the archive
    embeds tokenizer.json and tokenizer_config.json anyway, these serve loadModel's tokenizerPath."""
    if os.path.abspath(checkpoint) == os.path.abspath(out_dir):
        if tok.converted:  # never overwrite a checkpoint's file; only add the missing one
            _write(os.path.join(out_dir, "tokenizer.json"), tok.files["tokenizer.json"])
            return ["tokenizer.json (built)"]
        return []
    copied = []
    for name in SIDE_FILES:
        src = os.path.join(checkpoint, name)
        dst = os.path.join(out_dir, name)
        built = tok.converted and name == "tokenizer.json"
        if not built and not os.path.isfile(src):
            continue
        data = tok.files[name].encode("utf-8") if built else _read_bytes(src)
        if os.path.isfile(dst) and _read_bytes(dst) != data:
            log(f"  replacing {dst} (a different model's?)")
        with open(dst + ".tmp", "wb") as f:
            f.write(data)
        os.replace(dst + ".tmp", dst)
        copied.append(name + (" (built)" if built else ""))
    return copied


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _write(path: str, text: str) -> None:
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(path + ".tmp", path)
