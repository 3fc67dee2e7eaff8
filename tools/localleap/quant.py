"""Row-wise symmetric int8 weights in the neutral format (safetensors), expanded on load.

Layout: a quantized matrix `<name>` of shape [rows, cols] is stored as `<name>` dtype I8 (values
in -127..127) plus `<name>.scale` dtype F32 of shape [rows] (one scale per output row, i.e. per
output feature of a linear layer, per token of the embedding), with
    weight[r, c] = float(q[r, c]) * scale[r],   scale[r] = max_c |w[r, c]| / 127.
Everything else (the 1-D RMSNorm weights, anything the writer keeps) stays a float tensor under
its own name. Which tensors are quantized is read from the tensors themselves: every I8 tensor
needs its `.scale` and every `.scale` its I8 tensor. The tied embedding is quantized per token
row, which is also per output row of the tied lm_head, so one scale serves both uses.
Files written by tools/train/quantize.py carry the safetensors metadata {"localleap_quant":
"int8-rowwise-symmetric"}; the loader does not rely on it.
Round trip: |w - dequant(quant(w))| <= scale[r] / 2 = max|w[r]| / 254 elementwise.
"""
from typing import Dict, Iterable, List, Optional

import torch

SCALE_SUFFIX = ".scale"
METADATA = {"localleap_quant": "int8-rowwise-symmetric"}
QMAX = 127


def quantize_rowwise(w: torch.Tensor):
    """(int8 values, float32 scale per row) of a 2-D tensor."""
    if w.dim() != 2:
        raise ValueError(f"row-wise int8 needs a 2-D tensor, got shape {list(w.shape)}")
    w = w.detach().float()
    amax = w.abs().amax(dim=1)
    scale = torch.where(amax > 0, amax / QMAX, torch.ones_like(amax))
    q = torch.round(w / scale[:, None]).clamp_(-QMAX, QMAX).to(torch.int8)
    return q, scale.contiguous()


def dequantize_rowwise(q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return q.float() * scale.float()[:, None]


def quantize_state(tensors: Dict[str, torch.Tensor], keep: Optional[Iterable[str]] = None) -> Dict[str, torch.Tensor]:
    """Every 2-D tensor not in `keep` as int8 + scale; the others unchanged."""
    keep = set(keep or ())
    out: Dict[str, torch.Tensor] = {}
    for name, t in tensors.items():
        if name.endswith(SCALE_SUFFIX):
            raise ValueError(f"tensor name {name!r} ends with {SCALE_SUFFIX!r}, reserved for int8 scales")
        if t.dim() == 2 and name not in keep and t.is_floating_point():
            out[name], out[name + SCALE_SUFFIX] = quantize_rowwise(t)
        else:
            out[name] = t
    return out


def quantized_names(dtypes: Dict[str, str], shapes: Dict[str, List[int]], where: str = "weights") -> List[str]:
    """Names stored as int8 + scale, from safetensors dtype names and shapes; ValueError when the
    pairs are incomplete or their shapes disagree."""
    names = []
    for name, dt in dtypes.items():
        if name.endswith(SCALE_SUFFIX):
            base = name[: -len(SCALE_SUFFIX)]
            if dtypes.get(base) != "I8":
                raise ValueError(f"{where}: {name} has no int8 tensor {base}")
            continue
        if dt == "I8":
            s = name + SCALE_SUFFIX
            if s not in dtypes:
                raise ValueError(f"{where}: int8 tensor {name} has no {s}")
            if len(shapes[name]) != 2 or list(shapes[s]) != [shapes[name][0]]:
                raise ValueError(f"{where}: {s} has shape {list(shapes[s])}, expected [{shapes[name][0]}] "
                                 f"for {name} of shape {list(shapes[name])}")
            if dtypes[s] not in ("F32", "F16", "BF16"):
                raise ValueError(f"{where}: {s} has dtype {dtypes[s]}, expected a float")
            names.append(name)
    return sorted(names)


def logical_shapes(dtypes: Dict[str, str], shapes: Dict[str, List[int]], where: str = "weights") -> Dict[str, List[int]]:
    """The shapes the model sees: int8 pairs count as their matrix, scales disappear."""
    q = set(quantized_names(dtypes, shapes, where))
    return {n: list(s) for n, s in shapes.items() if not (n.endswith(SCALE_SUFFIX) and n[: -len(SCALE_SUFFIX)] in q)}


def dequantize_state(tensors: Dict[str, torch.Tensor], where: str = "weights") -> Dict[str, torch.Tensor]:
    """Int8 pairs expanded to float32 matrices; other tensors unchanged. Identity without int8."""
    from .safetensors_io import DTYPE_NAMES
    dtypes = {n: DTYPE_NAMES[t.dtype] for n, t in tensors.items()}
    q = quantized_names(dtypes, {n: list(t.shape) for n, t in tensors.items()}, where)
    if not q:
        return tensors
    out = {n: t for n, t in tensors.items() if not (n.endswith(SCALE_SUFFIX) and n[: -len(SCALE_SUFFIX)] in q)}
    for n in q:
        out[n] = dequantize_rowwise(tensors[n], tensors[n + SCALE_SUFFIX])
    return out
