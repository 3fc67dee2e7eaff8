#!/usr/bin/env python3
"""Add (or replace) the learned filter of a localleap archive (docs/decoding.md "Learned filter").

Copies ARCHIVE to --out (or rewrites it in place) with FILTER.json as its extra file
learned_filter.json, after validating it. The TorchScript records are copied byte for byte, so
the model itself is unchanged. --random writes a random-weight filter instead (test fixtures).
"""
import argparse
import os
import sys
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def add_filter(archive: str, text: str, out: str) -> None:
    from localleap.learned_filter import FILE_NAME, parse
    parse(text, FILE_NAME)  # ValueError saying what is wrong
    with zipfile.ZipFile(archive) as z:
        entries = [(info, z.read(info.filename)) for info in z.infolist()]
    metas = [info.filename for info, _ in entries if info.filename.endswith("/extra/localleap.json")]
    if len(metas) != 1:
        raise ValueError(f"{archive}: not a localleap archive (no extra/localleap.json)")
    prefix = metas[0][: -len("extra/localleap.json")]
    name = prefix + "extra/" + FILE_NAME
    tmp = out + ".tmp"
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as zout:
        for info, data in entries:
            if info.filename == name:
                continue
            zout.writestr(info, data)
        zout.writestr(zipfile.ZipInfo(name, date_time=entries[0][0].date_time), text.encode("utf-8"))
    os.replace(tmp, out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("archive", help="the localleap model.pt")
    ap.add_argument("filter", nargs="?", help="learned_filter.json (tools/train_filter.py writes one)")
    ap.add_argument("--out", help="archive to write (default: rewrite ARCHIVE in place)")
    ap.add_argument("--random", action="store_true", help="a random-weight filter instead of FILTER (tests)")
    ap.add_argument("--block-length", type=int, default=32, help="with --random: the filter's block length")
    ap.add_argument("--hidden", type=int, default=32, help="with --random: hidden units")
    ap.add_argument("--seed", type=int, default=0, help="with --random: the weights' seed")
    args = ap.parse_args(argv)
    try:
        if args.random == (args.filter is not None):
            raise ValueError("give FILTER or --random (one of them)")
        if args.random:
            from localleap.learned_filter import random_filter
            text = random_filter(args.block_length, args.hidden, args.seed, {
                "model": "none (random weights)", "date": "", "genLength": 0,
                "problems": {"source": "none", "split": "none", "count": 0, "ids": []}})
        else:
            with open(args.filter, encoding="utf-8") as f:
                text = f.read()
        add_filter(args.archive, text, args.out or args.archive)
    except (ValueError, OSError, zipfile.BadZipFile) as e:
        print(f"add_filter: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
