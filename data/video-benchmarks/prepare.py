#!/usr/bin/env python3
"""Manifests for mmcl from the annotation files of the video benchmarks CVRL and VATT report on.

Each subcommand reads the benchmark's own annotation files (as its authors distribute them; no video is
downloaded here) and writes mmcl manifests next to the videos you have:

  kinetics  --annotations train.csv --videos DIR --out DIR     Kinetics-400/600/700 CSV
            (label,youtube_id,time_start,time_end,split): <split>.csv with filepath,label and, when the
            files are whole videos (<id>.mp4), the start,end window; classes.txt (sorted names).
  ucf101    --splits ucfTrainTestlist/ --videos UCF-101/ --out DIR [--split 1]
            classInd.txt, trainlist0N.txt, testlist0N.txt: train.csv, test.csv (filepath,label), classes.txt.
  hmdb51    --splits testTrainMulti_7030_splits/ --videos hmdb51/ --out DIR [--split 1]
            <class>_test_split<N>.txt lines "<video> <0|1|2>" (1 train, 2 test): train.csv, test.csv.
  audioset  --segments balanced_train_segments.csv --labels class_labels_indices.csv --videos DIR --out FILE
            a JSONL manifest, one segment a line: filepath, start, end, labels (display names; a list).
  msrvtt    --annotations train_val_videodatainfo.json --videos DIR --out DIR [--test-csv MSRVTT_JSFUSION_test.csv]
            <split>.jsonl with filepath and every caption of the video (a list); with --test-csv the
            1k-A test set: test_1k.jsonl, one caption per video, as the retrieval papers report.
  youcook2  --annotations youcookii_annotations_trainval.json --videos DIR --out DIR
            <subset>.jsonl: one line a segment, filepath, start, end, its sentence.

Videos are looked up as <videos>/<name>.<ext> for the common extensions (and the names the usual
download tools write); a missing one is counted and left out. Paths in the manifests are relative to
the manifest's folder when possible.
"""
import argparse
import csv
import glob
import json
import os
import re
import sys

EXTENSIONS = (".mp4", ".mkv", ".webm", ".avi", ".mov", ".flv")


class Finder:
    """Finds a video by its name (without extension) below a folder, indexing the folder once."""

    def __init__(self, root):
        self.root = root
        self.by_stem = {}
        for path in glob.glob(os.path.join(root, "**", "*"), recursive=True):
            stem, ext = os.path.splitext(os.path.basename(path))
            if ext.lower() in EXTENSIONS:
                self.by_stem.setdefault(stem, path)
        self.missing = 0

    def find(self, *stems):
        for stem in stems:
            if stem in self.by_stem:
                return self.by_stem[stem]
        self.missing += 1
        return None


def relative(path, out_dir):
    try:
        return os.path.relpath(path, out_dir)
    except ValueError:
        return path


def write_csv(path, header, rows):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    print(f"{path}: {len(rows)} rows")


def write_jsonl(path, records):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"{path}: {len(records)} lines")


def write_classes(out_dir, classes):
    with open(os.path.join(out_dir, "classes.txt"), "w") as f:
        f.write("".join(c + "\n" for c in classes))


def report(finder):
    if finder.missing:
        print(f"{finder.missing} videos not found under {finder.root}: left out", file=sys.stderr)


def kinetics(a):
    finder = Finder(a.videos)
    splits, classes = {}, set()
    with open(a.annotations, newline="") as f:
        for row in csv.DictReader(f):
            classes.add(row["label"])  # every class of the list, downloaded or not
            vid, start, end = row["youtube_id"], float(row["time_start"]), float(row["time_end"])
            clip = f"{vid}_{int(start):06d}_{int(end):06d}"
            path = finder.find(clip, vid)
            if path is None:
                continue
            whole = os.path.splitext(os.path.basename(path))[0] == vid  # a whole video: keep the window
            split = row.get("split") or os.path.splitext(os.path.basename(a.annotations))[0]
            splits.setdefault(split, []).append(
                [relative(path, a.out), row["label"], f"{start:g}" if whole else "", f"{end:g}" if whole else ""])
    for split, rows in splits.items():
        write_csv(os.path.join(a.out, f"{split}.csv"), ["filepath", "label", "start", "end"], rows)
    write_classes(a.out, sorted(classes))
    report(finder)


def ucf101(a):
    finder = Finder(a.videos)
    names = {}
    with open(os.path.join(a.splits, "classInd.txt")) as f:
        for line in f:
            if line.strip():
                index, name = line.split()
                names[int(index)] = name
    for part, listing in (("train", f"trainlist0{a.split}.txt"), ("test", f"testlist0{a.split}.txt")):
        rows = []
        with open(os.path.join(a.splits, listing)) as f:
            for line in f:
                if not line.strip():
                    continue
                video = line.split()[0]
                label = video.split("/")[0]  # the folder is the class (test lists give no index)
                path = finder.find(os.path.splitext(os.path.basename(video))[0])
                if path is not None:
                    rows.append([relative(path, a.out), label])
        write_csv(os.path.join(a.out, f"{part}.csv"), ["filepath", "label"], rows)
    write_classes(a.out, [names[i] for i in sorted(names)])
    report(finder)


