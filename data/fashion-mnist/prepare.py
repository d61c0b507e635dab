#!/usr/bin/env python3
"""Fashion-MNIST as an image-text set for mmcl.

Reads the IDX files of Debian's dataset-fashion-mnist package, writes each image as a PNG and
two manifests:
  train.csv  filepath,title        a caption per image, a class name in one of several sentences
  train_labels.csv filepath,label  the class name of each training image, for the linear probe
  test.csv   filepath,label        the class name, for zero-shot classification and the linear probe
  test_captions.csv filepath,title a caption for each of the first --retrieval test images
  classes.txt                      the ten class names in label order

Only the Python standard library is used.
"""
import argparse
import gzip
import os
import random
import struct
import sys
import zlib

CLASSES = ["T-shirt/top", "trouser", "pullover", "dress", "coat",
           "sandal", "shirt", "sneaker", "bag", "ankle boot"]
# Captions vary the sentence around the class name, as web alt-texts would.
SENTENCES = [
    "a photo of a {}.", "a {}.", "a picture of a {}.", "a black and white photo of a {}.",
    "a small {}.", "a grey {} on a dark background.", "product photo: {}.", "this is a {}.",
    "a low resolution photo of a {}.", "an image showing a {}.", "{}", "a centred {}.",
]
SOURCE = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    dims = magic & 0xFF
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    return shape, data[4 + 4 * dims:]


def png_grey(width, height, pixels):
    raw = b"".join(b"\x00" + pixels[y * width:(y + 1) * width] for y in range(height))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")


def write_split(out, split, images_file, labels_file, count, rng):
    (n, h, w), pixels = read_idx(os.path.join(SOURCE, images_file))
    (n_labels,), labels = read_idx(os.path.join(SOURCE, labels_file))
    assert n == n_labels
    count = n if count <= 0 else min(count, n)
    folder = os.path.join(out, split)
    os.makedirs(folder, exist_ok=True)
    rows = []
    for i in range(count):
        name = f"{split}/{i:05d}.png"
        with open(os.path.join(out, name), "wb") as f:
            f.write(png_grey(w, h, pixels[i * h * w:(i + 1) * h * w]))
        cls = CLASSES[labels[i]]
        rows.append((name, cls, rng.choice(SENTENCES).format(cls)))
    return rows


def csv_field(text):
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\n') else text


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="datasets/fashion-mnist", help="output folder")
    p.add_argument("--train", type=int, default=0, help="training images to write (0: all 60000)")
    p.add_argument("--test", type=int, default=0, help="test images to write (0: all 10000)")
    p.add_argument("--retrieval", type=int, default=100,
                   help="test images in test_captions.csv (captions only name the class, so a large pool "
                        "makes retrieval ambiguous)")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    if not os.path.isdir(SOURCE):
        sys.exit(f"{SOURCE} not found: install Debian's dataset-fashion-mnist package (make setup does)")
    rng = random.Random(a.seed)
    os.makedirs(a.out, exist_ok=True)
    train = write_split(a.out, "train", "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", a.train, rng)
    test = write_split(a.out, "test", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", a.test, rng)
    for name, header, rows, column in (("train.csv", "filepath,title", train, 2),
                                       ("train_labels.csv", "filepath,label", train, 1),
                                       ("test.csv", "filepath,label", test, 1),
                                       ("test_captions.csv", "filepath,title", test[:a.retrieval], 2)):
        tmp = os.path.join(a.out, name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(header + "\n")
            for row in rows:
                f.write(f"{row[0]},{csv_field(row[column])}\n")
        os.replace(tmp, os.path.join(a.out, name))
    with open(os.path.join(a.out, "classes.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(CLASSES) + "\n")
    print(f"{a.out}: {len(train)} training and {len(test)} test images")


if __name__ == "__main__":
    main()
