#!/usr/bin/env python3
"""Markdown tables (mean ± standard deviation over seeds) from bench/reproduce_fdt.sh's results.jsonl."""
import collections
import json
import statistics
import sys

NAMES = {"clip": "CLIP", "fdt": "CLIP+FDT (τ 1000)", "fdt-t30": "CLIP+FDT (τ 30)"}


def cell(values, scale=100.0, digits=1):
    values = [v * scale for v in values]
    mean = statistics.mean(values)
    if len(values) < 2:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def main(path):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    groups = collections.OrderedDict()
    for r in rows:
        groups.setdefault(r["dataset"], collections.OrderedDict()).setdefault(r["variant"], []).append(r)
    for dataset, variants in groups.items():
        print(f"\n#### {dataset}\n")
        print("| model | seeds | zero-shot top-1 | I→T R@1 | R@5 | R@10 | T→I R@1 | R@5 | R@10 | rsum |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for variant, rs in variants.items():
            cols = [cell([r["zeroshot_top1"] for r in rs])]
            for side in ("i2t", "t2i"):
                cols += [cell([r[side][k] for r in rs]) for k in ("R@1", "R@5", "R@10")]
            cols.append(cell([r["rsum"] for r in rs], scale=1.0))
            used = ", ".join(str(r["seed"]) for r in sorted(rs, key=lambda r: r["seed"]))
            print(f"| {NAMES.get(variant, variant)} | {used} | " + " | ".join(cols) + " |")
        print("\n| model | step time (ms) | peak memory (MiB) | non-zero weights per image | per caption |")
        print("|---|---|---|---|---|")
        for variant, rs in variants.items():
            sparse = [cell([r[k] for r in rs], scale=1.0) if k in rs[0] else "–" for k in ("nonzero_image", "nonzero_caption")]
            print(f"| {NAMES.get(variant, variant)} | {cell([r['step_ms'] for r in rs], scale=1.0, digits=0)} | "
                  f"{cell([r['peak_rss_mib'] for r in rs], scale=1.0, digits=0)} | {sparse[0]} | {sparse[1]} |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "datasets/reproduce-fdt/results.jsonl")