def hmdb51(a):
    finder = Finder(a.videos)
    parts = {"1": [], "2": []}
    classes = []
    for listing in sorted(glob.glob(os.path.join(a.splits, f"*_test_split{a.split}.txt"))):
        label = re.sub(rf"_test_split{a.split}\.txt$", "", os.path.basename(listing))
        classes.append(label)
        with open(listing) as f:
            for line in f:
                fields = line.split()
                if len(fields) != 2 or fields[1] not in parts:
                    continue
                path = finder.find(os.path.splitext(fields[0])[0])
                if path is not None:
                    parts[fields[1]].append([relative(path, a.out), label])
    write_csv(os.path.join(a.out, "train.csv"), ["filepath", "label"], parts["1"])
    write_csv(os.path.join(a.out, "test.csv"), ["filepath", "label"], parts["2"])
    write_classes(a.out, sorted(classes))
    report(finder)


def audioset(a):
    finder = Finder(a.videos)
    names = {}
    with open(a.labels, newline="") as f:
        for row in csv.DictReader(f):
            names[row["mid"]] = row["display_name"]
    records = []
    with open(a.segments, newline="") as f:
        for row in csv.reader(f, skipinitialspace=True):
            if not row or row[0].startswith("#") or len(row) < 4:
                continue
            ytid, start, end, labels = row[0], float(row[1]), float(row[2]), row[3]
            path = finder.find(f"{ytid}_{int(start * 1000)}_{int(end * 1000)}", f"{ytid}_{int(start)}", ytid)
            if path is None:
                continue
            whole = os.path.splitext(os.path.basename(path))[0] == ytid
            record = {"filepath": relative(path, os.path.dirname(os.path.abspath(a.out))),
                      "labels": [names.get(m, m) for m in labels.split(",") if m]}
            if whole:
                record["start"], record["end"] = start, end
            records.append(record)
    write_jsonl(a.out, records)
    report(finder)


def msrvtt(a):
    finder = Finder(a.videos)
    with open(a.annotations) as f:
        info = json.load(f)
    captions = {}
    for s in info.get("sentences", []):
        captions.setdefault(s["video_id"], []).append(s["caption"].strip())
    splits = {}
    for v in info.get("videos", []):
        path = finder.find(v["video_id"])
        if path is None:
            continue
        record = {"filepath": relative(path, a.out), "title": captions.get(v["video_id"], [])}
        if v.get("start time") is not None and v.get("end time") is not None:
            record["start"], record["end"] = float(v["start time"]), float(v["end time"])
        splits.setdefault(v.get("split", "all"), []).append(record)
    for split, records in splits.items():
        write_jsonl(os.path.join(a.out, f"{split}.jsonl"), records)
    if a.test_csv:
        records = []
        with open(a.test_csv, newline="") as f:
            for row in csv.DictReader(f):
                path = finder.find(row["video_id"])
                if path is not None:
                    records.append({"filepath": relative(path, a.out), "title": row["sentence"].strip()})
        write_jsonl(os.path.join(a.out, "test_1k.jsonl"), records)
    report(finder)


def youcook2(a):
    finder = Finder(a.videos)
    with open(a.annotations) as f:
        database = json.load(f)["database"]
    subsets = {}
    for vid, entry in sorted(database.items()):
        path = finder.find(vid)
        if path is None:
            continue
        for ann in entry.get("annotations", []):
            start, end = ann["segment"]
            subsets.setdefault(entry.get("subset", "all"), []).append(
                {"filepath": relative(path, a.out), "start": float(start), "end": float(end),
                 "title": ann["sentence"].strip()})
    for subset, records in subsets.items():
        write_jsonl(os.path.join(a.out, f"{subset}.jsonl"), records)
    report(finder)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="kind", required=True)
    k = sub.add_parser("kinetics")
    k.add_argument("--annotations", required=True)
    k.add_argument("--videos", required=True)
    k.add_argument("--out", required=True)
    for name in ("ucf101", "hmdb51"):
        s = sub.add_parser(name)
        s.add_argument("--splits", required=True)
        s.add_argument("--videos", required=True)
        s.add_argument("--out", required=True)
        s.add_argument("--split", default="1", choices=["1", "2", "3"])
    s = sub.add_parser("audioset")
    s.add_argument("--segments", required=True)
    s.add_argument("--labels", required=True)
    s.add_argument("--videos", required=True)
    s.add_argument("--out", required=True)
    s = sub.add_parser("msrvtt")
    s.add_argument("--annotations", required=True)
    s.add_argument("--videos", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--test-csv")
    s = sub.add_parser("youcook2")
    s.add_argument("--annotations", required=True)
    s.add_argument("--videos", required=True)
    s.add_argument("--out", required=True)
    a = p.parse_args()
    os.makedirs(a.out if a.kind != "audioset" else os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    {"kinetics": kinetics, "ucf101": ucf101, "hmdb51": hmdb51, "audioset": audioset, "msrvtt": msrvtt,
     "youcook2": youcook2}[a.kind](a)


if __name__ == "__main__":
    main()
