#!/usr/bin/python3
"""Emoji as an image-text set for mmcl: train on one design's drawings, evaluate on another's.

Renders every emoji that two fonts from Debian 12 packages both draw: Google's Noto Color Emoji
(fonts-noto-color-emoji, colour bitmaps, for training) and George Douros's Symbola (fonts-symbola,
black outlines, held out). Names, categories and subcategories come from Unicode's emoji-test.txt and
UnicodeData.txt (unicode-data). Needs Pillow (python3-pil: run it with Debian's /usr/bin/python3).
Each emoji is drawn onto white (mmcl reads images as RGB) and scaled into 64x64; writes into --out:
  noto/*.png, symbola/*.png            the images, 64x64 RGB, named after the code points (1f600.png)
  train.jsonl  filepath,title          Noto images, each with a list of captions (one is drawn per sample)
  train.csv    filepath,title          Noto images, one of those captions each
  train_labels.csv filepath,label      Noto images, category, for the linear probe
  train_subcategory_labels.csv         Noto images, subcategory
  test.csv     filepath,label          Symbola images, category, for zero-shot and the linear probe
  test_subcategory.csv filepath,label  Symbola images, subcategory
  test_captions.csv filepath,title     Symbola images, the emoji's name, for retrieval
  classes.txt, subcategories.txt       the label names in mmcl's label order (sorted)
  emoji.csv                            one row per emoji: image, code points, name, labels, sort order

An emoji is kept when both fonts draw it as one glyph (a single code point in the font's character map,
or a sequence that the font's GSUB table ligates into one glyph; U+FE0F, which only asks for the emoji
presentation, is left out first, as Noto's ligatures are made without it) and neither drawing is blank.
Symbola has no emoji ligatures, so ZWJ sequences, flags of countries, keycaps and skin tones drop out.

Labels are category and subcategory names made into phrases ("Smileys & Emotion" becomes "smileys
and emotion"), so zero-shot prompts read naturally without eval.classnames.
"""
import argparse
import collections
import io
import json
import os
import random
import re
import struct
import sys
import time

NOTO_FONT = "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"           # fonts-noto-color-emoji
SYMBOLA_FONT = "/usr/share/fonts/truetype/ancient-scripts/Symbola_hint.ttf"  # fonts-symbola
EMOJI_TEST = "/usr/share/unicode/emoji/emoji-test.txt"                     # unicode-data
UNICODE_DATA = "/usr/share/unicode/UnicodeData.txt"                        # unicode-data
TRAIN_SET, TEST_SET = "noto", "symbola"
# Folders of the earlier npm-based version of this script; their PNGs are removed from --out.
OLD_FOLDERS = ("google", "twitter")

SIZE = 64
NOTO_PX = 109      # the only size of Noto Color Emoji's bitmaps (136x128 px each)
SYMBOLA_PX = 96    # Symbola is drawn this large, then scaled down ...
SYMBOLA_EM = 60    # ... by SYMBOLA_EM / SYMBOLA_PX, so that glyphs keep their relative sizes,
SYMBOLA_BOX = 56   # and further where a glyph would exceed SYMBOLA_BOX px (a 4 px margin)

# emoji-test.txt's group "Component" holds the skin-tone and hair swatches; they are listed with status
# "component", so taking fully-qualified emoji alone leaves them out already.
EXCLUDED_CATEGORIES = {"Component"}
# Subcategory names that the generic rule (hyphens to spaces, & to "and") leaves unclear.
SUBCATEGORY_PHRASES = {"alphanum": "letters and numbers", "av-symbol": "audio and video symbol"}
SKIN_TONES = range(0x1F3FB, 0x1F400)
VS16 = 0xFE0F

# Captions vary the sentence around the emoji's name; some also name its category or subcategory,
# as alt-texts and emoji pickers do, which is what zero-shot classification by category relies on.
NAME_SENTENCES = ["{}", "an emoji of {}.", "a {} emoji.", "the {} emoji.", "an icon of {}.", "a picture of {}."]
ALIAS_SENTENCES = ["{}", "an emoji of {}."]
GROUP_SENTENCES = ["{name}, a {category} emoji.", "a {category} emoji: {name}.",
                   "{name}, an emoji of {subcategory}.", "{subcategory} emoji: {name}."]


