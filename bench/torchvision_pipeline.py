#!/usr/bin/env python3
"""Reference image-pipeline throughput: torchvision + PIL, as open_clip trains.

Per image: PIL open + convert("RGB"), RandomResizedCrop(size, scale=(lo, hi),
interpolation=BICUBIC), ToTensor, Normalize(CLIP mean/std). Batches come from a
torch DataLoader(batch_size, num_workers, shuffle=True, drop_last=False,
persistent_workers=False). The consumer only receives each batch.

Prints ONE line of JSON on stdout; bench/README.md defines every field.

    /usr/bin/python3 bench/torchvision_pipeline.py --files datasets/bench/jpeg --workers 2
"""

import argparse
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

try:
    import PIL
    from PIL import Image, features
    import torch
    import torchvision
    from torch.utils.data import DataLoader, Dataset
    from torchvision import transforms
    from torchvision.transforms import InterpolationMode
except ImportError as e:  # pragma: no cover - depends on the machine
    sys.exit(f"torchvision_pipeline.py: {e}\n"
             "needs: apt-get install -y python3-torchvision python3-pil "
             "(and run it with /usr/bin/python3)")

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--files", required=True,
                   help="a text file with one image path a line (relative paths are "
                        "taken from the list file's folder), or a folder whose "
                        f"{'/'.join(sorted(IMAGE_EXTS))} files are used")
    p.add_argument("--workers", type=int, default=0, help="DataLoader num_workers (default 0)")
    p.add_argument("--batch-size", type=int, default=64, help="default 64")
    p.add_argument("--size", type=int, default=224, help="output side in pixels (default 224)")
    p.add_argument("--scale", type=float, nargs=2, metavar=("LO", "HI"), default=[0.9, 1.0],
                   help="RandomResizedCrop area scale range (default 0.9 1.0)")
    p.add_argument("--epochs", type=int, default=3, help="default 3")
    p.add_argument("--warmup-batches", type=int, default=2,
                   help="batches at the start of the first epoch left out of the "
                        "headline timing (default 2)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch.set_num_threads in the main process (default 1; "
                        "workers always use 1)")
    p.add_argument("--prefetch-factor", type=int, default=2,
                   help="DataLoader prefetch_factor when workers > 0 (default 2)")
    p.add_argument("--seed", type=int, default=0, help="shuffle and crop seed (default 0)")
    a = p.parse_args(argv)
    if a.workers < 0 or a.batch_size < 1 or a.size < 1 or a.epochs < 1 or a.warmup_batches < 0:
        p.error("--workers >= 0, --batch-size/--size/--epochs >= 1, --warmup-batches >= 0")
    if not 0 < a.scale[0] <= a.scale[1] <= 1:
        p.error("--scale needs 0 < LO <= HI <= 1")
    return a


def list_files(spec):
    p = Path(spec)
    if p.is_dir():
        files = sorted(str(f) for f in p.iterdir()
                       if f.is_file() and f.suffix.lower() in IMAGE_EXTS)
    elif p.is_file():
        files = []
        for line in p.read_text().splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            f = Path(line)
            files.append(str(f if f.is_absolute() else p.parent / f))
    else:
        sys.exit(f"--files {spec}: no such file or folder")
    if not files:
        sys.exit(f"--files {spec}: no images")
    return files


def clip_train_transform(size, scale):
    # open_clip's training preprocess (no augmentation config).
    return transforms.Compose([
        transforms.RandomResizedCrop(size, scale=tuple(scale),
                                     interpolation=InterpolationMode.BICUBIC),
        transforms.ToTensor(),
        transforms.Normalize(mean=CLIP_MEAN, std=CLIP_STD),
    ])


class ImageFiles(Dataset):
    def __init__(self, files, transform):
        self.files = files
        self.transform = transform

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        with Image.open(self.files[i]) as im:
            img = im.convert("RGB")
        return self.transform(img)


def worker_init(_worker_id):
    torch.set_num_threads(1)


def libjpeg_version():
    # "libjpeg-turbo 2.1.5" or "libjpeg 6.2", whichever Pillow is linked with.
    if features.check_feature("libjpeg_turbo"):
        return "libjpeg-turbo " + str(features.version_feature("libjpeg_turbo"))
    return "libjpeg " + str(features.version("jpg"))


def cpu_seconds():
    # user + system time of this process and of its joined children (workers)
    t = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        r = resource.getrusage(who)
        t += r.ru_utime + r.ru_stime
    return t


