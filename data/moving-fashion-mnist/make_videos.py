#!/usr/bin/env python3
"""Moving Fashion-MNIST: short captioned videos of garments in motion, a video set for mmcl.

Each clip puts one Fashion-MNIST garment (sometimes two, side by side, moving together) on a black
canvas and moves it with one of twelve motion classes: left, right, up or down (slow or fast), rotating
clockwise or counterclockwise, zooming in or out. Training clips take their garments from Fashion-MNIST's
training split, test clips from its test split; the motion classes are balanced in both. The garments
are read from the IDX files of Debian's dataset-fashion-mnist package, the frames are drawn here
(bilinear sampling) and piped to the ffmpeg command, which encodes them as H.264. With --speech, espeak-ng
speaks the caption and ffmpeg adds it as an AAC track. Writes into --out:
  videos/train_00000.mp4 ...      the training clips: --size x --size, --frames frames at --fps, H.264 yuv420p
  videos/test_00000.mp4 ...       the test clips, made the same way (with --speech each clip also has
                                  an AAC mono 16 kHz track speaking its caption)
  train.csv, test.csv             filepath,label,title: the clip, its motion class, its caption
  classes.txt                     the twelve motion classes in label order

Captions name the garment(s) and the motion: "a sneaker moving left, fast", "a bag rotating clockwise",
"a coat and a pair of trousers moving up, slow". The same arguments give the same clips.

Needs the ffmpeg command (espeak-ng too for --speech). numpy, when it can be imported, draws the frames
faster; without it the same frames are drawn with the Python standard library alone.
"""
import argparse
import gzip
import math
import multiprocessing
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import wave

try:
    import numpy
except ImportError:
    numpy = None

SOURCE = "/usr/share/datasets/fashion-mnist"
GARMENTS = ["T-shirt/top", "trouser", "pullover", "dress", "coat",
            "sandal", "shirt", "sneaker", "bag", "ankle boot"]
# How a garment is named in a caption.
GARMENT_PHRASES = ["a T-shirt", "a pair of trousers", "a pullover", "a dress", "a coat",
                   "a sandal", "a shirt", "a sneaker", "a bag", "an ankle boot"]
SLOW, FAST = 0.5, 1.2    # pixels per frame
SPIN = 6.0               # degrees per frame
ZOOM = (0.6, 1.4)        # scale at the first and the last frame when zooming in
# Motion classes in label order: label, caption phrase, kind, parameters.
MOTIONS = [
    ("left slow", "moving left, slow", "move", (-1, 0, SLOW)),
    ("left fast", "moving left, fast", "move", (-1, 0, FAST)),
    ("right slow", "moving right, slow", "move", (1, 0, SLOW)),
    ("right fast", "moving right, fast", "move", (1, 0, FAST)),
    ("up slow", "moving up, slow", "move", (0, -1, SLOW)),
    ("up fast", "moving up, fast", "move", (0, -1, FAST)),
    ("down slow", "moving down, slow", "move", (0, 1, SLOW)),
    ("down fast", "moving down, fast", "move", (0, 1, FAST)),
    ("rotating clockwise", "rotating clockwise", "rotate", 1),
    ("rotating counterclockwise", "rotating counterclockwise", "rotate", -1),
    ("zooming in", "zooming in", "zoom", ZOOM),
    ("zooming out", "zooming out", "zoom", ZOOM[::-1]),
]
G = 28                   # Fashion-MNIST images are G x G
CENTRE = (G - 1) / 2     # the garment's centre in its own pixel coordinates
GOP = 16                 # frames between key frames
CLIP = re.compile(r"(train|test)_\d+\.mp4$")


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    dims = magic & 0xFF
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    return shape, data[4 + 4 * dims:]


def read_split(images_file, labels_file):
    (n, h, w), pixels = read_idx(os.path.join(SOURCE, images_file))
    (n_labels,), labels = read_idx(os.path.join(SOURCE, labels_file))
    assert n == n_labels and h == w == G
    return pixels, labels