# --- fonts: which emoji a font draws as one glyph ---------------------------------------------------

def _u16(b, o):
    return struct.unpack_from(">H", b, o)[0]


def _u32(b, o):
    return struct.unpack_from(">I", b, o)[0]


def sfnt_tables(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] not in (b"\x00\x01\x00\x00", b"true", b"OTTO"):
        sys.exit(f"{path}: not a TrueType/OpenType font")
    tables = {}
    for i in range(_u16(data, 4)):
        tag, _, offset, length = struct.unpack_from(">4sIII", data, 12 + 16 * i)
        tables[tag.decode("latin-1")] = data[offset:offset + length]
    return tables


def character_map(cmap):
    """Code point -> glyph id from the Windows Unicode subtables (format 12, full range; format 4, BMP)."""
    offsets = {}
    for i in range(_u16(cmap, 2)):
        platform, encoding, offset = struct.unpack_from(">HHI", cmap, 4 + 8 * i)
        offsets[(platform, encoding)] = offset
    glyphs = {}
    o = offsets.get((3, 10))
    if o is not None and _u16(cmap, o) == 12:
        for i in range(_u32(cmap, o + 12)):
            first, last, glyph = struct.unpack_from(">III", cmap, o + 16 + 12 * i)
            for c in range(first, last + 1):
                glyphs[c] = glyph + c - first
    o = offsets.get((3, 1))
    if o is not None and _u16(cmap, o) == 4:
        segments = _u16(cmap, o + 6) // 2
        ends = o + 14
        starts = ends + 2 * segments + 2
        deltas = starts + 2 * segments
        ranges = deltas + 2 * segments
        for i in range(segments):
            first, last = _u16(cmap, starts + 2 * i), min(_u16(cmap, ends + 2 * i), 0xFFFE)
            delta, range_offset = struct.unpack_from(">h", cmap, deltas + 2 * i)[0], _u16(cmap, ranges + 2 * i)
            for c in range(first, last + 1):
                if range_offset:
                    glyph = _u16(cmap, ranges + 2 * i + range_offset + 2 * (c - first))
                    glyph = (glyph + delta) & 0xFFFF if glyph else 0
                else:
                    glyph = (c + delta) & 0xFFFF
                glyphs.setdefault(c, glyph)
    return {c: g for c, g in glyphs.items() if g}


def _coverage(b, o):
    if _u16(b, o) == 1:
        return [_u16(b, o + 4 + 2 * i) for i in range(_u16(b, o + 2))]
    out = []
    for i in range(_u16(b, o + 2)):
        first, last, _ = struct.unpack_from(">HHH", b, o + 4 + 6 * i)
        out.extend(range(first, last + 1))
    return out


def ligature_keys(gsub):
    """The glyph sequences that GSUB ligature substitutions (lookup type 4, also inside type 7) replace
    by one glyph."""
    keys = set()
    if not gsub:
        return keys
    lookups = _u16(gsub, 8)
    for i in range(_u16(gsub, lookups)):
        lookup = lookups + _u16(gsub, lookups + 2 + 2 * i)
        kind = _u16(gsub, lookup)
        for j in range(_u16(gsub, lookup + 4)):
            sub, sub_kind = lookup + _u16(gsub, lookup + 6 + 2 * j), kind
            if kind == 7:  # extension: the real type and a 32-bit offset
                sub_kind, sub = _u16(gsub, sub + 2), sub + _u32(gsub, sub + 4)
            if sub_kind != 4:
                continue
            for k, first in enumerate(_coverage(gsub, sub + _u16(gsub, sub + 2))):
                ligature_set = sub + _u16(gsub, sub + 6 + 2 * k)
                for m in range(_u16(gsub, ligature_set)):
                    ligature = ligature_set + _u16(gsub, ligature_set + 2 + 2 * m)
                    count = _u16(gsub, ligature + 2)
                    keys.add((first,) + tuple(_u16(gsub, ligature + 4 + 2 * x) for x in range(count - 1)))
    return keys