def maxrss_mib(who):
    # ru_maxrss is in KiB on Linux.
    return round(resource.getrusage(who).ru_maxrss / 1024, 1)


def run(a):
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    files = list_files(a.files)
    ds = ImageFiles(files, clip_train_transform(a.size, a.scale))
    g = torch.Generator()
    g.manual_seed(a.seed)
    kw = dict(batch_size=a.batch_size, shuffle=True, drop_last=False,
              num_workers=a.workers, persistent_workers=False, generator=g)
    if a.workers > 0:
        kw.update(worker_init_fn=worker_init, prefetch_factor=a.prefetch_factor)
    loader = DataLoader(ds, **kw)

    n = len(ds)
    load_start = [round(x, 2) for x in os.getloadavg()]
    epoch_seconds, first_batch_seconds = [], []
    steady_images, steady_seconds = 0, 0.0
    timed_images, t_timed = 0, None
    batches = 0
    shape = None

    cpu_start = cpu_seconds()
    t_start = time.perf_counter()
    if a.warmup_batches == 0:
        t_timed = t_start
    for epoch in range(a.epochs):
        t_epoch = time.perf_counter()
        t_steady = t_last = None
        seen = steady_from = 0
        for b, batch in enumerate(loader):  # iter() starts the workers
            now = time.perf_counter()
            k = batch.shape[0]
            seen += k
            batches += 1
            if b == 0:
                first_batch_seconds.append(now - t_epoch)
                if shape is None:
                    shape = list(batch.shape)
            # headline: everything after the first --warmup-batches batches of the run
            if t_timed is None:
                if batches == a.warmup_batches:
                    t_timed = now
            else:
                timed_images += k
            # steady: in every epoch, from its max(1, warmup)-th batch to its last one
            if b + 1 == max(1, a.warmup_batches):
                t_steady, steady_from = now, seen
            t_last = now
        # leaving the loop joins the workers (persistent_workers=False)
        epoch_seconds.append(time.perf_counter() - t_epoch)
        if t_steady is not None:
            steady_images += seen - steady_from
            steady_seconds += t_last - t_steady
        if seen != n:
            sys.exit(f"epoch {epoch}: got {seen} images, expected {n}")
    t_end = time.perf_counter()
    cpu_total = cpu_seconds() - cpu_start

    total_images = n * a.epochs
    seconds = t_end - t_timed if t_timed is not None else 0.0
    total_seconds = t_end - t_start
    # Workers are joined at each epoch's end (persistent_workers=False), so
    # RUSAGE_CHILDREN covers them: its ru_maxrss is the largest single worker.
    rss_self = maxrss_mib(resource.RUSAGE_SELF)
    rss_children = maxrss_mib(resource.RUSAGE_CHILDREN)

    def rate(i, s):
        return round(i / s, 1) if s > 0 else None

    return {
        "pipeline": "torchvision+PIL",
        "torchvision": torchvision.__version__,
        "torch": torch.__version__,
        "pil": PIL.__version__,
        "libjpeg": libjpeg_version(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "workers": a.workers,
        "threads": a.threads,
        "batch_size": a.batch_size,
        "size": a.size,
        "scale": list(a.scale),
        "interpolation": "bicubic",
        "epochs": a.epochs,
        "warmup_batches": a.warmup_batches,
        "dataset_images": n,
        "images": timed_images,
        "seconds": round(seconds, 3),
        "images_per_s": rate(timed_images, seconds),
        "images_total": total_images,
        "seconds_total": round(total_seconds, 3),
        "images_per_s_total": rate(total_images, total_seconds),
        "images_steady": steady_images,
        "seconds_steady": round(steady_seconds, 3),
        "images_per_s_steady": rate(steady_images, steady_seconds),
        "cpu_seconds_total": round(cpu_total, 2),
        "images_per_cpu_s": rate(total_images, cpu_total),
        "epoch_seconds": [round(s, 3) for s in epoch_seconds],
        "first_batch_seconds": [round(s, 3) for s in first_batch_seconds],
        "batches": batches,
        "batch_shape": shape,
        "peak_rss_mib_self": rss_self,
        "peak_rss_mib_children": rss_children,
        "peak_rss_mib": round(rss_self + rss_children, 1),
        "loadavg_start": load_start,
    }


def main(argv=None):
    a = parse_args(argv)
    result = run(a)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
