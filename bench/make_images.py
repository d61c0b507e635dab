#!/usr/bin/env python3
"""Make a deterministic set of photo-like benchmark images.

Each output file is a crop of a real photograph, resized to the sizes typical
of web image-text data (long side 500..640 px, mostly 4:3), lightly jittered in
brightness and colour, randomly mirrored, and written as JPEG (quality 90 by
default) or PNG. The same --seed, --count and source photos give the same
files.

The default photo source is Debian's mate-backgrounds package, whose
/usr/share/backgrounds/mate/nature/ folder holds 12 camera photographs
(1280x1024 .. 2560x1920 JPEG). Install it with

    apt-get install -y mate-backgrounds

or pass --source DIR with any folder of .jpg/.jpeg/.png/.webp photos.

Only the standard library and Pillow are used.

    python3 bench/make_images.py --out datasets/bench/jpeg --count 2000
    python3 bench/make_images.py --out datasets/bench/png --count 2000 --format png
    python3 bench/make_images.py --out datasets/bench/jpeg10k --count 10000 --manifest datasets/bench/jpeg10k.csv

--manifest also writes an image-text manifest (comma-separated: filepath,title,label): each image's
label is the name of the photo it was cut from ("fresh flower" for FreshFlower.jpg, one class per
photo) and its caption a sentence about it ("a bright photo of a fresh flower"), as open_clip's
trainer (--dataset-type csv --csv-separator ,) and mmcl's manifest reader take them.
"""

import argparse
import hashlib
import io
import multiprocessing
import os
import random
import sys
import time
from pathlib import Path

try:
    from PIL import Image, ImageEnhance, ImageOps
    import PIL
except ImportError:  # pragma: no cover - depends on the machine
    sys.exit("make_images.py needs Pillow: apt-get install -y python3-pil "
             "(and run it with /usr/bin/python3)")

PHOTO_PACKAGE = "mate-backgrounds"
AUTO_SOURCES = ["/usr/share/backgrounds/mate/nature"]
PHOTO_EXTS = {".jpg", ".jpeg", ".png", ".webp"}

# Aspect ratios (width / height) and how often each is drawn: web photos are
# mostly 4:3 landscape, then 3:2, square, 16:9 and portrait.
ASPECTS = [(4 / 3, 45), (3 / 2, 20), (1.0, 10), (16 / 9, 10), (3 / 4, 10), (2 / 3, 5)]
LONG_SIDE = (500, 640)          # long side in pixels, drawn uniformly
JITTER = (0.85, 1.15)           # brightness / colour enhance factors
MIN_CROP_FRACTION = 0.3         # smallest crop, as a fraction of the largest fitting crop


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="output folder (created)")
    p.add_argument("--count", type=int, default=2000, help="number of images (default 2000)")
    p.add_argument("--source", default="auto",
                   help="folder of source photos, or 'auto' for "
                        f"{AUTO_SOURCES[0]} (Debian package {PHOTO_PACKAGE})")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--format", choices=["jpeg", "png"], default="jpeg",
                   help="output format (default jpeg)")
    p.add_argument("--quality", type=int, default=90, help="JPEG quality (default 90)")
    p.add_argument("--png-compress-level", type=int, default=6,
                   help="PNG zlib level 0..9 (default 6, Pillow's default)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                   help="processes making images (default: all cores); the files do "
                        "not depend on it")
    p.add_argument("--manifest", default=None,
                   help="also write an image-text manifest here (CSV: filepath,title,label)")
    p.add_argument("--list", default=None,
                   help="where to write the list of files, one path a line "
                        "(default OUT/files.txt)")
    a = p.parse_args(argv)
    if a.count < 1:
        p.error("--count must be at least 1")
    if a.jobs < 1:
        p.error("--jobs must be at least 1")
    return a


