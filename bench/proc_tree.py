#!/usr/bin/env python3
"""Run a command and measure its whole process tree: wall time and peak memory summed over processes.

Every 100 ms the command's process and all its descendants (data-loader workers included) are read
from /proc: the sum of their resident set sizes (RSS, which counts pages that forked workers share
with their parent once per process) and of their proportional set sizes (PSS from smaps_rollup, which
splits shared pages between the processes that map them: the memory the tree really holds). The
peaks of both sums, the most processes seen at once and the wall time go to one JSON line on stdout
(or --json FILE); the command's own output goes to --log (default: this process's stderr).

    python3 bench/proc_tree.py --log run.log -- build/mmcl pretrain --config x.yaml

Linux only; only the standard library is used.
"""

import argparse
import json
import os
import subprocess
import sys
import time


def children_of():
    """pid -> parent pid for every process readable in /proc."""
    parents = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
            # the command name is in parentheses and may hold spaces: the fields after the last ')'
            parents[int(name)] = int(stat[stat.rindex(")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            pass
    return parents


def tree(root):
    parents = children_of()
    found, frontier = {root}, [root]
    while frontier:
        p = frontier.pop()
        for child, parent in parents.items():
            if parent == p and child not in found:
                found.add(child)
                frontier.append(child)
    return found


def memory_kib(pid):
    """(RSS, PSS) of one process in KiB, or None when it has gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line and not line.startswith(" "))
        rss = int(fields["Rss"].split()[0])
        pss = int(fields["Pss"].split()[0])
        return rss, pss
    except (OSError, KeyError, ValueError):
        return None


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--log", help="the command's stdout and stderr go here")
    p.add_argument("--json", help="write the JSON line here as well as to stdout")
    p.add_argument("--interval", type=float, default=0.1, help="seconds between samples")
    p.add_argument("command", nargs=argparse.REMAINDER)
    a = p.parse_args(argv)
    cmd = a.command[1:] if a.command[:1] == ["--"] else a.command
    if not cmd:
        p.error("no command")
    out = open(a.log, "w") if a.log else sys.stderr
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    peak_rss = peak_pss = 0
    most = 0
    while proc.poll() is None:
        pids = tree(proc.pid)
        mems = [m for m in (memory_kib(pid) for pid in pids) if m is not None]
        most = max(most, len(mems))
        peak_rss = max(peak_rss, sum(m[0] for m in mems))
        peak_pss = max(peak_pss, sum(m[1] for m in mems))
        time.sleep(a.interval)
    wall = time.perf_counter() - start
    result = {"command": cmd, "exit_code": proc.returncode, "wall_s": wall, "processes_max": most,
              "peak_rss_sum_mb": peak_rss / 1024, "peak_pss_sum_mb": peak_pss / 1024}
    line = json.dumps(result)
    print(line, flush=True)
    if a.json:
        with open(a.json, "a") as f:
            f.write(line + "\n")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
