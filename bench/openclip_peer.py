#!/usr/bin/env python3
"""open_clip's side of the speed comparison, with an mmcl preset's architecture.

  train     open_clip's own trainer (open_clip_train.main) with the preset registered as an open_clip
            model config ("mmcl-<preset>"); every other argument goes to the trainer unchanged.
  zeroshot  zero-shot classification of a manifest's images (filepath, label columns) as open_clip's
            evaluation does it: build_zero_shot_classifier over the class names and templates, the
            images through a DataLoader with the model's eval transform, torch.inference_mode.
  embed     the normalised image and caption embeddings of every row of a manifest (filepath, title),
            both towers, saved to an .npz file, torch.inference_mode.

Prints one JSON line (zeroshot, embed): images, seconds, images/s, accuracy.

    .venv/bin/python bench/openclip_peer.py train --preset configs/models/clip-vit-s32.yaml -- \\
        --train-data datasets/bench/e2e.csv --dataset-type csv --csv-separator , --batch-size 64 ...
    .venv/bin/python bench/openclip_peer.py zeroshot --preset configs/models/clip-vit-s32.yaml \\
        --data datasets/bench/jpeg10k.csv --batch 256 --workers 2

Needs the project venv with open_clip_torch, torchvision and, for train, pandas, webdataset and
braceexpand (make bench-openclip installs them).
"""

import argparse
import csv
import json
import os
import sys
import tempfile
import time

import torch
import yaml

TEMPLATES = ["itap of a {}.", "a bad photo of the {}.", "a origami {}.", "a photo of the large {}.",
             "a {} in a video game.", "art of the {}.", "a photo of the small {}."]


def register(preset):
    """Registers the mmcl preset as open_clip model config "mmcl-<name>" and returns the name."""
    import open_clip
    c = yaml.safe_load(open(preset))
    if c.get("name", "clip") != "clip":
        sys.exit(f"{preset}: not a CLIP preset")
    v, t = c["vision"], c["text"]
    cfg = {"embed_dim": c["embed_dim"], "quick_gelu": c.get("quick_gelu", False),
           "vision_cfg": {"image_size": v["image_size"], "layers": v["layers"], "width": v["width"],
                          "head_width": v["head_width"], "mlp_ratio": v.get("mlp_ratio", 4.0),
                          "patch_size": v["patch_size"]},
           "text_cfg": {"context_length": t["context_length"], "vocab_size": t["vocab_size"], "width": t["width"],
                        "heads": t["heads"], "layers": t["layers"], "mlp_ratio": t.get("mlp_ratio", 4.0)}}
    name = "mmcl-" + os.path.splitext(os.path.basename(preset))[0]
    folder = tempfile.mkdtemp(prefix="openclip-peer-")
    with open(os.path.join(folder, name + ".json"), "w") as f:
        json.dump(cfg, f)
    open_clip.add_model_config(folder)
    return name


class Rows(torch.utils.data.Dataset):
    def __init__(self, rows, transform):
        self.rows, self.transform = rows, transform

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        from PIL import Image
        return self.transform(Image.open(self.rows[i]["filepath"])), i


def evaluate(a, mode):
    import open_clip
    torch.set_num_threads(a.threads)
    name = register(a.preset)
    model, _, preprocess = open_clip.create_model_and_transforms(name)
    tokenizer = open_clip.get_tokenizer(name)
    model.eval()
    rows = list(csv.DictReader(open(a.data)))
    loader = torch.utils.data.DataLoader(Rows(rows, preprocess), batch_size=a.batch, num_workers=a.workers)
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.precision == "amp_bf16")
    start = time.perf_counter()
    out = {"side": "openclip", "mode": mode, "preset": a.preset, "images": len(rows), "batch": a.batch,
           "workers": a.workers, "threads": a.threads, "precision": a.precision, "torch": torch.__version__,
           "open_clip": open_clip.__version__}
    with torch.inference_mode(), autocast:
        if mode == "zeroshot":
            from open_clip.zero_shot_classifier import build_zero_shot_classifier
            classes = sorted({r["label"] for r in rows})
            weights = build_zero_shot_classifier(model, tokenizer, classes, [t.format for t in TEMPLATES],
                                                 num_classes_per_batch=len(classes))
            label = torch.tensor([classes.index(r["label"]) for r in rows])
            correct = 0
            for images, index in loader:
                x = model.encode_image(images, normalize=True)
                correct += int((x.float() @ weights.float()).argmax(1).eq(label[index]).sum())
            out["top1"] = correct / len(rows)
        else:
            parts, texts = [], []
            for images, index in loader:
                parts.append(model.encode_image(images, normalize=True).float())
                ids = tokenizer([rows[i]["title"] for i in index.tolist()])
                texts.append(model.encode_text(ids, normalize=True).float())
            import numpy as np
            np.savez(a.out, image_embeddings=torch.cat(parts).numpy(), text_embeddings=torch.cat(texts).numpy())
    out["seconds"] = time.perf_counter() - start
    out["images_per_s"] = len(rows) / out["seconds"]
    print(json.dumps(out), flush=True)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="mode", required=True)
    t = sub.add_parser("train", help="open_clip_train.main with the preset as --model")
    t.add_argument("--preset", required=True)
    t.add_argument("args", nargs=argparse.REMAINDER, help="-- then open_clip_train.main's arguments")
    for mode in ("zeroshot", "embed"):
        e = sub.add_parser(mode)
        e.add_argument("--preset", required=True)
        e.add_argument("--data", required=True, help="CSV manifest: filepath, title, label")
        e.add_argument("--batch", type=int, default=256)
        e.add_argument("--workers", type=int, default=2)
        e.add_argument("--threads", type=int, default=2)
        e.add_argument("--precision", choices=["fp32", "amp_bf16"], default="fp32")
        e.add_argument("--out", default=os.path.join(tempfile.gettempdir(), "openclip-embeddings.npz"))
    a = p.parse_args(argv)
    if a.mode == "train":
        name = register(a.preset)
        rest = a.args[1:] if a.args[:1] == ["--"] else a.args
        from open_clip_train.main import main as train_main
        train_main(["--model", name] + rest)
    else:
        evaluate(a, a.mode)


if __name__ == "__main__":
    main()