class Coverage:
    """Which code point sequences a font draws as a single glyph."""

    def __init__(self, path):
        tables = sfnt_tables(path)
        if "cmap" not in tables:
            sys.exit(f"{path}: no character map")
        self.glyphs = character_map(tables["cmap"])
        self.ligatures = ligature_keys(tables.get("GSUB"))

    def draws(self, codes):
        if any(c not in self.glyphs for c in codes):
            return False
        return len(codes) == 1 or tuple(self.glyphs[c] for c in codes) in self.ligatures


# --- rendering -------------------------------------------------------------------------------------

def render_noto(font, text):
    """The colour bitmap at its native size composited onto white, scaled to 64 px wide, centred."""
    from PIL import Image, ImageDraw
    left, top, right, bottom = font.getbbox(text)
    canvas = Image.new("RGB", (right - left, bottom - top), (255, 255, 255))
    ImageDraw.Draw(canvas).text((-left, -top), text, font=font, embedded_color=True)
    scale = SIZE / max(canvas.size)
    w, h = max(1, round(canvas.width * scale)), max(1, round(canvas.height * scale))
    out = Image.new("RGB", (SIZE, SIZE), (255, 255, 255))
    out.paste(canvas.resize((w, h), Image.LANCZOS), ((SIZE - w) // 2, (SIZE - h) // 2))
    return out


def render_symbola(font, text):
    """The outline drawn black on white at SYMBOLA_PX, its ink scaled down and centred."""
    from PIL import Image, ImageDraw
    left, top, right, bottom = font.getbbox(text)
    if right <= left or bottom <= top:
        return None
    ink = Image.new("L", (right - left, bottom - top), 0)  # coverage: 255 where the glyph is
    ImageDraw.Draw(ink).text((-left, -top), text, font=font, fill=255)
    box = ink.getbbox()
    if box is None:
        return None
    ink = ink.crop(box)
    scale = min(SYMBOLA_EM / SYMBOLA_PX, SYMBOLA_BOX / max(ink.size))
    w, h = max(1, round(ink.width * scale)), max(1, round(ink.height * scale))
    out = Image.new("L", (SIZE, SIZE), 0)
    out.paste(ink.resize((w, h), Image.LANCZOS), ((SIZE - w) // 2, (SIZE - h) // 2))
    return out.point(lambda v: 255 - v).convert("RGB")


def is_blank(image):
    return image is None or image.getextrema() == ((255, 255),) * 3


def png_bytes(image):
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


# --- names, captions, labels -----------------------------------------------------------------------

def phrase(text):
    """Lower case, '&' as 'and', typographic quotes and apostrophes plain."""
    text = text.replace("&", " and ").replace("\u2019", "'").replace("\u201c", '"').replace("\u201d", '"')
    return re.sub(r"\s+", " ", text).strip().lower()


def category_phrase(category):
    return phrase(category)


def subcategory_phrase(subcategory):
    return SUBCATEGORY_PHRASES.get(subcategory) or phrase(subcategory.replace("-", " "))


def read_emoji_test(path):
    """emoji-test.txt's fully-qualified emoji in its order: code points, group, subgroup, CLDR name."""
    try:
        lines = open(path, encoding="utf-8").read().splitlines()
    except OSError as e:
        sys.exit(f"{path}: {e.strerror} (apt-get install unicode-data)")
    group = subgroup = None
    out = []
    for line in lines:
        if line.startswith("# group:"):
            group = line.split(":", 1)[1].strip()
        elif line.startswith("# subgroup:"):
            subgroup = line.split(":", 1)[1].strip()
        elif line and not line.startswith("#"):
            m = re.fullmatch(r"([0-9A-F ]+?)\s*;\s*([a-z-]+)\s*#\s*\S+\s+E\d+\.\d+\s+(.+)", line)
            if not m:
                sys.exit(f"{path}: unexpected line: {line}")
            if m.group(2) == "fully-qualified":
                out.append({"codes": [int(c, 16) for c in m.group(1).split()], "category": group,
                            "subcategory": subgroup, "cldr_name": m.group(3).strip(), "sort_order": len(out)})
    if not out:
        sys.exit(f"{path}: no fully-qualified emoji")
    return out


def read_character_names(path):
    names = {}
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                fields = line.split(";", 2)
                if len(fields) > 2 and not fields[1].startswith("<"):
                    names[int(fields[0], 16)] = fields[1]
    except OSError as e:
        sys.exit(f"{path}: {e.strerror} (apt-get install unicode-data)")
    return names


def alias(emoji, name, character_names):
    """The Unicode character name of a one-code-point emoji ("thumbs up sign" for "thumbs up") where it
    differs from the name and is not a code ("squared cjk unified ideograph-7121")."""
    codes = [c for c in emoji["codes"] if c != VS16]
    if len(codes) != 1 or codes[0] not in character_names:
        return []
    words = phrase(character_names[codes[0]])
    if words == name or re.search(r"-[0-9a-f]{4,}\b", words):
        return []
    return [words]


def collect(emoji, noto, symbola, skin_tones, character_names):
    """The emoji both fonts draw as one glyph, in Unicode's order, with names, captions and labels."""
    entries = []
    for e in emoji:
        if e["category"] in EXCLUDED_CATEGORIES:
            continue
        if not skin_tones and any(c in SKIN_TONES for c in e["codes"]):
            continue
        drawn = [c for c in e["codes"] if c != VS16]
        if not (noto.draws(drawn) and symbola.draws(drawn)):
            continue
        entries.append({"entry": e, "text": "".join(map(chr, drawn)),
                        "unified": "-".join(f"{c:04X}" for c in e["codes"]),
                        "image": "-".join(f"{c:04x}" for c in e["codes"]) + ".png"})
    # CLDR names are unique; should two ever become one phrase, the code points tell them apart.
    counts = collections.Counter(phrase(r["entry"]["cldr_name"]) for r in entries)
    for r in entries:
        e = r["entry"]
        name = phrase(e["cldr_name"])
        if counts[name] > 1:
            name = f"{name} {r['unified'].lower()}"
        aliases = alias(e, name, character_names)
        r["name"] = name
        r["category"] = category_phrase(e["category"])
        r["subcategory"] = subcategory_phrase(e["subcategory"])
        r["captions"] = ([s.format(name) for s in NAME_SENTENCES] +
                         [s.format(a) for a in aliases for s in ALIAS_SENTENCES] +
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


def write_images(out, folder, entries, images):
    """Writes the PNGs (leaving files that already hold the same bytes alone) and removes PNGs of earlier
    runs that are no longer listed. Returns the bytes written."""
    path = os.path.join(out, folder)
    os.makedirs(path, exist_ok=True)
    total = 0
    for r in entries:
        png = png_bytes(images[r["image"]])
        file = os.path.join(path, r["image"])
        try:
            with open(file, "rb") as f:
                same = f.read() == png
        except OSError:
            same = False
        if not same:
            with open(file, "wb") as f:
                f.write(png)
        total += len(png)
    keep = {r["image"] for r in entries}
    for name in os.listdir(path):
        if name.endswith(".png") and name not in keep:
            os.remove(os.path.join(path, name))
    return total


def remove_old_folders(out):
    for folder in OLD_FOLDERS:
        path = os.path.join(out, folder)
        if os.path.isdir(path):
            for name in os.listdir(path):
                if name.endswith(".png"):
                    os.remove(os.path.join(path, name))
            if not os.listdir(path):
                os.rmdir(path)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="output folder (e.g. datasets/emoji)")
    p.add_argument("--noto-font", default=NOTO_FONT, help=f"Noto Color Emoji (default: {NOTO_FONT})")
    p.add_argument("--symbola-font", default=SYMBOLA_FONT, help=f"Symbola (default: {SYMBOLA_FONT})")
    p.add_argument("--emoji-test", default=EMOJI_TEST, help=f"Unicode's emoji-test.txt (default: {EMOJI_TEST})")
    p.add_argument("--unicode-data", default=UNICODE_DATA, help=f"UnicodeData.txt (default: {UNICODE_DATA})")
    p.add_argument("--skin-tones", action="store_true",
                   help="also take the skin-tone variants that both fonts draw (Symbola draws none)")
    p.add_argument("--retrieval", type=int, default=0,
                   help="Symbola images in test_captions.csv, the first in Unicode's order (0: all)")
    p.add_argument("--seed", type=int, default=0, help="picks the one caption per image in train.csv")
    a = p.parse_args()
    started = time.monotonic()

    try:
        from PIL import ImageFont
    except ImportError:
        sys.exit("needs Pillow: apt-get install python3-pil, and run this with Debian's /usr/bin/python3")
    for path, package in ((a.noto_font, "fonts-noto-color-emoji"), (a.symbola_font, "fonts-symbola")):
        if not os.path.isfile(path):
            sys.exit(f"{path}: not found (apt-get install {package})")
    noto, symbola = Coverage(a.noto_font), Coverage(a.symbola_font)
    emoji = read_emoji_test(a.emoji_test)
    candidates = collect(emoji, noto, symbola, a.skin_tones, read_character_names(a.unicode_data))

    noto_font = ImageFont.truetype(a.noto_font, NOTO_PX)
    symbola_font = ImageFont.truetype(a.symbola_font, SYMBOLA_PX)
    train_images, test_images, entries, blank = {}, {}, [], []
    for r in candidates:
        train, test = render_noto(noto_font, r["text"]), render_symbola(symbola_font, r["text"])
        if is_blank(train) or is_blank(test):
            blank.append(r["unified"])
            continue
        train_images[r["image"]], test_images[r["image"]] = train, test
        entries.append(r)
    if not entries:
        sys.exit("no emoji drawn by both fonts")

    os.makedirs(a.out, exist_ok=True)
    remove_old_folders(a.out)
    train_bytes = write_images(a.out, TRAIN_SET, entries, train_images)
    test_bytes = write_images(a.out, TEST_SET, entries, test_images)

    train_path = lambda r: f"{TRAIN_SET}/{r['image']}"
    test_path = lambda r: f"{TEST_SET}/{r['image']}"
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

    hist = [0] * 768  # per channel, as Image.histogram() counts them
    for r in entries:
        hist = [x + y for x, y in zip(hist, train_images[r["image"]].histogram())]
    mean, std = [], []
    for k in range(3):
        h = hist[256 * k:256 * (k + 1)]
        n = sum(h)
        mean.append(sum(v * c for v, c in enumerate(h)) / (255 * n))
        std.append(max(0.0, sum(v * v * c for v, c in enumerate(h)) / (255 * 255 * n) - mean[-1] ** 2) ** 0.5)
    print(f"{a.out}: {len(entries)} emoji drawn by both Noto Color Emoji and Symbola, of {len(emoji)} "
          f"fully-qualified in {a.emoji_test}{' (skin tones included)' if a.skin_tones else ''}"
          f"{f'; {len(blank)} left out as blank: ' + ' '.join(blank) if blank else ''}")
    print(f"  {TRAIN_SET}/: {len(entries)} training images ({train_bytes / 1e6:.1f} MB), "
          f"{sum(len(r['captions']) for r in entries)} captions")
    print(f"  {TEST_SET}/: {len(entries)} test images ({test_bytes / 1e6:.1f} MB), "
          f"{len(retrieval)} in test_captions.csv")
    print(f"  {len(categories)} categories, {len(subcategories)} subcategories")
    print(f"  training images: mean [{', '.join(f'{m:.3f}' for m in mean)}], "
          f"std [{', '.join(f'{s:.3f}' for s in std)}]")
    print(f"  {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    main()
