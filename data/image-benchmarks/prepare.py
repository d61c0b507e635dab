#!/usr/bin/env python3
"""Manifests for mmcl from the files of the standard image benchmarks (no download here; the Python
standard library only).

  cifar10   --data cifar-10-batches-bin/ --out DIR
            the binary batches (data_batch_1..5.bin, test_batch.bin: a label byte then 32x32 RGB planes per
            image) become PNG files under DIR/images/, train.csv and test.csv (filepath,label with the
            class names of batches.meta.txt), and classnames.txt for zero-shot (eval.classnames).
  cifar100  --data cifar-100-binary/ --out DIR [--labels fine|coarse]
            train.bin, test.bin (coarse and fine label bytes, then the image); fine_label_names.txt /
            coarse_label_names.txt name the classes.
  imagenet  --val DIR --solution LOC_val_solution.csv --synsets LOC_synset_mapping.txt --out DIR [--train DIR]
            val.csv (and train.csv from train/<wnid>/*.JPEG) with integer labels in the sorted-wnid order
            open_clip and torchvision use, and classnames.txt (the first name of each synset; replace it
            with open_clip's curated IMAGENET_CLASSNAMES for the published zero-shot numbers).
  karpathy  --json dataset_coco.json|dataset_flickr30k.json --images DIR --out DIR
            Karpathy's splits for retrieval: train.jsonl (train + restval), val.jsonl, test.jsonl with
            filepath and the image's captions (a list of 5), as `retrieve` reads them
            (eval.caption_key: captions).

Paths in the manifests are relative to the manifest's folder.
"""
import argparse
import csv
import json
import os
import struct
import sys
import zlib


def write_png(path, width, height, rgb):
    """An 8-bit RGB PNG from rows of packed RGB bytes (no dependency beyond zlib)."""
    raw = b"".join(b"\x00" + rgb[y * width * 3:(y + 1) * width * 3] for y in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw, 6)))
        f.write(chunk(b"IEND", b""))


def read_names(path):
    with open(path, encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip()]


def write_csv(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def write_lines(path, lines):
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(line + "\n" for line in lines)


def cifar_records(path, label_bytes, label_index):
    """(label, planar RGB bytes) per record of a CIFAR binary batch; a truncated file is an error."""
    size = label_bytes + 3072
    with open(path, "rb") as f:
        data = f.read()
    if len(data) % size:
        sys.exit(f"{path}: {len(data)} bytes is not a whole number of {size}-byte records")
    for at in range(0, len(data), size):
        yield data[at + label_index], data[at + label_bytes:at + size]


def planar_to_rgb(planes):
    r, g, b = planes[:1024], planes[1024:2048], planes[2048:]
    return bytes(v for i in range(1024) for v in (r[i], g[i], b[i]))


def cifar(a, files, names, label_bytes, label_index):
    images = os.path.join(a.out, "images")
    os.makedirs(images, exist_ok=True)
    for split, batch_files in files.items():
        rows = []
        for batch in batch_files:
            path = os.path.join(a.data, batch)
            if not os.path.exists(path):
                sys.exit(f"{path}: not found")
            for label, planes in cifar_records(path, label_bytes, label_index):
                if label >= len(names):
                    sys.exit(f"{path}: label {label} but only {len(names)} class names")
                name = f"{split}_{len(rows):05d}.png"
                write_png(os.path.join(images, name), 32, 32, planar_to_rgb(planes))
                rows.append((f"images/{name}", names[label]))
        write_csv(os.path.join(a.out, f"{split}.csv"), ["filepath", "label"], rows)
        print(f"{split}: {len(rows)} images")
    write_lines(os.path.join(a.out, "classnames.txt"), names)


def cifar10(a):
    names = read_names(os.path.join(a.data, "batches.meta.txt"))
    cifar(a, {"train": [f"data_batch_{i}.bin" for i in range(1, 6)], "test": ["test_batch.bin"]}, names, 1, 0)


def cifar100(a):
    names = read_names(os.path.join(a.data, f"{a.labels}_label_names.txt"))
    cifar(a, {"train": ["train.bin"], "test": ["test.bin"]}, names, 2, 0 if a.labels == "coarse" else 1)


def imagenet(a):
    synsets = []  # (wnid, first name)
    with open(a.synsets, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                wnid, _, names = line.strip().partition(" ")
                synsets.append((wnid, names.split(",")[0].strip()))
    synsets.sort()
    index = {wnid: i for i, (wnid, _) in enumerate(synsets)}
    rows, missing = [], 0
    with open(a.solution, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            wnid = row["PredictionString"].split()[0]
            path = os.path.join(a.val, row["ImageId"] + ".JPEG")
            if wnid not in index:
                sys.exit(f"{a.solution}: {row['ImageId']} has synset {wnid}, which {a.synsets} lacks")
            if not os.path.exists(path):
                missing += 1
                continue
            rows.append((os.path.relpath(path, a.out), index[wnid]))
    rows.sort()
    write_csv(os.path.join(a.out, "val.csv"), ["filepath", "label"], rows)
    print(f"val: {len(rows)} images ({missing} missing)")
    if a.train:
        train = []
        for wnid, _ in synsets:
            folder = os.path.join(a.train, wnid)
            if os.path.isdir(folder):
                for name in sorted(os.listdir(folder)):
                    if name.lower().endswith((".jpeg", ".jpg", ".png")):
                        train.append((os.path.relpath(os.path.join(folder, name), a.out), index[wnid]))
        write_csv(os.path.join(a.out, "train.csv"), ["filepath", "label"], train)
        print(f"train: {len(train)} images")
    write_lines(os.path.join(a.out, "classnames.txt"), [name for _, name in synsets])


def karpathy(a):
    with open(a.json, encoding="utf-8") as f:
        data = json.load(f)
    splits = {"train": [], "val": [], "test": []}
    missing = 0
    for image in data["images"]:
        parts = [image["filepath"], image["filename"]] if image.get("filepath") else [image["filename"]]
        path = os.path.join(a.images, *parts)
        if not os.path.exists(path):
            missing += 1
            continue
        captions = [s["raw"].strip() for s in image["sentences"]]
        split = "train" if image["split"] == "restval" else image["split"]
        splits[split].append({"filepath": os.path.relpath(path, a.out), "captions": captions})
    for split, records in splits.items():
        with open(os.path.join(a.out, f"{split}.jsonl"), "w", encoding="utf-8") as f:
            for r in records:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        print(f"{split}: {len(records)} images")
    if missing:
        print(f"{missing} images not found under {a.images}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="kind", required=True)
    for name in ("cifar10", "cifar100"):
        s = sub.add_parser(name)
        s.add_argument("--data", required=True)
        s.add_argument("--out", required=True)
        if name == "cifar100":
            s.add_argument("--labels", default="fine", choices=["fine", "coarse"])
    s = sub.add_parser("imagenet")
    s.add_argument("--val", required=True)
    s.add_argument("--solution", required=True)
    s.add_argument("--synsets", required=True)
    s.add_argument("--train")
    s.add_argument("--out", required=True)
    s = sub.add_parser("karpathy")
    s.add_argument("--json", required=True)
    s.add_argument("--images", required=True)
    s.add_argument("--out", required=True)
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    {"cifar10": cifar10, "cifar100": cifar100, "imagenet": imagenet, "karpathy": karpathy}[a.kind](a)


if __name__ == "__main__":
    main()
