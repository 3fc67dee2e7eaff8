"""Offline open-text corpus: the Python source (code and docstrings) installed on this machine.

Deterministic for a given machine: every directory on sys.path (the standard library and
site-packages; this repository excluded) is walked in sorted order, the *.py files are ordered by
a hash of their path relative to their sys.path entry (interleaving packages), and files are taken
in that order under caps: `max_file_bytes` per file (cut at a line end), `max_package_bytes` per
top-level package, `max_bytes` in all. Files that are not UTF-8, hold NUL bytes or are shorter than
`min_file_bytes` are skipped. Line ends are normalised to \\n.
"""
import hashlib
import os
import sys
from typing import Dict, List, Optional

SKIP_DIRS = {"__pycache__", ".git", "node_modules"}


def _roots(exclude: List[str]) -> List[str]:
    ex = [os.path.realpath(e) for e in exclude]
    seen = []
    for p in sys.path:
        if not p or not os.path.isdir(p):
            continue
        rp = os.path.realpath(p)
        if any(rp == e or rp.startswith(e + os.sep) for e in ex):
            continue
        if rp not in seen:
            seen.append(rp)
    return sorted(seen)


def list_python_files(exclude: List[str]) -> List[Dict]:
    files = []
    seen = set()
    for root in _roots(exclude):
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
            for fn in sorted(filenames):
                if not fn.endswith(".py"):
                    continue
                full = os.path.join(dirpath, fn)
                real = os.path.realpath(full)
                if real in seen:
                    continue
                seen.add(real)
                rel = os.path.relpath(full, root)
                files.append({"root": root, "rel": rel, "path": full,
                              "package": rel.split(os.sep)[0].split(".py")[0]})
    return files


def collect(max_bytes: int = 24 << 20, max_file_bytes: int = 48 << 10, max_package_bytes: int = 1536 << 10,
            min_file_bytes: int = 300, exclude: Optional[List[str]] = None) -> List[Dict]:
    """Documents [{"path", "package", "text"}], at most max_bytes of text in all."""
    files = list_python_files(exclude or [])
    files.sort(key=lambda f: (hashlib.sha1(f["rel"].encode()).hexdigest(), f["root"]))
    per_pkg: Dict[str, int] = {}
    docs = []
    total = 0
    for f in files:
        if total >= max_bytes:
            break
        try:
            if os.path.getsize(f["path"]) < min_file_bytes:
                continue
            with open(f["path"], "rb") as fh:
                raw = fh.read(max_file_bytes * 2)
            if b"\x00" in raw:
                continue
            text = raw.decode("utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        if len(text) > max_file_bytes:
            cut = text.rfind("\n", 0, max_file_bytes)
            text = text[: cut + 1 if cut > 0 else max_file_bytes]
        text = text.strip("\n")
        if len(text) < min_file_bytes:
            continue
        n = len(text.encode("utf-8"))
        if per_pkg.get(f["package"], 0) + n > max_package_bytes:
            continue
        per_pkg[f["package"]] = per_pkg.get(f["package"], 0) + n
        total += n
        docs.append({"path": f["rel"], "package": f["package"], "text": text})
    return docs


if __name__ == "__main__":
    import collections
    d = collect(max_bytes=int(float(sys.argv[1]) * (1 << 20)) if len(sys.argv) > 1 else 4 << 20)
    c = collections.Counter(x["package"] for x in d)
    print(len(d), "files", sum(len(x["text"]) for x in d), "chars;", len(c), "packages; top:", c.most_common(10))
