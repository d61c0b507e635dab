#!/usr/bin/env python3
"""Where a training step's time goes, per operator family, for each side of a speed comparison.

Reads JSON lines with a "profile" object, as `mmcl bench train --profile --json` and
`bench/torch_clip_loop.py --profile` print them (per step: each operator's self time, the operators it
calls left out; ops inside an optimizer step named "Optimizer.step/<op>"), groups the operators into
families and prints a Markdown table of milliseconds per step and shares of the step, one column pair
per labelled input.

    python3 bench/op_profile.py --part train open_clip=oc.json mmcl=mmcl.json
    python3 bench/op_profile.py --part inference before=old.json after=new.json
    python3 bench/op_profile.py --where preset_name=clip-vit-s32 --where precision=fp32 \
        open_clip=train_speed.jsonl#openclip mmcl=train_speed.jsonl#mmcl

A file may hold several lines (rounds): each operator's self time is the median over them. FILE#SIDE
keeps the lines whose "side" is SIDE; --where KEY=VALUE keeps the lines whose KEY is VALUE.
Only the standard library is used.
"""

import argparse
import json
import statistics
import sys

# (family, test on the operator name), first match wins.
FAMILIES = [
    ("optimizer step", lambda n: n.startswith("Optimizer.step")),
    ("matrix products", lambda n: n in {"aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm", "aten::addmv",
                                        "aten::matmul", "aten::linear", "aten::dot", "aten::mv"}),
    ("attention kernels", lambda n: "scaled_dot_product" in n or "flash_attention" in n
                                    or n in {"aten::_softmax", "aten::softmax", "aten::_softmax_backward_data"}),
    ("convolution", lambda n: "convolution" in n),
    ("layer norm", lambda n: "layer_norm" in n),
    ("GELU", lambda n: "gelu" in n or "sigmoid" in n),
    ("loss (log-softmax, NLL)", lambda n: "log_softmax" in n or "nll_loss" in n or "cross_entropy" in n),
    ("embedding lookup", lambda n: "embedding" in n or "index_select" in n),
    ("copies, fills, allocation", lambda n: n in {
        "aten::copy_", "aten::_to_copy", "aten::to", "aten::contiguous", "aten::clone", "aten::cat", "aten::stack",
        "aten::fill_", "aten::zero_", "aten::zeros", "aten::zeros_like", "aten::empty", "aten::empty_like",
        "aten::empty_strided", "aten::ones", "aten::ones_like", "aten::full", "aten::new_zeros", "aten::new_empty",
        "aten::new_empty_strided", "aten::resize_", "aten::detach", "aten::detach_", "detach", "aten::lift_fresh"}),
    ("views (no data moved)", lambda n: n in {
        "aten::view", "aten::reshape", "aten::_reshape_alias", "aten::_unsafe_view", "aten::permute", "aten::transpose",
        "aten::t", "aten::expand", "aten::as_strided", "aten::select", "aten::slice", "aten::unsqueeze",
        "aten::squeeze", "aten::unbind", "aten::split", "aten::narrow", "aten::flatten", "aten::unflatten",
        "aten::chunk", "aten::alias", "aten::numpy_T", "aten::expand_as", "aten::view_as", "aten::result_type"}),
    ("autograd bookkeeping", lambda n: n.startswith("autograd::") or "Backward" in n or n.startswith("torch::autograd")),
    ("element-wise and reductions", lambda n: n.startswith("aten::")),
    ("other", lambda n: True),
]


def family(name):
    return next(f for f, test in FAMILIES if test(name))


def load(spec, part, where):
    path, _, side = spec.partition("#")
    runs = []
    for line in open(path):
        line = line.strip()
        if not line.startswith("{"):
            continue
        r = json.loads(line)
        if "profile" not in r or (side and r.get("side") != side):
            continue
        if any(str(r.get(k)) != v for k, v in where):
            continue
        runs.append(r["profile"][part])
    if not runs:
        sys.exit(f"op_profile.py: {spec} has no line with a profile" + (f" where {where}" if where else ""))
    names = {o["op"] for run in runs for o in run["ops"]}
    per_op = {}
    for n in names:
        per_op[n] = statistics.median(next((o["self_s"] for o in run["ops"] if o["op"] == n), 0.0) for run in runs)
    step = statistics.median(run["step_s"] for run in runs)
    return step, per_op


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--part", choices=["train", "inference"], default="train")
    p.add_argument("--top", type=int, default=0, help="also list each side's N operators with the most self time")
    p.add_argument("--where", action="append", default=[], metavar="KEY=VALUE",
                   help="keep only the lines whose KEY is VALUE (repeatable)")
    p.add_argument("inputs", nargs="+", metavar="LABEL=FILE[#SIDE]")
    a = p.parse_args(argv)
    where = [tuple(w.split("=", 1)) for w in a.where]
    sides = []
    for item in a.inputs:
        label, _, path = item.partition("=")
        if not path:
            sys.exit(f"op_profile.py: {item}: expected LABEL=FILE")
        sides.append((label, *load(path, a.part, where)))
    fams = {}
    for label, _, per_op in sides:
        for n, s in per_op.items():
            fams.setdefault(family(n), {}).setdefault(label, 0.0)
            fams[family(n)][label] += s
    order = [f for f, _ in FAMILIES if f in fams]
    head = " | ".join(f"{label} ms/step | {label} share" for label, _, _ in sides)
    print(f"| operator family ({a.part}) | {head} |")
    print("|---|" + "---:|---:|" * len(sides))
    for f in order:
        cells = []
        for label, step, _ in sides:
            s = fams[f].get(label, 0.0)
            cells.append(f"{1000 * s:.1f} | {100 * s / step:.1f}%")
        print(f"| {f} | " + " | ".join(cells) + " |")
    totals = " | ".join(f"{1000 * sum(per_op.values()):.1f} | {100 * sum(per_op.values()) / step:.1f}%"
                        for _, step, per_op in sides)
    print(f"| all operators (self time) | {totals} |")
    print("| step wall time, profiled | " + " | ".join(f"{1000 * step:.1f} | 100%" for _, step, _ in sides) + " |")
    if a.top:
        for label, step, per_op in sides:
            print(f"\n{label}: the {a.top} operators with the most self time per step")
            for n, s in sorted(per_op.items(), key=lambda kv: -kv[1])[:a.top]:
                print(f"  {1000 * s:8.2f} ms  {100 * s / step:5.1f}%  {n}")


if __name__ == "__main__":
    main()
