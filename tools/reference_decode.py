#!/usr/bin/env python3
"""Reference decoder (docs/decoding.md): JSON list of cases in, JSON list of results out.

A case: {"model": "path/model.pt", "prompts": [[ids...], ...], "genLength": 64,
"blockLength": 32, "strategy": "localleap", "steps": 64, "threshold": 0.9,
"anchorThreshold": 0.9, "relaxedThreshold": 0.75, "radius": 4, "temperature": 0,
"seeds": [0, ...] (or "seed": 0 for every row), "stopAtEos": false, "cache": "none",
"endOfText": false, "adaptiveBlock": null | true | {"window", "delimiterThreshold"},
"acceptThreshold": null}. adaptiveBlock: AdaBlock's adaptive block lengths (rows then also carry
"blockLengths"; the archive needs localleap.json delimiterIds, or the case gives "delimiterIds" in
adaptiveBlock, which override the archive's). acceptThreshold: strategy "learned" (default: the
archive filter's).
cache "prefix" / "dual" (format 2 archives): KV-cached steps after each block's first one.
A result: {"rows": [{"tokens": [genLength ids], "steps", "stepsPerBlock", "finishReason"}],
"batchSteps"}. steps defaults to genLength; it only matters for low-confidence and random.

"strategy": "apd" (docs/decoding.md "APD"): also "arModel": "path/causal.pt", "mixtureWeight"
(R, default 0.7), "kvWindow" (W, default 16, null: no dLLM cache), "maxLookahead" (M, default
100); blockLength must be genLength or left out; steps, thresholds, radius, cache, adaptiveBlock and
acceptThreshold do not apply; endOfText stops a row as stopAtEos does (APD commits left to right).
A result row: {"tokens", "steps", "dllmForwards", "arForwards", "acceptedPerStep",
"stepsPerBlock": [steps], "finishReason"}; the result also has "vocabWidth".
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

CASE_KEYS = {"model": None, "prompts": None, "genLength": None, "blockLength": 32, "strategy": "low-confidence",
             "steps": None, "threshold": 0.9, "anchorThreshold": 0.9, "relaxedThreshold": 0.75, "radius": 4,
             "temperature": 0.0, "seeds": None, "seed": 0, "stopAtEos": False, "cache": "none",
             "endOfText": False, "adaptiveBlock": None, "acceptThreshold": None}
APD_KEYS = {"arModel": None, "mixtureWeight": 0.7, "kvWindow": 16, "maxLookahead": 100}
BLOCK_ONLY = ("steps", "threshold", "anchorThreshold", "relaxedThreshold", "radius", "cache", "adaptiveBlock",
              "acceptThreshold")


def run_apd_case(c: dict, models: dict, device: str) -> dict:
    from localleap.apd_reference import CausalReference, apd_decode
    from localleap.reference_decoder import ReferenceModel
    given = [k for k in BLOCK_ONLY if c.get(k) != CASE_KEYS[k]]
    if given:
        raise ValueError(f"{', '.join(given)} do not apply to strategy apd")
    if c["model"] not in models:
        models[c["model"]] = ReferenceModel(c["model"], device)
    ar = None
    if c["arModel"] is not None:
        key = ("causal", c["arModel"])
        if key not in models:
            models[key] = CausalReference(c["arModel"], device)
        ar = models[key]
    seeds = c["seeds"] if c["seeds"] is not None else [c["seed"]] * len(c["prompts"])
    block = None if "blockLength" not in c["given"] else c["blockLength"]
    out = apd_decode(models[c["model"]], ar, c["prompts"], c["genLength"], c["mixtureWeight"], c["kvWindow"],
                     c["maxLookahead"], c["temperature"], seeds,
                     c["stopAtEos"] or c["endOfText"], block)
    for row in out["rows"]:
        row["stepsPerBlock"] = [row["steps"]]
    return out


def run_case(case: dict, models: dict, device: str) -> dict:
    from localleap.reference_decoder import ReferenceModel, decode
    if not isinstance(case, dict):
        raise ValueError("a case must be a JSON object")
    apd = case.get("strategy") == "apd"
    unknown = sorted(set(case) - set(CASE_KEYS) - (set(APD_KEYS) if apd else set()))
    if unknown:
        raise ValueError(f"unknown keys: {', '.join(unknown)}" +
                         ("" if apd or not set(unknown) & set(APD_KEYS) else " (they need strategy apd)"))
    for k in ("model", "prompts", "genLength"):
        if k not in case:
            raise ValueError(f"{k} is missing")
    if apd:
        return run_apd_case(dict(dict(CASE_KEYS, **APD_KEYS), **case, given=set(case)), models, device)
    c = dict(CASE_KEYS, **case)
    if c["model"] not in models:
        models[c["model"]] = ReferenceModel(c["model"], device)
    seeds = c["seeds"] if c["seeds"] is not None else [c["seed"]] * len(c["prompts"])
    adaptive = c["adaptiveBlock"]
    if adaptive is True:
        adaptive = {}
    if adaptive is False:
        adaptive = None
    if adaptive is not None:
        if not isinstance(adaptive, dict) or set(adaptive) - {"window", "delimiterThreshold", "delimiterIds"}:
            raise ValueError("adaptiveBlock must be true, false or {window?, delimiterThreshold?, delimiterIds?}")
        adaptive = {"window": adaptive.get("window"), "delimiter_threshold": adaptive.get("delimiterThreshold"),
                    "delimiter_ids": adaptive.get("delimiterIds")}
    return decode(models[c["model"]], c["prompts"], c["genLength"], c["blockLength"], c["strategy"], c["steps"],
                  c["threshold"], c["anchorThreshold"], c["relaxedThreshold"], c["radius"], c["temperature"],
                  seeds, c["stopAtEos"], c["cache"], end_of_text=c["endOfText"], adaptive_block=adaptive,
                  accept_threshold=c["acceptThreshold"])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", metavar="FILE", help="JSON list of cases (default: stdin)")
    ap.add_argument("--out", metavar="FILE", help="write the results here (default: stdout)")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    args = ap.parse_args(argv)
    try:
        text = open(args.cases, encoding="utf-8").read() if args.cases else sys.stdin.read()
        try:
            cases = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"cases are not valid JSON ({e})") from None
        if isinstance(cases, dict):
            cases = [cases]
        models: dict = {}
        results = []
        for i, case in enumerate(cases):
            try:
                results.append(run_case(case, models, args.device))
            except (ValueError, KeyError, TypeError) as e:
                raise ValueError(f"case {i}: {e}") from None
        out = json.dumps(results)
        if args.out:
            with open(args.out, "w", encoding="utf-8") as f:
                f.write(out + "\n")
        else:
            print(out)
    except (ValueError, OSError) as e:
        print(f"reference_decode: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
