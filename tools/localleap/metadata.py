"""config.json of a neutral-weights folder -> ModelConfig fields + localleap.json metadata.

config.json is flat: the ModelConfig fields (tools/localleap/model.py) and the metadata fields of
docs/model-format.md, each in snake_case or camelCase (a nested "model" or "config" object may
hold the ModelConfig fields instead). localleap.json is always written in camelCase.
"""
import datetime
import json
import os
import re
from typing import Dict, Optional, Tuple

from .model import ModelConfig

FORMAT_VERSION = 2  # 2: the KV-cache methods cache_full / cache_step and the kvCache field
READABLE_VERSIONS = (1, 2)  # version 1 archives still load; they decode with cache "none" only
META_FIELDS = ("name", "kind", "architecture", "mask_id", "eos_id", "end_ids", "pad_id", "logits_shifted",
               "chat_template", "add_bos", "bos_token", "decoding_defaults", "delimiter_ids", "delimiter_threshold")
MODEL_FIELDS = tuple(ModelConfig.__dataclass_fields__)
# Keys a config.json may carry that the export decides itself (dtype, attention) or ignores.
IGNORED_FIELDS = ("format", "format_version", "dtype", "torch_dtype", "attention", "exporter", "training")
ARCHITECTURES = ("llada", "dream")  # kind "diffusion" (the default: localleap.json without "kind")
# kind "causal": a left-to-right LM, the small model beside a dLLM in APD (docs/decoding.md "APD").
# Its localleap.json has "kind": "causal" and no maskId / logitsShifted (docs/model-format.md).
CAUSAL_ARCHITECTURES = ("qwen2",)
KINDS = ("diffusion", "causal")
MAX_END_IDS = 8  # native/kernels/rule_types.h kMaxEndIds
MAX_DELIMITER_IDS = 8  # native/kernels/rule_types.h kMaxDelimiterIds (AdaBlock's delimiter tokens)