def plan_clip(rng, motion, garments, size, frames):
    """Where each garment is in each frame: per garment, per frame (cx, cy, a, b) with (cx, cy) its centre
    on the canvas and a = cos(angle) / scale, b = sin(angle) / scale (angles clockwise on the screen)."""
    _, _, kind, param = MOTIONS[motion]
    half = size / 2
    pair = len(garments) == 2
    offset = G / 2 if pair else 0.0          # each garment of a pair sits this far from the pair's centre
    steps = frames - 1
    if kind == "move":
        dx, dy, speed = param
        # The path is centred on the canvas, up to a jitter, and keeps the garment's centre at least a tenth
        # of its width inside the edges: 60% of the garment or more stays in view (fast clips come that close).
        lo, hi = 0.1 * G, size - 0.1 * G
        speed = min(speed, (hi - lo) / steps)
        length = speed * steps
        along = half + rng.uniform(-1, 1) * max(0.5, min(8.0, (hi - lo - length) / 2))
        across = half + rng.uniform(-1, 1) * max(0.0, min(10.0, half - G / 2 - offset))
        start = along - length / 2
        path = [start + speed * t for t in range(frames)]
        if dx:
            centres = [(x if dx > 0 else 2 * along - x, across) for x in path]
            spread = (0.0, offset)               # a pair is stacked across the motion
        else:
            centres = [(across, y if dy > 0 else 2 * along - y) for y in path]
            spread = (offset, 0.0)
        turns = [(1.0, 0.0)] * frames
    else:
        jitter = min(4.0, size / 16)
        cx, cy = half + rng.uniform(-jitter, jitter), half + rng.uniform(-jitter, jitter)
        centres = [(cx, cy)] * frames
        spread = (offset, 0.0) if rng.random() < 0.5 else (0.0, offset)
        if kind == "rotate":
            start = math.radians(rng.uniform(-15.0, 15.0))
            angles = [start + param * math.radians(SPIN) * t for t in range(frames)]
            turns = [(math.cos(angle), math.sin(angle)) for angle in angles]
        else:
            s0, s1 = param
            scales = [s0 + (s1 - s0) * t / steps for t in range(frames)]
            turns = [(1.0 / s, 0.0) for s in scales]
    geometry = []
    for k in range(len(garments)):
        sign = -1 if (pair and k == 0) else 1
        ox, oy = sign * spread[0], sign * spread[1]
        geometry.append([(cx + ox, cy + oy, a, b) for (cx, cy), (a, b) in zip(centres, turns)])
    return geometry


def render_numpy(garments, geometry, size):
    frames = len(geometry[0])
    xs = numpy.arange(size, dtype=numpy.float64).reshape(1, 1, size)
    ys = numpy.arange(size, dtype=numpy.float64).reshape(1, size, 1)
    out = numpy.zeros((frames, size, size))
    for pixels, geo in zip(garments, geometry):
        pad = numpy.zeros((G + 2, G + 2))
        pad[1:-1, 1:-1] = numpy.frombuffer(pixels, numpy.uint8).reshape(G, G)
        geo = numpy.array(geo, dtype=numpy.float64).reshape(frames, 4, 1, 1)
        cx, cy, a, b = geo[:, 0], geo[:, 1], geo[:, 2], geo[:, 3]
        dx, dy = xs - cx, ys - cy
        u = (CENTRE + a * dx) + b * dy
        v = (CENTRE - b * dx) + a * dy
        u0, v0 = numpy.floor(u), numpy.floor(v)
        fu, fv = u - u0, v - v0
        inside = (u0 >= -1) & (u0 <= G - 1) & (v0 >= -1) & (v0 <= G - 1)
        iu = numpy.clip(u0, -1, G - 1).astype(numpy.intp) + 1
        iv = numpy.clip(v0, -1, G - 1).astype(numpy.intp) + 1
        top = pad[iv, iu] * (1.0 - fu) + pad[iv, iu + 1] * fu
        bottom = pad[iv + 1, iu] * (1.0 - fu) + pad[iv + 1, iu + 1] * fu
        value = top * (1.0 - fv) + bottom * fv
        numpy.maximum(out, numpy.where(inside, value, 0.0), out=out)
    grey = numpy.minimum(numpy.floor(out + 0.5), 255).astype(numpy.uint8)
    return numpy.repeat(grey[..., None], 3, axis=3).tobytes()