def find_sources(source):
    if source == "auto":
        for d in AUTO_SOURCES:
            if Path(d).is_dir():
                source = d
                break
        else:
            sys.exit("no source photos found in " + ", ".join(AUTO_SOURCES) +
                     f"\ninstall them with: apt-get install -y {PHOTO_PACKAGE}"
                     "\nor pass --source DIR (a folder of .jpg/.png photos)")
    d = Path(source)
    if not d.is_dir():
        sys.exit(f"--source {source}: not a folder")
    files = sorted(f for f in d.iterdir() if f.suffix.lower() in PHOTO_EXTS and f.is_file())
    if not files:
        sys.exit(f"--source {source}: no .jpg/.jpeg/.png/.webp files")
    return d, files


def load_photo(path):
    im = Image.open(path)
    im = ImageOps.exif_transpose(im)
    if im.mode != "RGB":
        im = im.convert("RGB")
    im.load()
    return im


def draw_size(rng):
    aspects, weights = zip(*ASPECTS)
    aspect = rng.choices(aspects, weights=weights)[0]
    long_side = rng.randint(*LONG_SIDE)
    if aspect >= 1:
        w, h = long_side, round(long_side / aspect)
    else:
        w, h = round(long_side * aspect), long_side
    return w, h


def make_one(photos, index, seed, attempt=0):
    """Image number `index`: depends only on (seed, index, attempt) and the photos."""
    rng = random.Random(f"{seed}:{index}:{attempt}")
    src_idx = rng.randrange(len(photos))
    src = photos[src_idx]
    w, h = draw_size(rng)
    sw, sh = src.size
    # Largest crop with the output's aspect ratio that fits the photo.
    aspect = w / h
    max_w, max_h = (sw, sw / aspect) if sw / sh <= aspect else (sh * aspect, sh)
    # Never upscale: the crop is at least the output size.
    lo = min(1.0, max(MIN_CROP_FRACTION, w / max_w, h / max_h))
    s = rng.uniform(lo, 1.0)
    cw, ch = max_w * s, max_h * s
    x0 = rng.uniform(0, sw - cw)
    y0 = rng.uniform(0, sh - ch)
    im = src.resize((w, h), Image.BICUBIC, box=(x0, y0, x0 + cw, y0 + ch),
                    reducing_gap=2.0)
    if rng.random() < 0.5:
        im = ImageOps.mirror(im)
    im = ImageEnhance.Brightness(im).enhance(rng.uniform(*JITTER))
    im = ImageEnhance.Color(im).enhance(rng.uniform(*JITTER))
    return im, src_idx


def encode(im, fmt, quality, png_level):
    buf = io.BytesIO()
    if fmt == "jpeg":
        im.save(buf, format="JPEG", quality=quality)
    else:
        im.save(buf, format="PNG", compress_level=png_level)
    return buf.getvalue()


_photos = None
_opts = None


def _init(photos, opts):
    global _photos, _opts
    _photos, _opts = photos, opts


def _make(job):
    """(index, attempt) -> (index, attempt, encoded bytes, size, source index)."""
    index, attempt = job
    seed, fmt, quality, png_level = _opts
    im, src_idx = make_one(_photos, index, seed, attempt)
    return index, attempt, encode(im, fmt, quality, png_level), im.size, src_idx


