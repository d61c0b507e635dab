#!/usr/bin/env python3
"""Reference video-clip decode throughput: PyAV (FFmpeg), one clip at a time.

Clip i reads files[i % len(files)] from a start time drawn, in clip order, from
random.Random(seed) uniformly in [0, duration - T*S/fps] (seconds from the
stream's first timestamp). Per clip: av.open, seek to the key frame at or
before the start, decode forward, drop frames before the start, keep frames
0, S, 2S, ... of the rest up to T, each scaled by swscale bilinear to RGB24 with
the shorter side SIZE and the other round(long * SIZE / short); stack to
[T, H, W, 3] uint8, then float32 / 255 as a contiguous [T, 3, H, W] array. A
file that ends early repeats its last frame. Prints ONE line of JSON on stdout.

    /usr/bin/python3 bench/pyav_clips.py --files /work/shared/data/video --threads 2
"""

import argparse
import json
import math
import random
import resource
import sys
import time
from pathlib import Path

try:
    import av
    import numpy as np
except ImportError as e:  # pragma: no cover - depends on the machine
    sys.exit(f"pyav_clips.py: {e}\nneeds: apt-get install -y python3-av python3-numpy "
             "(and run it with /usr/bin/python3)")

VIDEO_EXTS = {".mp4", ".avi", ".mkv", ".webm"}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--files", required=True,
                   help="a text file with one video path a line (relative paths are "
                        "taken from the list file's folder), or a folder whose "
                        f"{'/'.join(sorted(VIDEO_EXTS))} files are used, sorted")
    p.add_argument("--clips", type=int, default=200, help="timed clips in total (default 200)")
    p.add_argument("--frames", type=int, default=16, help="frames kept per clip, T (default 16)")
    p.add_argument("--stride", type=int, default=2, help="keep every S-th decoded frame (default 2)")
    p.add_argument("--size", type=int, default=112, help="output shorter side (default 112)")
    p.add_argument("--seed", type=int, default=0, help="start-time seed (default 0)")
    p.add_argument("--threads", type=int, default=1, help="decoder threads (default 1)")
    p.add_argument("--warmup", type=int, default=5, help="untimed first clips (default 5)")
    a = p.parse_args(argv)
    if min(a.clips, a.frames, a.stride, a.size, a.threads) < 1 or a.warmup < 0:
        p.error("--clips/--frames/--stride/--size/--threads >= 1, --warmup >= 0")
    return a


def list_files(spec):
    p = Path(spec)
    if p.is_dir():
        files = sorted(str(f) for f in p.iterdir()
                       if f.is_file() and f.suffix.lower() in VIDEO_EXTS)
    elif p.is_file():
        lines = (x.strip() for x in p.read_text().splitlines())
        files = [str(p.parent / x) for x in lines if x and not x.startswith("#")]
    else:
        sys.exit(f"--files {spec}: no such file or folder")
    return files or sys.exit(f"--files {spec}: no videos")


def probe(path, span):  # latest start (s) a clip of `span` frames may have here
    with av.open(path) as c:
        s = c.streams.video[0]
        dur = float(s.duration * s.time_base) if s.duration else (c.duration or 0) / av.time_base
        fps = s.average_rate or s.base_rate
        if not dur or not fps:
            sys.exit(f"{path}: no duration or frame rate")
        return max(0.0, dur - span / float(fps))


def out_size(w, h, short):
    # nearest, halves away from zero (std::llround, as mmcl's scaled_size)
    return (short, math.floor(h * short / w + 0.5)) if w <= h else \
        (math.floor(w * short / h + 0.5), short)


class BestEffort:
    """AVFrame.best_effort_timestamp (libavcodec's guess_correct_pts), which PyAV 10
    does not expose: the frame's pts, or its packet's dts once pts went backwards
    more often than dts did."""

    def __init__(self):
        self.bad_pts = self.bad_dts = 0
        self.last_pts = self.last_dts = None

    def __call__(self, pts, dts):
        if dts is not None:
            self.bad_dts += self.last_dts is not None and dts <= self.last_dts
        self.last_dts = dts if dts is not None else pts if pts is not None else self.last_dts
        if pts is not None:
            self.bad_pts += self.last_pts is not None and pts <= self.last_pts
        self.last_pts = pts if pts is not None else dts if dts is not None else self.last_pts
        return pts if pts is not None and (dts is None or self.bad_pts <= self.bad_dts) else dts


def decode_clip(path, start, a):
    """Returns (float32 [T, 3, H, W] array, padded?)."""
    with av.open(path) as c:
        c.gen_pts = False  # PyAV sets AVFMT_FLAG_GENPTS; plain libavformat does not
        s = c.streams.video[0]
        if a.threads > 1:
            s.thread_type = "AUTO"
        s.codec_context.thread_count = a.threads
        tb, origin = s.time_base, s.start_time or 0
        W, H = out_size(s.width, s.height, a.size)
        c.seek(origin + int(start / tb), stream=s, backward=True, any_frame=False)
        when = BestEffort()
        kept, seen = [], 0
        for f in c.decode(s):
            ts = when(f.pts, f.dts)
            if ts is not None and float((ts - origin) * tb) < start - 1e-6:
                continue
            if seen % a.stride == 0:
                kept.append(f.reformat(width=W, height=H, format="rgb24",
                                       interpolation="BILINEAR").to_ndarray())
                if len(kept) == a.frames:  # the rest of the T*S span is never shown
                    break
            seen += 1
    if not kept:
        sys.exit(f"{path}: no frames at or after {start:.3f}s")
    short = len(kept) < a.frames
    kept += [kept[-1]] * (a.frames - len(kept))
    x = np.stack(kept).astype(np.float32) / np.float32(255)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2)), short


def run(a):
    files = list_files(a.files)
    span = a.frames * a.stride
    max_start = [probe(f, span) for f in files]
    rng = random.Random(a.seed)
    clips = [(files[i % len(files)], rng.uniform(0.0, max_start[i % len(files)]))
             for i in range(a.clips)]

    for i in range(a.warmup):
        decode_clip(*clips[i % len(clips)], a)
    checksum, short_clips = 0.0, 0
    t0 = time.perf_counter()
    for path, start in clips:
        x, short = decode_clip(path, start, a)
        checksum += float(x.mean(dtype=np.float64))
        short_clips += short
    seconds = time.perf_counter() - t0

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"side": "pyav", "pyav": av.__version__,
            "clips_per_s": round(a.clips / seconds, 2),
            "frames_per_s": round(a.clips * a.frames / seconds, 1),
            "seconds": round(seconds, 3), "clips": a.clips, "files": len(files),
            "frames": a.frames, "stride": a.stride, "size": a.size, "threads": a.threads,
            "short_clips": short_clips, "checksum": round(checksum, 6),
            "peak_rss_mb": round(rss, 1)}

if __name__ == "__main__":
    print(json.dumps(run(parse_args())), flush=True)
