#!/usr/bin/env python3
"""Emoji as an image-text set for mmcl: train on one artist's drawings, evaluate on another's.

Reads the npm packages emoji-datasource-google (Noto Emoji, for training) and
emoji-datasource-twitter (Twemoji, held out) of the same version, straight from their .tgz files
(downloaded from the npm registry into --cache when missing). Takes the 64 px PNG of every emoji that both
artists draw, composites it onto a white background (mmcl reads images as RGB and would otherwise
show the colours hidden under transparent pixels), and writes into --out:
  google/*.png, twitter/*.png          the images, 64x64 RGB, named as in the packages
  train.jsonl  filepath,title          Google images, each with a list of captions (one is drawn per sample)
  train.csv    filepath,title          Google images, one of those captions each
  train_labels.csv filepath,label      Google images, category, for the linear probe
  train_subcategory_labels.csv         Google images, subcategory
  test.csv     filepath,label          Twitter images, category, for zero-shot and the linear probe
  test_subcategory.csv filepath,label  Twitter images, subcategory
  test_captions.csv filepath,title     Twitter images, the emoji's name, for retrieval
  classes.txt, subcategories.txt       the label names in mmcl's label order (sorted)
  emoji.csv                            one row per emoji: image, code points, name, labels, sort order

Labels are category and subcategory names made into phrases ("Smileys & Emotion" becomes "smileys
and emotion"), so zero-shot prompts read naturally without eval.classnames.

Only the Python standard library is used.
"""
import argparse
import collections
import concurrent.futures
import contextlib
import functools
import hashlib
import json
import os
import random
import re
import shutil
import struct
import sys
import tarfile
import urllib.request
import zlib

VERSION = "16.0.0"
REGISTRY = "https://registry.npmjs.org"
# SHA-256 of the .tgz files npm serves for the pinned version; other versions are not checked.
SHA256 = {
    ("google", "16.0.0"): "fb5fd131b362aab7a55542d2a147a79708cce0a8b1c1bbacd470172708b5c438",
    ("twitter", "16.0.0"): "f64a530c63bca463bd8317fdc4615ce63a53a0c65018e4ce2d848aaba7a28877",
}
TRAIN_ARTIST, TEST_ARTIST = "google", "twitter"
# "Component" holds the five bare skin-tone swatches: colour patches, not pictures of anything.
EXCLUDED_CATEGORIES = {"Component"}
# Subcategory names that the generic rule (hyphens to spaces, & to "and") leaves unclear.
SUBCATEGORY_PHRASES = {"alphanum": "letters and numbers", "av-symbol": "audio and video symbol"}
SKIN_TONES = {"1F3FB": "light", "1F3FC": "medium-light", "1F3FD": "medium", "1F3FE": "medium-dark",
              "1F3FF": "dark"}

# Captions vary the sentence around the emoji's name; some also name its category or subcategory,
# as alt-texts and emoji pickers do, which is what zero-shot classification by category relies on.
NAME_SENTENCES = ["{}", "an emoji of {}.", "a {} emoji.", "the {} emoji.", "an icon of {}.", "a picture of {}."]
ALIAS_SENTENCES = ["{}", "an emoji of {}."]
GROUP_SENTENCES = ["{name}, a {category} emoji.", "a {category} emoji: {name}.",
                   "{name}, an emoji of {subcategory}.", "{subcategory} emoji: {name}."]


# --- PNG -------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _masks(n):
    return int.from_bytes(b"\x7f" * n, "big"), int.from_bytes(b"\x80" * n, "big")


def _add_bytes(x, y, n):
    """Bytewise (x + y) mod 256 of two n-byte big-endian integers."""
    low, high = _masks(n)
    return ((x & low) + (y & low)) ^ ((x ^ y) & high)