def snake(key: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", key).lower()


def camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def read_json(path: str, what: str) -> Dict:
    try:
        with open(path, "r", encoding="utf-8") as f:
            value = json.load(f)
    except FileNotFoundError:
        raise ValueError(f"{what} not found: {path}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(value, dict):
        raise ValueError(f"{path}: expected a JSON object")
    return value


def _normalise(d: Dict, where: str) -> Dict:
    out: Dict = {}
    for key, value in d.items():
        k = snake(key)
        if k in out and out[k] != value:
            raise ValueError(f"{where}: {key!r} conflicts with another spelling of {k!r}")
        out[k] = value
    return out


def split_config(raw: Dict, where: str = "config.json") -> Tuple[Dict, Dict]:
    """(ModelConfig fields, metadata fields), both snake_case; unknown keys are an error."""
    flat = _normalise({k: v for k, v in raw.items() if not k.startswith("_")}, where)
    nested = [k for k in ("model", "config") if isinstance(flat.get(k), dict)]
    if len(nested) > 1:
        raise ValueError(f"{where}: give the model sizes in one of \"model\" or \"config\", not both")
    model = _normalise(flat.pop(nested[0]), where) if nested else {}
    for k in MODEL_FIELDS:
        if k in flat:
            if k in model and model[k] != flat[k]:
                raise ValueError(f"{where}: {k} is given twice with different values")
            model[k] = flat.pop(k)
    meta = {k: flat.pop(k) for k in META_FIELDS if k in flat}
    if "max_length" in model:
        meta["max_length"] = model["max_length"]
    unknown = sorted(k for k in flat if k not in IGNORED_FIELDS)
    unknown_model = sorted(k for k in model if k not in MODEL_FIELDS)
    if unknown or unknown_model:
        raise ValueError(f"{where}: unknown keys: {', '.join(unknown + unknown_model)}")
    return model, meta


def model_config(model_fields: Dict, where: str = "config.json") -> ModelConfig:
    for k in ("vocab_size", "hidden_size", "num_layers", "num_heads", "intermediate_size"):
        if k not in model_fields:
            raise ValueError(f"{where}: {k} is missing")
    for k, v in model_fields.items():
        t = ModelConfig.__dataclass_fields__[k].type
        want = getattr(t, "__name__", str(t))
        ok = {"int": type(v) is int, "float": type(v) in (int, float), "bool": type(v) is bool}
        if want in ok and not ok[want]:
            raise ValueError(f"{where}: {k} must be {want}, got {v!r}")
    try:
        return ModelConfig(**model_fields)
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from None


def _token_text(v) -> Optional[str]:
    # HF tokenizer_config.json stores special tokens as strings or {"content": ...} objects.
    if isinstance(v, dict):
        v = v.get("content")
    return v if isinstance(v, str) else None


def _template_text(v) -> Optional[str]:
    # chat_template may be a list of {"name", "template"}: take the default one.
    if isinstance(v, list):
        named = {e.get("name"): e.get("template") for e in v if isinstance(e, dict)}
        v = named.get("default", next(iter(named.values()), None))
    return v if isinstance(v, str) else None


def build_metadata(meta: Dict, cfg: ModelConfig, dtype: str, attention: str, default_name: str,
                   tokenizer_config: Optional[Dict] = None, tokenizer: Optional[Dict] = None) -> Dict:
    """The localleap.json object (camelCase), validated; raises ValueError naming the field.

    meta["kind"] "causal" builds a causal-LM archive's metadata: "kind": "causal", no maskId and
    no logitsShifted (config.json must not give mask_id / logits_shifted for such a model)."""
    tc = tokenizer_config or {}
    kind = meta.get("kind", "diffusion")
    if kind not in KINDS:
        raise ValueError(f"config.json: kind must be one of {', '.join(KINDS)}, got {kind!r}")
    required = ("architecture", "mask_id", "eos_id") if kind == "diffusion" else ("architecture", "eos_id")
    for k in required:
        if k not in meta:
            raise ValueError(f"config.json: {k} ({camel(k)}) is missing")
    if kind == "causal":
        for k in ("mask_id", "logits_shifted"):
            if k in meta:
                raise ValueError(f"config.json: {k} ({camel(k)}) is given, but a causal model (kind causal) has "
                                 f"no mask token and its output at i always predicts token i + 1")
    eos = meta["eos_id"]
    arch = meta["architecture"]
    md = {
        "format": "localleap",
        "formatVersion": FORMAT_VERSION,
        "name": meta.get("name", default_name),
    }
    if kind == "causal":
        md["kind"] = "causal"
    md["architecture"] = arch
    md["vocabSize"] = cfg.vocab_size
    if kind == "diffusion":
        md["maskId"] = meta["mask_id"]
    md.update({
        "eosId": eos,
        "endIds": meta.get("end_ids", [eos]),
        "padId": meta.get("pad_id", eos),  # never attended to, so EOS is as good as any
    })
    if kind == "diffusion":
        md["logitsShifted"] = meta.get("logits_shifted", arch == "dream")
    md.update({
        "maxLength": cfg.max_length,
        "dtype": dtype,
        "attention": attention,
        "config": cfg.to_dict(),
        "kvCache": kv_cache_meta(cfg),
        "chatTemplate": meta["chat_template"] if "chat_template" in meta else _template_text(tc.get("chat_template")),
        "addBos": meta["add_bos"] if "add_bos" in meta else bool(tc.get("add_bos_token", False)),
        "bosToken": meta["bos_token"] if "bos_token" in meta else _token_text(tc.get("bos_token")),
        "exporter": {"tool": "tools/export.py", "torch": _torch_version(),
                     "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")},
    })
    if "decoding_defaults" in meta:  # calibrated per-model defaults (docs/model-format.md), kept as given
        md["decodingDefaults"] = meta["decoding_defaults"]
    if kind == "diffusion":  # AdaBlock's delimiters (docs/model-format.md): given, or the tokenizer's newline
        delimiters = meta["delimiter_ids"] if "delimiter_ids" in meta else newline_token_ids(tokenizer)
        if delimiters or "delimiter_ids" in meta:
            md["delimiterIds"] = delimiters
    if kind == "diffusion" and "delimiter_threshold" in meta:
        md["delimiterThreshold"] = meta["delimiter_threshold"]
    validate_metadata(md, tokenizer)
    return md


def newline_token_ids(tokenizer: Optional[Dict]) -> list:
    """The id of the token "\n" alone in a tokenizer.json ([] when it has none): the byte-level BPE
    spelling "Ċ" (GPT-2 byte alphabet: LLaDA, Dream/Qwen2, the reference and fixture tokenizers), the
    SentencePiece byte "<0x0A>", or a literal "\n" (a vocabulary entry or an added token)."""
    if not isinstance(tokenizer, dict):
        return []
    model = tokenizer.get("model") or {}
    vocab = model.get("vocab") if isinstance(model.get("vocab"), dict) else {}
    added = {t.get("content"): t.get("id") for t in tokenizer.get("added_tokens") or [] if isinstance(t, dict)}
    text = json.dumps([tokenizer.get("pre_tokenizer"), tokenizer.get("decoder")])
    byte_level = '"ByteLevel"' in text
    for spelling in (("Ċ",) if byte_level else ()) + ("<0x0A>", "\n"):
        for table in (vocab, added):
            tid = table.get(spelling)
            if type(tid) is int:
                return [tid]
    return []


def validate_decoding_defaults(dd) -> None:
    """The rules of docs/model-format.md "decodingDefaults" (the loader checks them again)."""
    def fail(field: str, msg: str):
        raise ValueError(f"metadata decodingDefaults{field}: {msg}")

    def unit(v) -> bool:
        return type(v) in (int, float) and 0 <= v <= 1

    if not isinstance(dd, dict):
        fail("", "must be an object")
    extra = sorted(set(dd) - {"localleap", "threshold", "calibration"})
    if extra:
        fail("", f"unknown fields {', '.join(extra)}")
    ll = dd.get("localleap", {})
    if not isinstance(ll, dict) or set(ll) - {"anchorThreshold", "relaxedThreshold", "radius"}:
        fail(".localleap", "must be an object of anchorThreshold, relaxedThreshold, radius")
    for k in ("anchorThreshold", "relaxedThreshold"):
        if k in ll and not unit(ll[k]):
            fail(f".localleap.{k}", f"must be a number in [0, 1], got {ll[k]!r}")
    if "anchorThreshold" in ll and "relaxedThreshold" in ll and ll["relaxedThreshold"] > ll["anchorThreshold"]:
        fail(".localleap.relaxedThreshold", "must be <= anchorThreshold")
    if "radius" in ll and not (type(ll["radius"]) is int and 0 <= ll["radius"] <= 65536):
        fail(".localleap.radius", f"must be an integer in [0, 65536], got {ll['radius']!r}")
    th = dd.get("threshold", {})
    if not isinstance(th, dict) or set(th) - {"threshold"}:
        fail(".threshold", "must be an object of threshold")
    if "threshold" in th and not unit(th["threshold"]):
        fail(".threshold.threshold", f"must be a number in [0, 1], got {th['threshold']!r}")
    if "calibration" in dd and not isinstance(dd["calibration"], dict):
        fail(".calibration", "must be an object")


def metadata_kind(md: Dict) -> str:
    """"diffusion" (no "kind" field, every archive before APD) or "causal"."""
    return md.get("kind", "diffusion")


def kv_cache_meta(cfg: ModelConfig) -> Dict[str, int]:
    """The sizes of one row's cache (model.py kv_cache_shape without batch and length)."""
    return {"layers": cfg.num_layers, "kvHeads": cfg.num_kv_heads, "headDim": cfg.head_dim}


def _torch_version() -> str:
    import torch
    return str(torch.__version__)


def validate_metadata(md: Dict, tokenizer: Optional[Dict] = None) -> None:
    def fail(field: str, msg: str):
        raise ValueError(f"metadata {field}: {msg}")

    def is_int(v) -> bool:
        return type(v) is int

    if "decodingDefaults" in md:
        validate_decoding_defaults(md["decodingDefaults"])
    if md.get("format") != "localleap":
        fail("format", f"must be \"localleap\", got {md.get('format')!r}")
    version = md.get("formatVersion")
    if not is_int(version) or version not in READABLE_VERSIONS:
        fail("formatVersion", f"must be one of {', '.join(map(str, READABLE_VERSIONS))} (re-export with this "
                              f"version's tools/export.py), got {version!r}")
    kind = md.get("kind", "diffusion")
    if kind not in KINDS:
        fail("kind", f"must be one of {', '.join(KINDS)} (absent means diffusion), got {kind!r}")
    causal = kind == "causal"
    archs = CAUSAL_ARCHITECTURES if causal else ARCHITECTURES
    if md.get("architecture") not in archs:
        fail("architecture", f"must be one of {', '.join(archs)} for a {kind} model, got {md.get('architecture')!r}")
    if causal:
        if version < 2:
            fail("formatVersion", f"must be 2 for a causal archive (kind causal), got {version!r}")
        for k in ("maskId", "logitsShifted"):
            if k in md:
                fail(k, "must not be present in a causal archive (kind causal): it has no mask token and its "
                        "output at i predicts token i + 1")
    if not isinstance(md.get("name"), str) or not md["name"]:
        fail("name", "must be a non-empty string")
    v = md.get("vocabSize")
    if not is_int(v) or v <= 0:
        fail("vocabSize", f"must be a positive integer, got {v!r}")
    for k in ("eosId", "padId") if causal else ("maskId", "eosId", "padId"):
        if not is_int(md.get(k)) or not 0 <= md[k] < v:
            fail(k, f"must be an integer in [0, {v}), got {md.get(k)!r}")
    ends = md.get("endIds")
    if not isinstance(ends, list) or not ends or len(ends) > MAX_END_IDS:
        fail("endIds", f"must be a list of 1 to {MAX_END_IDS} token ids (the engine's limit), got {ends!r}")
    for e in ends:
        if not is_int(e) or not 0 <= e < v:
            fail("endIds", f"{e!r} is not an integer in [0, {v})")
    if md["eosId"] not in ends:
        fail("endIds", f"must contain eosId {md['eosId']}, got {ends}")
    if not causal and md["maskId"] in ends:
        fail("endIds", f"must not contain maskId {md['maskId']}")
    if "delimiterIds" in md:
        dl = md["delimiterIds"]
        if causal:
            fail("delimiterIds", "must not be present in a causal archive (kind causal): adaptive blocks are a diffusion rule")
        if not isinstance(dl, list) or not dl or len(dl) > MAX_DELIMITER_IDS:
            fail("delimiterIds", f"must be a list of 1 to {MAX_DELIMITER_IDS} token ids (the engine's limit), got {dl!r}")
        for d in dl:
            if not is_int(d) or not 0 <= d < v:
                fail("delimiterIds", f"{d!r} is not an integer in [0, {v})")
            if d == md["maskId"]:
                fail("delimiterIds", f"must not contain maskId {md['maskId']}")
    if "delimiterThreshold" in md:
        dt = md["delimiterThreshold"]
        if causal:
            fail("delimiterThreshold", "must not be present in a causal archive (kind causal)")
        if type(dt) not in (int, float) or not 0 <= dt <= 1:
            fail("delimiterThreshold", f"must be a number in [0, 1], got {dt!r}")
    if not is_int(md.get("maxLength")) or md["maxLength"] <= 0:
        fail("maxLength", f"must be a positive integer, got {md.get('maxLength')!r}")
    for k in ("addBos",) if causal else ("logitsShifted", "addBos"):
        if type(md.get(k)) is not bool:
            fail(k, f"must be true or false, got {md.get(k)!r}")
    for k in ("chatTemplate", "bosToken"):
        if md.get(k) is not None and not isinstance(md[k], str):
            fail(k, f"must be a string or null, got {md[k]!r}")
    if md["addBos"] and not md.get("bosToken"):
        fail("addBos", "is true but bosToken is not set")
    if md.get("dtype") not in ("float32", "bfloat16", "float16"):
        fail("dtype", f"must be float32, bfloat16 or float16, got {md.get('dtype')!r}")
    if md.get("attention") not in ("manual", "sdpa"):
        fail("attention", f"must be manual or sdpa, got {md.get('attention')!r}")
    if version >= 2 or "kvCache" in md:
        _check_kv_cache(md.get("kvCache"), md.get("config"), fail)
    if tokenizer is not None:
        _check_tokenizer(md, tokenizer)


def _check_kv_cache(kv, config, fail) -> None:
    """kvCache (required from format version 2) must be positive ints that match config."""
    if not isinstance(kv, dict) or set(kv) != {"layers", "kvHeads", "headDim"}:
        fail("kvCache", f"must be an object with exactly layers, kvHeads and headDim, got {kv!r}")
    for k, v in kv.items():
        if type(v) is not int or v <= 0:
            fail(f"kvCache.{k}", f"must be a positive integer, got {v!r}")
    try:
        want = kv_cache_meta(ModelConfig.from_dict(config))
    except (ValueError, TypeError) as e:  # TypeError: config is not a dict or lacks a size
        fail("config", f"is not a valid model config ({e})")
    for k, v in want.items():
        if kv[k] != v:
            fail(f"kvCache.{k}", f"is {kv[k]} but config gives {v}")


def tokenizer_tokens(tok: Dict) -> Dict[str, int]:
    """{token text: id} of a Hugging Face tokenizer.json (model vocab plus added tokens)."""
    vocab = tok.get("model", {}).get("vocab", {})
    out = dict(vocab) if isinstance(vocab, dict) else {}
    if isinstance(vocab, list):  # Unigram: [[piece, score], ...]
        out = {p[0]: i for i, p in enumerate(vocab) if isinstance(p, list) and p}
    for t in tok.get("added_tokens", []) or []:
        if isinstance(t, dict) and isinstance(t.get("content"), str) and type(t.get("id")) is int:
            out[t["content"]] = t["id"]
    return out


def _check_tokenizer(md: Dict, tok: Dict) -> None:
    ids = tokenizer_tokens(tok)
    if ids:
        top = max(ids.values())
        if top >= md["vocabSize"]:
            raise ValueError(f"tokenizer.json: token id {top} is outside the model's vocabSize {md['vocabSize']}")
    if md.get("bosToken") and ids and md["bosToken"] not in ids:
        raise ValueError(f"metadata bosToken: {md['bosToken']!r} is not a token of tokenizer.json")


def tokenizer_files(folder: str, required: bool) -> Dict[str, str]:
    """{file name: text} of tokenizer.json / tokenizer_config.json found in folder (checked to be JSON)."""
    out: Dict[str, str] = {}
    for name in ("tokenizer.json", "tokenizer_config.json"):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            read_json(path, name)
            with open(path, "r", encoding="utf-8") as f:
                out[name] = f.read()
    if required and "tokenizer.json" not in out:
        raise ValueError(f"{folder}: no tokenizer.json")
    return out
