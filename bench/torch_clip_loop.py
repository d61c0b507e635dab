#!/usr/bin/env python3
"""Reference training loop: the CLIP of an mmcl preset in plain PyTorch, timed as `mmcl bench` times it.

The model follows open_clip's CLIP (and mmcl's): a ViT image tower (patch convolution without bias,
class token, learned positions, ln_pre, pre-LN blocks with a fused q/k/v projection, F.scaled_dot_product_attention and GELU MLPs,
ln_post on the class token, a projection), a text tower (token embedding, learned positions, causal
pre-LN blocks, ln_final, the end token's state through a projection), normalised embeddings and the
symmetric InfoNCE with a learned logit scale; AdamW (lr 5e-4, betas 0.9/0.98, eps 1e-6, weight decay
0.2 on matrices). Synthetic inputs of the same shapes as mmcl's: random images, captions of random
length ending in the largest id. Steps: forward + backward + AdamW, after warm-up steps; prints ONE
line of JSON (samples/s from the median step, step-time percentiles, the forward pass alone in eval
mode as inference samples/s, peak RSS).

    .venv/bin/python bench/torch_clip_loop.py --preset configs/models/clip-vit-tiny.yaml --batch 64 --threads 2
    .venv/bin/python bench/torch_clip_loop.py --preset configs/models/clip-vit-s32.yaml --precision amp_bf16

Runs with the project venv's torch (the LibTorch mmcl links) and PyYAML (make bench-train installs it).
"""

import argparse
import json
import math
import resource
import statistics
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import yaml
except ImportError as e:  # pragma: no cover - depends on the machine
    sys.exit(f"torch_clip_loop.py: {e}\nneeds torch and PyYAML: run it with the project "
             "venv's python after .venv/bin/pip install pyyaml")


LayerNorm = nn.LayerNorm  # torch 2.x mixes a bfloat16 input with float32 weights, as mmcl does


class Attention(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.heads = heads
        self.in_proj = nn.Linear(width, 3 * width)
        self.out_proj = nn.Linear(width, width)

    def forward(self, x, mask=None):
        b, n, d = x.shape
        q, k, v = self.in_proj(x).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        # open_clip's fused_attn path; the additive mask in the queries' type, as mmcl passes it.
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=None if mask is None else mask.to(q.dtype))
        return self.out_proj(out.transpose(1, 2).reshape(b, n, d))


class Block(nn.Module):
    def __init__(self, width, heads, mlp_ratio):
        super().__init__()
        self.ln_1 = LayerNorm(width)
        self.attn = Attention(width, heads)
        self.ln_2 = LayerNorm(width)
        hidden = int(width * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(width, hidden), nn.GELU(), nn.Linear(hidden, width))

    def forward(self, x, mask=None):
        x = x + self.attn(self.ln_1(x), mask)
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, width, layers, heads, mlp_ratio):
        super().__init__()
        self.blocks = nn.ModuleList(Block(width, heads, mlp_ratio) for _ in range(layers))

    def forward(self, x, mask=None):
        for b in self.blocks:
            x = b(x, mask)
        return x


class Clip(nn.Module):
    def __init__(self, c):
        super().__init__()
        v, t, e = c["vision"], c["text"], c["embed_dim"]
        grid = v["image_size"] // v["patch_size"]
        s = v["width"] ** -0.5
        self.conv1 = nn.Conv2d(3, v["width"], v["patch_size"], v["patch_size"], bias=False)
        self.class_embedding = nn.Parameter(torch.randn(v["width"]) * s)
        self.vpos = nn.Parameter(torch.randn(grid * grid + 1, v["width"]) * s)
        self.ln_pre = LayerNorm(v["width"])
        self.visual = Transformer(v["width"], v["layers"], v["width"] // v["head_width"], v["mlp_ratio"])
        self.ln_post = LayerNorm(v["width"])
        self.proj = nn.Parameter(torch.randn(v["width"], e) * s)
        self.token_embedding = nn.Embedding(t["vocab_size"], t["width"])
        self.tpos = nn.Parameter(torch.randn(t["context_length"], t["width"]) * 0.01)
        self.text = Transformer(t["width"], t["layers"], t["heads"], t["mlp_ratio"])
        self.ln_final = LayerNorm(t["width"])
        self.text_projection = nn.Parameter(torch.randn(t["width"], e) * t["width"] ** -0.5)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
        L = t["context_length"]
        self.register_buffer("mask", torch.full((L, L), float("-inf")).triu(1), persistent=False)

    def encode_image(self, x):
        x = self.conv1(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1), x], 1) + self.vpos.to(x.dtype)
        x = self.visual(self.ln_pre(x))
        return self.ln_post(x[:, 0]) @ self.proj

    def encode_text(self, ids):
        x = self.token_embedding(ids) + self.tpos
        x = self.ln_final(self.text(x, self.mask.to(x.dtype)))
        return x[torch.arange(x.shape[0]), ids.argmax(-1)] @ self.text_projection

    def forward(self, images, ids):
        a = F.normalize(self.encode_image(images), dim=-1)
        b = F.normalize(self.encode_text(ids), dim=-1)
        return a, b, self.logit_scale.exp()