def main(argv=None):
    a = parse_args(argv)
    src_dir, src_files = find_sources(a.source)
    t0 = time.perf_counter()
    photos = [load_photo(f) for f in src_files]

    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    ext = ".jpg" if a.format == "jpeg" else ".png"
    width = max(6, len(str(a.count - 1)))
    names = [f"img_{i:0{width}d}{ext}" for i in range(a.count)]

    # Files of ours left over from an earlier run (bigger, or of the other
    # format) would be picked up by a directory glob: remove them (only names
    # of our own img_*.jpg / img_*.png pattern).
    wanted = set(names)
    stale = sorted(f for pat in ("img_*.jpg", "img_*.png") for f in out.glob(pat)
                   if f.name not in wanted)
    for f in stale:
        f.unlink()

    seen = set()
    total_bytes = 0
    ws, hs = [], []
    per_source = [0] * len(photos)
    redraws = 0
    paths = []
    sources = []
    opts = (a.seed, a.format, a.quality, a.png_compress_level)
    jobs = min(a.jobs, a.count)
    _init(photos, opts)  # this process makes the redraws
    if jobs > 1:
        # fork: the workers share the decoded photos with this process
        pool = multiprocessing.get_context("fork").Pool(jobs, _init, (photos, opts))
        results = pool.imap(_make, ((i, 0) for i in range(a.count)), chunksize=8)
    else:
        pool = None
        results = map(_make, ((i, 0) for i in range(a.count)))
    try:
        # in index order, so a duplicate is always redrawn for the later index
        for i, (index, attempt, data, size, src_idx) in enumerate(results):
            assert index == i
            digest = hashlib.sha1(data).digest()
            while digest in seen:
                attempt += 1
                redraws += 1
                _, _, data, size, src_idx = _make((i, attempt))
                digest = hashlib.sha1(data).digest()
            seen.add(digest)
            path = out / names[i]
            path.write_bytes(data)
            paths.append(str(path.resolve()))
            total_bytes += len(data)
            ws.append(size[0])
            hs.append(size[1])
            per_source[src_idx] += 1
            sources.append(src_idx)
    finally:
        if pool is not None:
            pool.close()
            pool.join()

    list_path = Path(a.list) if a.list else out / "files.txt"
    list_path.parent.mkdir(parents=True, exist_ok=True)
    list_path.write_text("\n".join(paths) + "\n")
    if a.manifest:
        write_manifest(Path(a.manifest), paths, [label_of(src_files[i]) for i in sources], a.seed)
    secs = time.perf_counter() - t0

    fmt = f"JPEG q{a.quality}" if a.format == "jpeg" else f"PNG level {a.png_compress_level}"
    print(f"made {a.count} distinct {fmt} files in {out} ({secs:.1f} s with {jobs} process(es), "
          f"seed {a.seed}, Pillow {PIL.__version__})")
    print(f"  sizes: width {min(ws)}..{max(ws)}, height {min(hs)}..{max(hs)}, "
          f"mean {sum(ws) / len(ws):.0f}x{sum(hs) / len(hs):.0f}")
    print(f"  bytes: total {total_bytes / 2**20:.1f} MiB, mean {total_bytes / a.count / 1024:.1f} KiB"
          f" per file")
    print(f"  from {len(photos)} photos in {src_dir}: " +
          ", ".join(f"{f.name} x{n}" for f, n in zip(src_files, per_source)))
    if redraws:
        print(f"  {redraws} duplicate draw(s) redrawn")
    if stale:
        print(f"  removed {len(stale)} stale img_* file(s) from an earlier run")
    print(f"  list: {list_path}")
    if a.manifest:
        print(f"  manifest: {a.manifest} (filepath,title,label; {len(set(sources))} labels)")


def label_of(photo):
    """The class name of a source photo: its file name's words in lower case (FreshFlower.jpg: fresh flower)."""
    words, word = [], ""
    for ch in photo.stem:
        if ch.isupper() and word:
            words.append(word)
            word = ""
        word += ch.lower() if ch.isalpha() else " "
    words.append(word)
    return " ".join(w.strip() for w in words if w.strip())


def write_manifest(path, paths, labels, seed):
    rng = random.Random(f"{seed}:captions")
    looks = ["bright", "dark", "close-up", "wide", "blurry", "sharp", "small", "large"]
    kinds = ["photo", "picture", "image", "snapshot"]
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        f.write("filepath,title,label\n")
        for p, label in zip(paths, labels):
            caption = f"a {rng.choice(looks)} {rng.choice(kinds)} of a {label}"
            f.write(f"{p},{caption},{label}\n")


if __name__ == "__main__":
    main()
