"""Load a neutral-weights folder (config.json + safetensors) into DiffusionLM (or, for kind
"causal", into causal_model.py's CausalLM: the same parameters, causal attention)."""
import contextlib
import os
from typing import Dict, List, Optional, Tuple

import torch

from . import safetensors_io as st
from .quant import dequantize_state, logical_shapes
from .metadata import model_config, read_json, split_config
from .model import DiffusionLM, ModelConfig, parameter_shapes

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def read_config(folder: str) -> Tuple[ModelConfig, Dict]:
    """(ModelConfig, snake_case metadata fields) from folder/config.json."""
    path = os.path.join(folder, "config.json")
    model_fields, meta = split_config(read_json(path, "config.json"), path)
    return model_config(model_fields, path), meta


def check_shapes(cfg: ModelConfig, found: Dict[str, List[int]], where: str) -> None:
    """Raises ValueError listing missing keys, unexpected keys and shape mismatches."""
    want = parameter_shapes(cfg)
    missing = sorted(set(want) - set(found))
    unexpected = sorted(set(found) - set(want))
    if cfg.tie_embeddings and "lm_head.weight" in unexpected:
        unexpected.remove("lm_head.weight")  # tolerated when equal to embed.weight (checked on load)
    wrong = [(n, want[n], list(found[n])) for n in sorted(set(want) & set(found)) if list(found[n]) != want[n]]
    if not (missing or unexpected or wrong):
        return
    parts = []
    if missing:
        parts.append(f"missing {len(missing)}: {', '.join(missing)}")
    if unexpected:
        parts.append(f"unexpected {len(unexpected)}: {', '.join(unexpected)}")
    if wrong:
        parts.append(f"shape mismatch {len(wrong)}: " +
                     ", ".join(f"{n} (expected {e}, got {g})" for n, e, g in wrong))
    raise ValueError(f"{where}: weights do not match config.json: " + "; ".join(parts))


@contextlib.contextmanager
def _no_init():
    # Every parameter is overwritten from the file, so skip the random init (minutes for 8B weights).
    names = ("kaiming_uniform_", "uniform_", "normal_", "xavier_uniform_")
    saved = {n: getattr(torch.nn.init, n) for n in names}
    try:
        for n in names:
            setattr(torch.nn.init, n, lambda t, *a, **k: t)
        yield
    finally:
        for n, f in saved.items():
            setattr(torch.nn.init, n, f)


def build_with_weights(cfg: ModelConfig, tensors: Dict[str, torch.Tensor], dtype: torch.dtype,
                       device: str = "cpu", use_sdpa: Optional[bool] = None, where: str = "weights",
                       causal: bool = False) -> DiffusionLM:
    """DiffusionLM (CausalLM with causal) holding `tensors` (validated), parameters in dtype,
    buffers kept float32."""
    check_shapes(cfg, {n: list(t.shape) for n, t in tensors.items()}, where)
    if cfg.tie_embeddings and "lm_head.weight" in tensors and not torch.equal(tensors["lm_head.weight"], tensors["embed.weight"]):
        raise ValueError(f"{where}: tie_embeddings is true but lm_head.weight differs from embed.weight")
    with _no_init():
        if causal:
            from .causal_model import CausalLM
            model = CausalLM(cfg, use_sdpa)
        else:
            model = DiffusionLM(cfg, use_sdpa)
    params = dict(model.named_parameters())  # tied lm_head.weight appears once, as embed.weight
    assert set(params) == set(parameter_shapes(cfg)), "model.py and parameter_shapes disagree"
    with torch.no_grad():
        for name, p in params.items():
            p.data = tensors[name].to(device=device, dtype=dtype)
    # Not model.to(dtype): that would also round the float32 rotary inv_freq buffer.
    for mod in model.modules():
        for bname, buf in list(mod._buffers.items()):
            if buf is not None:
                mod._buffers[bname] = buf.to(device)
    return model.eval()


def load_model(folder: str, dtype: str = "float32", device: str = "cpu",
               use_sdpa: Optional[bool] = None) -> Tuple[DiffusionLM, ModelConfig, Dict]:
    """(model, ModelConfig, snake_case metadata fields) of a neutral-weights folder; config.json's
    kind "causal" gives a CausalLM."""
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    cfg, meta = read_config(folder)
    headers = st.read_headers(folder)
    # int8 matrices (`<name>` I8 + `<name>.scale`, see quant.py) count as their float matrix
    shapes = logical_shapes({n: info.dtype for n, (_, info) in headers.items()},
                            {n: info.shape for n, (_, info) in headers.items()}, folder)
    check_shapes(cfg, shapes, folder)  # before reading data
    tensors = dequantize_state(st.load(folder), folder)  # expanded to float32, then to dtype below
    causal = meta.get("kind", "diffusion") == "causal"
    return build_with_weights(cfg, tensors, DTYPES[dtype], device, use_sdpa, folder, causal), cfg, meta