def clip_loss(a, b, scale):
    logits = scale * a.float() @ b.float().t()
    labels = torch.arange(a.shape[0])
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)) / 2


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", required=True, help="an mmcl CLIP preset YAML (configs/models/...)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--precision", choices=["fp32", "amp_bf16"], default="fp32")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--profile", type=int, nargs="?", const=3, default=0, metavar="N",
                   help="also run N (3) more training steps and forward passes under torch.profiler and report each "
                        "operator's self CPU time per step (the JSON's profile, as `mmcl bench train --profile` does)")
    p.add_argument("--peer", choices=["loop", "openclip"], default="loop",
                   help="loop: the model written out here; openclip: open_clip's own CLIP class built from the "
                        "preset (pip install open_clip_torch in the same venv), weight decay as its trainer sets it")
    a = p.parse_args(argv)
    c = yaml.safe_load(open(a.preset))
    if c.get("name", "clip") != "clip":
        sys.exit(f"{a.preset}: not a CLIP preset")
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    if a.peer == "openclip":
        import open_clip
        v, t = c["vision"], c["text"]
        model = open_clip.model.CLIP(
            embed_dim=c["embed_dim"], quick_gelu=c.get("quick_gelu", False),
            vision_cfg=dict(layers=v["layers"], width=v["width"], head_width=v["head_width"],
                            mlp_ratio=v.get("mlp_ratio", 4.0), patch_size=v["patch_size"], image_size=v["image_size"]),
            text_cfg=dict(context_length=t["context_length"], vocab_size=t["vocab_size"], width=t["width"],
                          heads=t["heads"], layers=t["layers"], mlp_ratio=t.get("mlp_ratio", 4.0)))
        # open_clip_train's rule: no decay for gains, biases, norms and the logit scale.
        excluded = lambda n, p: p.ndim < 2 or "bn" in n or "ln" in n or "bias" in n or "logit_scale" in n
    else:
        model = Clip(c)
        excluded = lambda n, p: not (p.ndim >= 2 and "embedding" not in n and "pos" not in n)
    decay = [p for n, p in model.named_parameters() if not excluded(n, p)]
    rest = [p for n, p in model.named_parameters() if excluded(n, p)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.2}, {"params": rest, "weight_decay": 0.0}],
                            lr=5e-4, betas=(0.9, 0.98), eps=1e-6)
    v, t = c["vision"], c["text"]
    n, L, V = a.batch, t["context_length"], t["vocab_size"]
    images = torch.randn(n, 3, v["image_size"], v["image_size"])
    ids = torch.zeros(n, L, dtype=torch.long)
    for i in range(n):
        words = 2 + i % max(1, L - 3)
        ids[i, :words] = torch.randint(1, V - 1, (words,))
        ids[i, words] = V - 1

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.precision == "amp_bf16"):
            x, y, s = model(images, ids)
            loss = clip_loss(x, y, s)
        loss.backward()
        opt.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        return loss

    model.train()
    for _ in range(a.warmup):
        step()
    times = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    # Inference as mmcl bench times it: the forward pass alone, eval mode, no gradients.
    model.eval()
    inference = []
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.precision == "amp_bf16"):
        for i in range(a.warmup + a.steps):
            t0 = time.perf_counter()
            model(images, ids)
            if i >= a.warmup:
                inference.append(time.perf_counter() - t0)
    profile = None
    if a.profile:
        def profiled(run):
            with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
                t0 = time.perf_counter()
                for _ in range(a.profile):
                    run()
                seconds = (time.perf_counter() - t0) / a.profile
            # Per operator name, self time; inside torch.optim's step scope named "Optimizer.step/<op>", as
            # mmcl's OpProfiler names them.
            ops = {}
            for e in prof.events():
                parent, inside = e.cpu_parent, False
                while parent is not None and not inside:
                    inside, parent = parent.name.startswith("Optimizer.step"), parent.cpu_parent
                o = ops.setdefault(("Optimizer.step/" if inside else "") + e.name, {"calls": 0, "self_s": 0.0})
                o["calls"] += 1
                o["self_s"] += e.self_cpu_time_total * 1e-6
            ops = [{"op": k, "calls": v["calls"] // a.profile, "self_s": v["self_s"] / a.profile} for k, v in ops.items()]
            return {"step_s": seconds, "ops": sorted(ops, key=lambda o: -o["self_s"])}
        model.train()
        train_profile = profiled(step)
        model.eval()
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.precision == "amp_bf16"):
            profile = {"train": train_profile, "inference": profiled(lambda: model(images, ids))}
    times.sort()
    p50 = statistics.median(times)
    q = lambda f: times[min(len(times) - 1, int(round(f * (len(times) - 1))))]
    print(json.dumps({"side": "openclip" if a.peer == "openclip" else "pytorch", "torch": torch.__version__, "preset": a.preset, "batch": n,
                      "precision": a.precision, "threads": a.threads, "samples_per_s": n / p50,
                      "inference_samples_per_s": n / statistics.median(inference),
                      "step_s": {"p50": p50, "p90": q(0.9), "p99": q(0.99), "min": times[0], "max": times[-1]},
                      "parameters": sum(p.numel() for p in model.parameters()),
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      **({"profile": profile} if profile else {})}))


if __name__ == "__main__":
    main()
