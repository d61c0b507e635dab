#!/usr/bin/env python3
"""Manifests for the Free Spoken Digit Dataset (FSDD): audio classification with the digit as the class.

FSDD's recordings are named {digit}_{speaker}_{index}.wav (8 kHz mono WAV). The usual split, as in the
dataset's own README: recordings with index 0-4 of every speaker and digit are the test set, the rest
the training set. Writes train.csv and test.csv (filepath,label; paths relative to --out) and
classes.txt. Nothing is downloaded: point --recordings at FSDD's recordings/ folder (a clone of
https://github.com/Jakobovski/free-spoken-digit-dataset).

    python3 data/fsdd/make_manifests.py --recordings PATH/free-spoken-digit-dataset/recordings \
        --out datasets/fsdd
"""

import argparse
import csv
import os
import re
import sys
from pathlib import Path

NAME = re.compile(r"^(\d)_([A-Za-z]+)_(\d+)\.wav$")
DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--recordings", required=True, help="FSDD's recordings/ folder")
    p.add_argument("--out", default="datasets/fsdd", help="where the manifests go (default datasets/fsdd)")
    p.add_argument("--test-below", type=int, default=5, help="recordings with a smaller index are test (default 5)")
    a = p.parse_args(argv)
    rec = Path(a.recordings)
    if not rec.is_dir():
        sys.exit(f"--recordings {rec}: no such folder")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = {"train": [], "test": []}
    ignored = 0
    for f in sorted(rec.iterdir()):
        m = NAME.match(f.name)
        if not m:
            ignored += 1
            continue
        digit, _, index = int(m.group(1)), m.group(2), int(m.group(3))
        split = "test" if index < a.test_below else "train"
        rows[split].append((os.path.relpath(f.resolve(), out.resolve()), DIGITS[digit]))
    if not rows["train"] or not rows["test"]:
        sys.exit(f"{rec}: no {{digit}}_{{speaker}}_{{index}}.wav recordings for both splits")
    for split, items in rows.items():
        with open(out / f"{split}.csv", "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["filepath", "label"])
            w.writerows(items)
    (out / "classes.txt").write_text("\n".join(DIGITS) + "\n")
    print(f"{out}: {len(rows['train'])} training and {len(rows['test'])} test recordings"
          + (f" ({ignored} other files ignored)" if ignored else ""))


if __name__ == "__main__":
    main()
