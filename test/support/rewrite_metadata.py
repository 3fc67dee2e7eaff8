"""Writes variants of a localleap archive whose extra/localleap.json is edited (no torch needed).

usage: rewrite_metadata.py SRC OUT_DIR < spec.json
spec: {"name": {"set": {...}} | {"delete": ["field"]} | {"raw": "text"} | {"drop": true}}
"""
import json
import os
import sys
import zipfile


def main() -> int:
    src, out = sys.argv[1], sys.argv[2]
    spec = json.load(sys.stdin)
    os.makedirs(out, exist_ok=True)
    with zipfile.ZipFile(src) as z:
        entries = [(info, z.read(info.filename)) for info in z.infolist()]
    meta_name = next(info.filename for info, _ in entries if info.filename.endswith("extra/localleap.json"))
    meta = json.loads(dict((i.filename, d) for i, d in entries)[meta_name])
    for name, edit in spec.items():
        with zipfile.ZipFile(os.path.join(out, name + ".pt"), "w", zipfile.ZIP_STORED) as zout:
            for info, data in entries:
                if info.filename == meta_name:
                    if edit.get("drop"):
                        continue
                    if "raw" in edit:
                        data = edit["raw"].encode()
                    else:
                        m = dict(meta, **edit.get("set", {}))
                        for field in edit.get("delete", []):
                            m.pop(field, None)
                        data = json.dumps(m).encode()
                # Keep entries aligned as torch.jit.save does (64-byte records).
                zout.writestr(info, data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