def _unfilter(data, width_bytes, height, bpp):
    """Undoes PNG's per-row filters (Sub and Up as whole-row integer arithmetic, Average and Paeth bytewise)."""
    out = bytearray()
    prev = bytes(width_bytes)
    pos = 0
    for _ in range(height):
        kind = data[pos]
        row = data[pos + 1:pos + 1 + width_bytes]
        pos += 1 + width_bytes
        if kind == 0:
            pass
        elif kind == 1:  # Sub: a prefix sum with stride bpp, in log2(width) whole-row additions
            x = int.from_bytes(row, "big")
            shift = bpp
            while shift < width_bytes:
                x = _add_bytes(x, x >> (8 * shift), width_bytes)
                shift *= 2
            row = x.to_bytes(width_bytes, "big")
        elif kind == 2:  # Up
            row = _add_bytes(int.from_bytes(row, "big"), int.from_bytes(prev, "big"), width_bytes).to_bytes(width_bytes, "big")
        elif kind == 3:  # Average
            row = bytearray(row)
            for i in range(width_bytes):
                left = row[i - bpp] if i >= bpp else 0
                row[i] = (row[i] + ((left + prev[i]) >> 1)) & 255
        elif kind == 4:  # Paeth, one channel at a time so that the left neighbour is a loop variable
            out_row = bytearray(width_bytes)
            for ch in range(bpp):
                a = (row[ch] + prev[ch]) & 255
                values = [a]
                for x, b, c in zip(row[ch + bpp::bpp], prev[ch + bpp::bpp], prev[ch:width_bytes - bpp:bpp]):
                    pa, pb = b - c, a - c
                    pc = pa + pb
                    if pa < 0:
                        pa = -pa
                    if pb < 0:
                        pb = -pb
                    if pc < 0:
                        pc = -pc
                    a = (x + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
                    values.append(a)
                out_row[ch::bpp] = bytes(values)
            row = out_row
        else:
            raise ValueError(f"unknown PNG filter {kind}")
        out += row
        prev = row
    return bytes(out)


def _unpack_rows(pixels, width, height, depth):
    """Samples of less than 8 bits, one byte each."""
    per_byte = 8 // depth
    table = [bytes((b >> (8 - depth * (k + 1))) & ((1 << depth) - 1) for k in range(per_byte)) for b in range(256)]
    row_bytes = (width * depth + 7) // 8
    return b"".join(b"".join(map(table.__getitem__, pixels[y * row_bytes:(y + 1) * row_bytes]))[:width]
                    for y in range(height))


# BLEND[a][c]: channel value c at opacity a over white.
BLEND = [bytes((c * a + 255 * (255 - a) + 127) // 255 for c in range(256)) for a in range(256)]
OPAQUE = bytes(255 if a == 255 else 0 for a in range(256))
CLEAR = bytes(255 if a == 0 else 0 for a in range(256))
PARTIAL = bytes(0 if a in (0, 255) else 1 for a in range(256))


def _over_white(planes, alpha):
    """Channel planes composited onto white: opaque and clear pixels as whole-plane masks, the rest one by one."""
    n = len(alpha)
    opaque = int.from_bytes(alpha.translate(OPAQUE), "big")
    clear = int.from_bytes(alpha.translate(CLEAR), "big")
    partial = [m.start() for m in re.finditer(b"\x01", alpha.translate(PARTIAL))]
    out = []
    for c in planes:
        plane = bytearray(((int.from_bytes(c, "big") & opaque) | clear).to_bytes(n, "big"))
        for i in partial:
            plane[i] = BLEND[alpha[i]][c[i]]
        out.append(plane)
    return out


def png_to_rgb(data):
    """Decodes a PNG (8-bit, or palette/grey of fewer bits; not interlaced) to (width, height, RGB bytes)
    with any transparency composited onto white."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    pos, idat, palette, trns, header = 8, [], None, None, None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = body
        elif kind == b"PLTE":
            palette = body
        elif kind == b"tRNS":
            trns = body
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    if header is None or len(header) != 13:
        raise ValueError("no PNG header")
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}.get(colour)
    if channels is None or (colour == 3 and not palette):
        raise ValueError(f"unknown PNG colour type {colour} or no palette")
    if interlace or depth == 16 or (depth < 8 and colour not in (0, 3)):
        raise ValueError(f"unsupported PNG (bit depth {depth}, colour type {colour}, interlace {interlace})")
    width_bytes = (width * channels * depth + 7) // 8
    pixels = _unfilter(zlib.decompress(b"".join(idat)), width_bytes, height, max(1, channels * depth // 8))
    if depth < 8:
        pixels = _unpack_rows(pixels, width, height, depth)
        if colour == 0:
            pixels = pixels.translate(bytes(min(255, v * 255 // ((1 << depth) - 1)) for v in range(256)))
    n = width * height
    if colour == 3:
        entries = len(palette) // 3
        table = [bytes(palette[3 * min(i, entries - 1) + k] for i in range(256)) for k in range(3)]
        alpha = bytes((trns[i] if trns and i < len(trns) else 255) for i in range(256))
        planes = _over_white([pixels.translate(t) for t in table], pixels.translate(alpha))
    elif colour == 6:
        planes = _over_white([pixels[k::4] for k in range(3)], pixels[3::4])
    elif colour == 4:
        planes = _over_white([pixels[0::2]], pixels[1::2]) * 3
    elif colour == 2:
        planes = [pixels[k::3] for k in range(3)]
    else:
        planes = [pixels] * 3
    rgb = bytearray(3 * n)
    for k in range(3):
        rgb[k::3] = planes[k]
    return width, height, bytes(rgb)


def rgb_to_png(width, height, rgb):
    stride = 3 * width
    raw = b"".join(b"\x00" + rgb[y * stride:(y + 1) * stride] for y in range(height))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")


# --- source packages -------------------------------------------------------------------------------

def package_tgz(artist, version, cache, given):
    """Path of emoji-datasource-<artist>-<version>.tgz: the one given, else the cached one, else downloaded
    from the npm registry."""
    if given:
        if not os.path.isfile(given):
            sys.exit(f"{given}: not found")
        path = given
    else:
        path = os.path.join(cache, f"emoji-datasource-{artist}-{version}.tgz")
        if not os.path.isfile(path):
            url = f"{REGISTRY}/emoji-datasource-{artist}/-/emoji-datasource-{artist}-{version}.tgz"
            os.makedirs(cache, exist_ok=True)
            print(f"downloading {url} (into {cache})", flush=True)
            partial = path + ".part"
            try:
                with urllib.request.urlopen(url, timeout=60) as r, open(partial, "wb") as f:
                    shutil.copyfileobj(r, f, 1 << 20)
            except OSError as e:
                with contextlib.suppress(OSError):
                    os.remove(partial)
                sys.exit(f"cannot download {url}: {e}; download it by hand (or `npm pack "
                         f"emoji-datasource-{artist}@{version}`) and pass --{artist}-tgz")
            os.replace(partial, path)
    expected = SHA256.get((artist, version))
    if expected:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        if h.hexdigest() != expected:
            sys.exit(f"{path}: SHA-256 {h.hexdigest()}, expected {expected} for version {version}; "
                     f"delete it to download it again")
    return path


def read_package(path, artist):
    """emoji.json and the 64 px PNGs of one package."""
    folder = f"package/img/{artist}/64/"
    meta, images = None, {}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                if member.name == "package/emoji.json":
                    meta = json.load(tar.extractfile(member))
                elif member.name.startswith(folder):
                    images[member.name[len(folder):]] = tar.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
        sys.exit(f"{path}: unreadable ({e}); delete it to download it again")
    if meta is None:
        sys.exit(f"{path}: no package/emoji.json: not an emoji-datasource package")
    return meta, images


# --- names, captions, labels -----------------------------------------------------------------------

def phrase(text):
    """Lower case, '&' as 'and', typographic apostrophes plain."""
    return re.sub(r"\s+", " ", text.replace("&", " and ").replace("\u2019", "'")).strip().lower()


def category_phrase(category):
    return phrase(category)


def subcategory_phrase(subcategory):
    return SUBCATEGORY_PHRASES.get(subcategory) or phrase(subcategory.replace("-", " "))


def aliases(entry, name):
    """The short names that read as words (not codes like flag-va, clock1, u7121 or +1), as phrases."""
    out = []
    for short in entry.get("short_names") or [entry["short_name"]]:
        if short.startswith("flag-") or short.startswith("skin-tone"):
            continue
        if not (re.fullmatch(r"[a-z]+([_-][a-z]+)*", short) or short.isdigit()):
            continue
        words = phrase(short.replace("_", " ").replace("-", " "))
        if words != name and words not in out:
            out.append(words)
    return out


def skin_tone_phrase(key):
    tones = [SKIN_TONES[k] for k in key.split("-")]
    if len(set(tones)) == 1:  # two people of one tone: "light skin tone", as CLDR writes it
        tones = tones[:1]
    return ", ".join(f"{t} skin tone" for t in tones)


def collect(meta_train, meta_test, skin_tones):
    """The emoji both artists draw, in sort order, with names, captions and labels."""
    test_by_code = {e["unified"]: e for e in meta_test}
    entries = []
    for e in sorted(meta_train, key=lambda e: e["sort_order"]):
        t = test_by_code.get(e["unified"])
        if t is None or e["category"] in EXCLUDED_CATEGORIES:
            continue
        if e.get(f"has_img_{TRAIN_ARTIST}") and t.get(f"has_img_{TEST_ARTIST}"):
            entries.append({"entry": e, "image": e["image"], "unified": e["unified"], "tone": None})
        if skin_tones:
            test_tones = t.get("skin_variations") or {}
            for key, v in sorted((e.get("skin_variations") or {}).items()):
                tv = test_tones.get(key)
                if tv and v.get(f"has_img_{TRAIN_ARTIST}") and tv.get(f"has_img_{TEST_ARTIST}"):
                    entries.append({"entry": e, "image": v["image"], "unified": v["unified"], "tone": key})
    # Names: the Unicode name as a phrase; where two emoji share one ("man in tuxedo" for the person
    # and the man), the first short name tells them apart.
    counts = collections.Counter(phrase(r["entry"]["name"]) for r in entries if not r["tone"])
    for r in entries:
        e = r["entry"]
        name = phrase(e["name"])
        if counts[name] > 1:
            name = phrase(e["short_name"].replace("_", " ").replace("-", " "))
        alias = aliases(e, name)
        if r["tone"]:
            suffix = ": " + skin_tone_phrase(r["tone"])
            name, alias = name + suffix, [a + suffix for a in alias]
        r["name"] = name
        r["category"] = category_phrase(e["category"])
        r["subcategory"] = subcategory_phrase(e["subcategory"])
        r["captions"] = ([s.format(name) for s in NAME_SENTENCES] +
                         [s.format(a) for a in alias for s in ALIAS_SENTENCES] +
                         [s.format(name=name, category=r["category"], subcategory=r["subcategory"])
                          for s in GROUP_SENTENCES])
    return entries


# --- output ----------------------------------------------------------------------------------------

def csv_field(text):
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\n\r') else text


def write_text(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    os.replace(tmp, path)


def write_csv(path, header, rows):
    write_text(path, ",".join(header) + "\n" + "".join(",".join(csv_field(str(v)) for v in row) + "\n" for row in rows))


def convert(source, histogram=False):
    """A package PNG (name, bytes) as an RGB PNG on white, and (if asked) a histogram of each channel's values."""
    name, png = source
    try:
        w, h, rgb = png_to_rgb(png)
    except (ValueError, IndexError, zlib.error, struct.error) as e:
        raise ValueError(f"{name}: cannot decode: {e}") from None
    return rgb_to_png(w, h, rgb), [collections.Counter(rgb[k::3]) for k in range(3)] if histogram else None


def write_images(out, artist, entries, images, pool, histogram=False):
    """Writes each image composited onto white (leaving files that already hold the same bytes alone) and
    removes PNGs of earlier runs that are no longer listed. Returns the bytes written and, if asked, a
    histogram of each channel's values over all images."""
    folder = os.path.join(out, artist)
    os.makedirs(folder, exist_ok=True)
    sources = []
    for r in entries:
        if r["image"] not in images:
            sys.exit(f"{artist}/{r['image']}: listed in emoji.json but not in the package")
        sources.append((f"{artist}/{r['image']}", images[r["image"]]))
    try:
        work = functools.partial(convert, histogram=histogram)
        results = list(pool.map(work, sources, chunksize=32) if pool else map(work, sources))
    except ValueError as e:
        sys.exit(str(e))
    hist, total = [collections.Counter() for _ in range(3)], 0
    for r, (png, h) in zip(entries, results):
        path = os.path.join(folder, r["image"])
        try:
            with open(path, "rb") as f:
                same = f.read() == png
        except OSError:
            same = False
        if not same:
            with open(path, "wb") as f:
                f.write(png)
        total += len(png)
        if h:
            for k in range(3):
                hist[k].update(h[k])
    keep = {r["image"] for r in entries}
    for name in os.listdir(folder):
        if name.endswith(".png") and name not in keep:
            os.remove(os.path.join(folder, name))
    return total, hist


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="output folder (e.g. datasets/emoji)")
    p.add_argument("--cache", default=os.path.join(os.path.expanduser("~"), ".cache", "mmcl", "emoji"),
                   help="folder for the downloaded .tgz packages (default: ~/.cache/mmcl/emoji)")
    p.add_argument("--version", default=VERSION, help=f"emoji-datasource version, the same for both packages "
                                                      f"(default: {VERSION}; only it has known checksums)")
    p.add_argument("--google-tgz", help="an emoji-datasource-google .tgz already downloaded (skips the download)")
    p.add_argument("--twitter-tgz", help="an emoji-datasource-twitter .tgz already downloaded (skips the download)")
    p.add_argument("--skin-tones", action="store_true",
                   help="also take the skin-tone variants (about twice the images, nearly all People & Body)")
    p.add_argument("--retrieval", type=int, default=0,
                   help="Twitter images in test_captions.csv, the first in Unicode's order (0: all)")
    p.add_argument("--seed", type=int, default=0, help="picks the one caption per image in train.csv")
    p.add_argument("--jobs", type=int, default=0, help="processes decoding images (0: one per core)")
    a = p.parse_args()

    train_tgz = package_tgz(TRAIN_ARTIST, a.version, a.cache, a.google_tgz)
    test_tgz = package_tgz(TEST_ARTIST, a.version, a.cache, a.twitter_tgz)
    meta_train, train_images = read_package(train_tgz, TRAIN_ARTIST)
    meta_test, test_images = read_package(test_tgz, TEST_ARTIST)
    entries = collect(meta_train, meta_test, a.skin_tones)

    os.makedirs(a.out, exist_ok=True)
    jobs = a.jobs or os.cpu_count() or 1
    with concurrent.futures.ProcessPoolExecutor(jobs) if jobs > 1 else contextlib.nullcontext() as pool:
        train_bytes, hist = write_images(a.out, TRAIN_ARTIST, entries, train_images, pool, histogram=True)
        test_bytes, _ = write_images(a.out, TEST_ARTIST, entries, test_images, pool)

    train_path = lambda r: f"{TRAIN_ARTIST}/{r['image']}"
    test_path = lambda r: f"{TEST_ARTIST}/{r['image']}"
    rng = random.Random(a.seed)
    write_text(os.path.join(a.out, "train.jsonl"), "".join(
        json.dumps({"filepath": train_path(r), "title": r["captions"]}, ensure_ascii=False) + "\n" for r in entries))
    write_csv(os.path.join(a.out, "train.csv"), ["filepath", "title"],
              [(train_path(r), rng.choice(r["captions"])) for r in entries])
    write_csv(os.path.join(a.out, "train_labels.csv"), ["filepath", "label"],
              [(train_path(r), r["category"]) for r in entries])
    write_csv(os.path.join(a.out, "train_subcategory_labels.csv"), ["filepath", "label"],
              [(train_path(r), r["subcategory"]) for r in entries])
    write_csv(os.path.join(a.out, "test.csv"), ["filepath", "label"],
              [(test_path(r), r["category"]) for r in entries])
    write_csv(os.path.join(a.out, "test_subcategory.csv"), ["filepath", "label"],
              [(test_path(r), r["subcategory"]) for r in entries])
    retrieval = entries if a.retrieval <= 0 else entries[:a.retrieval]
    write_csv(os.path.join(a.out, "test_captions.csv"), ["filepath", "title"],
              [(test_path(r), r["name"]) for r in retrieval])
    write_csv(os.path.join(a.out, "emoji.csv"), ["image", "unified", "name", "category", "subcategory", "sort_order"],
              [(r["image"], r["unified"], r["name"], r["category"], r["subcategory"], r["entry"]["sort_order"])
               for r in entries])
    # mmcl numbers label names in sorted (byte) order; Python's code-point order on str is the same.
    categories = sorted({r["category"] for r in entries})
    subcategories = sorted({r["subcategory"] for r in entries})
    write_text(os.path.join(a.out, "classes.txt"), "\n".join(categories) + "\n")
    write_text(os.path.join(a.out, "subcategories.txt"), "\n".join(subcategories) + "\n")

    mean, std = [], []
    for h in hist:
        n = sum(h.values())
        mean.append(sum(v * c for v, c in h.items()) / (255 * n))
        std.append(max(0.0, sum(v * v * c for v, c in h.items()) / (255 * 255 * n) - mean[-1] ** 2) ** 0.5)
    print(f"{a.out}: emoji-datasource {a.version}, {len(entries)} emoji drawn by both artists"
          f"{' (skin tones included)' if a.skin_tones else ''}")
    print(f"  {TRAIN_ARTIST}/: {len(entries)} training images ({train_bytes / 1e6:.1f} MB), "
          f"{sum(len(r['captions']) for r in entries)} captions")
    print(f"  {TEST_ARTIST}/: {len(entries)} test images ({test_bytes / 1e6:.1f} MB), "
          f"{len(retrieval)} in test_captions.csv")
    print(f"  {len(categories)} categories, {len(subcategories)} subcategories")
    print(f"  training images: mean [{', '.join(f'{m:.3f}' for m in mean)}], "
          f"std [{', '.join(f'{s:.3f}' for s in std)}]")


if __name__ == "__main__":
    main()