def render_python(garments, geometry, size):
    """The frames of render_numpy, computed with the same floating-point operations in the same order."""
    width = G + 2
    pads = []
    for pixels in garments:
        pad = [0.0] * (width * width)
        for y in range(G):
            pad[(y + 1) * width + 1:(y + 1) * width + 1 + G] = [float(p) for p in pixels[y * G:(y + 1) * G]]
        pads.append(pad)
    rgb = bytearray()
    for t in range(len(geometry[0])):
        out = [0.0] * (size * size)
        for pad, geo in zip(pads, geometry):
            cx, cy, a, b = geo[t]
            # Only pixels within this reach of the centre can sample the garment.
            reach = (CENTRE + 1) * math.sqrt(2) / math.hypot(a, b) + 2
            x_lo, x_hi = max(0, math.floor(cx - reach)), min(size - 1, math.ceil(cx + reach))
            y_lo, y_hi = max(0, math.floor(cy - reach)), min(size - 1, math.ceil(cy + reach))
            columns = []
            for x in range(x_lo, x_hi + 1):
                dx = x - cx
                columns.append((x, CENTRE + a * dx, CENTRE - b * dx))
            for y in range(y_lo, y_hi + 1):
                dy = y - cy
                bdy, ady = b * dy, a * dy
                row = y * size
                for x, au, bv in columns:
                    u, v = au + bdy, bv + ady
                    u0, v0 = math.floor(u), math.floor(v)
                    if u0 < -1 or u0 > G - 1 or v0 < -1 or v0 > G - 1:
                        continue
                    i = (v0 + 1) * width + u0 + 1
                    p00, p01, p10, p11 = pad[i], pad[i + 1], pad[i + width], pad[i + width + 1]
                    if not (p00 or p01 or p10 or p11):
                        continue
                    fu, fv = u - u0, v - v0
                    top = p00 * (1.0 - fu) + p01 * fu
                    bottom = p10 * (1.0 - fu) + p11 * fu
                    value = top * (1.0 - fv) + bottom * fv
                    if value > out[row + x]:
                        out[row + x] = value
        grey = bytes(min(255, int(value + 0.5)) for value in out)
        frame = bytearray(3 * len(grey))
        frame[0::3] = frame[1::3] = frame[2::3] = grey
        rgb += frame
    return bytes(rgb)


def wav_seconds(path):
    with wave.open(path, "rb") as w:
        return w.getnframes() / w.getframerate()


def make_clip(job):
    """Draws one clip and encodes it into job["path"]; returns the path."""
    size, frames, fps = job["size"], job["frames"], job["fps"]
    render = render_numpy if numpy is not None else render_python
    rgb = render(job["garments"], job["geometry"], size)
    duration = frames / fps
    part = job["path"] + ".part"
    cmd = ["ffmpeg", "-y", "-loglevel", "error",
           "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{size}x{size}", "-r", str(fps), "-i", "-"]
    wav = None
    try:
        if job["speech"]:
            fd, wav = tempfile.mkstemp(suffix=".wav")
            os.close(fd)
            spoken = subprocess.run(["espeak-ng", "-w", wav, job["caption"]], capture_output=True, text=True)
            if spoken.returncode != 0:
                raise RuntimeError(f"espeak-ng failed on {job['caption']!r}: {spoken.stderr.strip()}")
            # Speech longer than the clip is sped up to fit rather than cut off.
            seconds = wav_seconds(wav)
            fit = 0.95 * duration
            tempo = f"atempo={seconds / fit:.4f}," if seconds > fit else ""
            cmd += ["-i", wav, "-map", "0:v", "-map", "1:a",
                    "-c:a", "aac", "-b:a", "32k", "-ac", "1", "-ar", "16000", "-af", tempo + "apad",
                    "-t", f"{duration:.6f}"]
        else:
            cmd += ["-an"]
        cmd += ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", str(GOP), "-crf", "23", "-threads", "1",
                "-f", "mp4", part]
        encoded = subprocess.run(cmd, input=rgb, capture_output=True)
        if encoded.returncode != 0:
            raise RuntimeError(f"ffmpeg failed on {job['path']}: {encoded.stderr.decode(errors='replace').strip()}")
        os.replace(part, job["path"])
    finally:
        if wav is not None and os.path.exists(wav):
            os.remove(wav)
        if os.path.exists(part):
            os.remove(part)
    return job["path"]


def plan_split(split, count, pixels, labels, a):
    """The clips of one split: balanced over the motion classes, in a shuffled order."""
    rng = random.Random(f"moving-fashion-mnist:{a.seed}:{split}")
    motions = [i % len(MOTIONS) for i in range(count)]
    rng.shuffle(motions)
    n = len(labels)
    jobs = []
    for i, motion in enumerate(motions):
        picks = [rng.randrange(n)]
        if rng.random() < a.two_prob:
            second = rng.randrange(n)
            while labels[second] == labels[picks[0]]:
                second = rng.randrange(n)
            picks.append(second)
        garments = [pixels[j * G * G:(j + 1) * G * G] for j in picks]
        label, phrase = MOTIONS[motion][:2]
        caption = " and ".join(GARMENT_PHRASES[labels[j]] for j in picks) + " " + phrase
        name = f"videos/{split}_{i:05d}.mp4"
        jobs.append({"name": name, "path": os.path.join(a.out, name), "label": label, "caption": caption,
                     "garments": garments, "geometry": plan_clip(rng, motion, garments, a.size, a.frames),
                     "size": a.size, "frames": a.frames, "fps": a.fps, "speech": a.speech})
    return jobs


def csv_field(text):
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\n') else text


