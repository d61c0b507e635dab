#!/usr/bin/env python3
"""Reference outputs of torchvision's ResNets for mmcl's SimCLR backbone (model.vision.tower resnet18 ...).

Writes, for each architecture, OUT/<arch>.safetensors (torchvision's state dict, fc included, batch-norm
statistics and affine parameters randomised so that evaluation mode is not the identity) and
OUT/<arch>_io.safetensors ("input" [2, 3, 64, 64] and "features": the global-average-pooled features
in evaluation mode, fc removed). With --names, prints the state dict's names and shapes instead (the
fixture tests/fixtures/models/torchvision_<arch>.txt).
"""
import argparse
import os

import torch
import torchvision
from safetensors.torch import save_file


def build(arch):
    torch.manual_seed(0)
    m = getattr(torchvision.models, arch)(weights=None)
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.2, 0.2)
                mod.running_var.uniform_(0.5, 1.5)
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.2, 0.2)
    return m.eval()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out", nargs="?")
    p.add_argument("--arch", default="resnet18,resnet50")
    p.add_argument("--names", action="store_true")
    a = p.parse_args()
    for arch in a.arch.split(","):
        m = build(arch)
        sd = m.state_dict()
        if a.names:
            for k, v in sd.items():
                if not k.startswith("fc."):
                    print(k, "x".join(str(s) for s in v.shape) or "scalar")
            continue
        os.makedirs(a.out, exist_ok=True)
        save_file({k: v.contiguous() for k, v in sd.items()}, os.path.join(a.out, arch + ".safetensors"))
        x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
        m.fc = torch.nn.Identity()
        with torch.no_grad():
            f = m(x)
        save_file({"input": x, "features": f.contiguous()}, os.path.join(a.out, arch + "_io.safetensors"))


if __name__ == "__main__":
    main()