def read_manifest(path):
    """The file paths listed in a manifest written by this script, or None when it is missing or odd."""
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    if not lines or lines[0] != "filepath,label,title":
        return None
    return [line.split(",", 1)[0] for line in lines[1:]]


def complete(a):
    """Whether --out already holds a set of the requested size: manifests, classes and every video."""
    classes = os.path.join(a.out, "classes.txt")
    if not os.path.isfile(classes):
        return False
    with open(classes, encoding="utf-8") as f:
        if f.read().splitlines() != [m[0] for m in MOTIONS]:
            return False
    for split, count in (("train", a.train), ("test", a.test)):
        files = read_manifest(os.path.join(a.out, f"{split}.csv"))
        if files is None or len(files) != count:
            return False
        if not all(os.path.isfile(os.path.join(a.out, name)) for name in files):
            return False
    return True


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="datasets/moving-fashion-mnist", help="output folder")
    p.add_argument("--train", type=int, default=1200, help="training clips (garments from the training split)")
    p.add_argument("--test", type=int, default=360, help="test clips (garments from the test split)")
    p.add_argument("--size", type=int, default=64, help="frame width and height in pixels (even, at least 32)")
    p.add_argument("--frames", type=int, default=48, help="frames per clip")
    p.add_argument("--fps", type=int, default=16, help="frames per second")
    p.add_argument("--two-prob", type=float, default=0.3,
                   help="probability that a clip shows two garments (of different classes) moving together")
    p.add_argument("--speech", action="store_true",
                   help="add an audio track speaking the caption (espeak-ng; AAC mono 16 kHz)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="clips made in parallel")
    p.add_argument("--force", action="store_true",
                   help="remake the set even if --out already holds one of the requested size")
    a = p.parse_args()
    if a.train < 0 or a.test < 0:
        p.error("--train and --test must not be negative")
    if a.size < 32 or a.size % 2:
        p.error("--size must be even and at least 32")
    if a.frames < 2 or a.fps < 1:
        p.error("--frames must be at least 2 and --fps at least 1")
    if not 0 <= a.two_prob <= 1:
        p.error("--two-prob must be between 0 and 1")
    if shutil.which("ffmpeg") is None:
        sys.exit("ffmpeg not found: install ffmpeg: apt-get install ffmpeg")
    if a.speech and shutil.which("espeak-ng") is None:
        sys.exit("espeak-ng not found (needed by --speech): install espeak-ng: apt-get install espeak-ng")
    if not os.path.isdir(SOURCE):
        sys.exit(f"{SOURCE} not found: install Debian's dataset-fashion-mnist package (make setup does)")
    if not a.force and complete(a):
        print(f"{a.out}: already holds {a.train} training and {a.test} test clips (--force remakes them)")
        return

    start = time.monotonic()
    train = plan_split("train", a.train, *read_split("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"), a)
    test = plan_split("test", a.test, *read_split("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"), a)
    folder = os.path.join(a.out, "videos")
    os.makedirs(folder, exist_ok=True)
    # The manifests go first and come back last, so that a set cut short is never taken for complete.
    for name in ("train.csv", "test.csv"):
        if os.path.exists(os.path.join(a.out, name)):
            os.remove(os.path.join(a.out, name))
    wanted = {os.path.basename(job["path"]) for job in train + test}
    for name in os.listdir(folder):
        if (CLIP.match(name) and name not in wanted) or name.endswith(".part"):
            os.remove(os.path.join(folder, name))
    jobs = train + test
    try:
        if a.jobs <= 1:
            for job in jobs:
                make_clip(job)
        else:
            with multiprocessing.Pool(a.jobs) as pool:
                for _ in pool.imap_unordered(make_clip, jobs, chunksize=2):
                    pass
    except RuntimeError as e:
        sys.exit(str(e))

    for split, rows in (("train", train), ("test", test)):
        tmp = os.path.join(a.out, f"{split}.csv.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write("filepath,label,title\n")
            for job in rows:
                f.write(f"{job['name']},{csv_field(job['label'])},{csv_field(job['caption'])}\n")
        os.replace(tmp, os.path.join(a.out, f"{split}.csv"))
    with open(os.path.join(a.out, "classes.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(m[0] for m in MOTIONS) + "\n")
    seconds = time.monotonic() - start
    print(f"{a.out}: {len(train)} training and {len(test)} test clips, {a.size}x{a.size}, {a.frames} frames at "
          f"{a.fps} fps{', with speech' if a.speech else ''}, in {seconds:.0f} s "
          f"({a.jobs} job{'s' if a.jobs != 1 else ''}, frames drawn with {'numpy' if numpy is not None else 'pure Python'})")


if __name__ == "__main__":
    main()
