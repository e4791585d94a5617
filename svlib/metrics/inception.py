"""FID InceptionV3 (the TF 2015-12-05 graph in the layout of the common PyTorch FID packages):
2048-d pool3 features.

Weights are loaded ONLY from a user-supplied file, e.g. pytorch-fid's
`pt_inception-2015-12-05-6726825d.pth` (a state_dict with torchvision Inception3 key names, 1008-way
fc). Nothing is downloaded; without weights there is no FID (an UNTRAINED network is available for
plumbing tests and is labelled as such).
FID-specific differences from torchvision's Inception3 (they matter for matching TF): the average
pools in the A/C/E blocks exclude padding (count_include_pad=False) and the last E block pools with
max instead of average.
Input: images in [0, 1] (or uint8), resized to 299x299 (bilinear, align_corners=False), then mapped
to [-1, 1].
"""

from __future__ import annotations

import os

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..checks import load_weights_into

NAME_UNTRAINED = "UNTRAINED inception-v3 (plumbing only)"


class BasicConv2d(nn.Module):
    def __init__(self, cin, cout, kernel, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


def _avg3(x):  # FID variant: padding not counted
    return F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)


class InceptionA(nn.Module):
    def __init__(self, cin, pool_features):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 64, 1)
        self.branch5x5_1, self.branch5x5_2 = (
            BasicConv2d(cin, 48, 1),
            BasicConv2d(48, 64, 5, padding=2),
        )
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, 1)
        self.branch3x3dbl_2, self.branch3x3dbl_3 = (
            BasicConv2d(64, 96, 3, padding=1),
            BasicConv2d(96, 96, 3, padding=1),
        )
        self.branch_pool = BasicConv2d(cin, pool_features, 1)

    def forward(self, x):
        return torch.cat(
            [
                self.branch1x1(x),
                self.branch5x5_2(self.branch5x5_1(x)),
                self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                self.branch_pool(_avg3(x)),
            ],
            1,
        )


class InceptionB(nn.Module):
    def __init__(self, cin):
        super().__init__()
        self.branch3x3 = BasicConv2d(cin, 384, 3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, 1)
        self.branch3x3dbl_2, self.branch3x3dbl_3 = (
            BasicConv2d(64, 96, 3, padding=1),
            BasicConv2d(96, 96, 3, stride=2),
        )

    def forward(self, x):
        return torch.cat(
            [
                self.branch3x3(x),
                self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                F.max_pool2d(x, 3, 2),
            ],
            1,
        )


class InceptionC(nn.Module):
    def __init__(self, cin, c7):
        super().__init__()
        row, col = dict(kernel=(1, 7), padding=(0, 3)), dict(kernel=(7, 1), padding=(3, 0))
        self.branch1x1 = BasicConv2d(cin, 192, 1)
        self.branch7x7_1, self.branch7x7_2 = BasicConv2d(cin, c7, 1), BasicConv2d(c7, c7, **row)
        self.branch7x7_3 = BasicConv2d(c7, 192, **col)
        self.branch7x7dbl_1, self.branch7x7dbl_2 = (
            BasicConv2d(cin, c7, 1),
            BasicConv2d(c7, c7, **col),
        )
        self.branch7x7dbl_3, self.branch7x7dbl_4 = (
            BasicConv2d(c7, c7, **row),
            BasicConv2d(c7, c7, **col),
        )
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, **row)
        self.branch_pool = BasicConv2d(cin, 192, 1)

    def forward(self, x):
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = x
        for i in range(1, 6):
            d = getattr(self, f"branch7x7dbl_{i}")(d)
        return torch.cat([self.branch1x1(x), b7, d, self.branch_pool(_avg3(x))], 1)


class InceptionD(nn.Module):
    def __init__(self, cin):
        super().__init__()
        self.branch3x3_1, self.branch3x3_2 = (
            BasicConv2d(cin, 192, 1),
            BasicConv2d(192, 320, 3, stride=2),
        )
        self.branch7x7x3_1 = BasicConv2d(cin, 192, 1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, 3, stride=2)

    def forward(self, x):
        b = x
        for i in range(1, 5):
            b = getattr(self, f"branch7x7x3_{i}")(b)
        return torch.cat([self.branch3x3_2(self.branch3x3_1(x)), b, F.max_pool2d(x, 3, 2)], 1)


class InceptionE(nn.Module):
    def __init__(self, cin, max_pool: bool):
        super().__init__()
        self.max_pool = max_pool  # FID's last block (Mixed_7c) uses max
        self.branch1x1 = BasicConv2d(cin, 320, 1)
        self.branch3x3_1 = BasicConv2d(cin, 384, 1)
        self.branch3x3_2a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1, self.branch3x3dbl_2 = (
            BasicConv2d(cin, 448, 1),
            BasicConv2d(448, 384, 3, padding=1),
        )
        self.branch3x3dbl_3a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, 192, 1)

    def forward(self, x):
        b3 = self.branch3x3_1(x)
        d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        pool = F.max_pool2d(x, 3, 1, 1) if self.max_pool else _avg3(x)
        return torch.cat(
            [
                self.branch1x1(x),
                self.branch3x3_2a(b3),
                self.branch3x3_2b(b3),
                self.branch3x3dbl_3a(d),
                self.branch3x3dbl_3b(d),
                self.branch_pool(pool),
            ],
            1,
        )


class FIDInceptionV3(nn.Module):
    """x [N, 3, H, W] in [0, 1] or uint8 -> pool3 features [N, 2048]."""

    feature_dim = 2048

    def __init__(self, name: str = NAME_UNTRAINED, untrained: bool = True):
        super().__init__()
        self.name, self.untrained = name, untrained
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, 3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, 1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, 3)
        self.Mixed_5b, self.Mixed_5c, self.Mixed_5d = (
            InceptionA(192, 32),
            InceptionA(256, 64),
            InceptionA(288, 64),
        )
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b, self.Mixed_6c = InceptionC(768, 128), InceptionC(768, 160)
        self.Mixed_6d, self.Mixed_6e = InceptionC(768, 160), InceptionC(768, 192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b, self.Mixed_7c = (
            InceptionE(1280, max_pool=False),
            InceptionE(2048, max_pool=True),
        )
        self.fc = nn.Linear(2048, 1008)  # unused; present so the .pth loads strictly
        self.eval().requires_grad_(False)

    @torch.no_grad()
    def forward(self, x):
        x = x.float() / 255 if x.dtype == torch.uint8 else x.float()
        x = (
            F.interpolate(x, (299, 299), mode="bilinear", align_corners=False) * 2 - 1
        )  # [N, 3, 299, 299]
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(F.max_pool2d(x, 3, 2)))
        x = F.max_pool2d(x, 3, 2)  # [N, 192, 35, 35]
        for name in ("5b", "5c", "5d", "6a", "6b", "6c", "6d", "6e", "7a", "7b", "7c"):
            x = getattr(self, "Mixed_" + name)(x)  # [N, 2048, 8, 8] at the end
        return x.mean(dim=(2, 3))  # [N, 2048]


def load_inception(path: str | None, *, untrained: bool = False, device=None) -> FIDInceptionV3:
    """FID InceptionV3 from a user weights file (pytorch-fid layout). Never downloads anything."""
    if untrained:
        net = FIDInceptionV3()
    else:
        if path is None:
            raise FileNotFoundError(
                "FID needs the FID InceptionV3 weights (e.g. pytorch-fid's "
                "pt_inception-2015-12-05-6726825d.pth); svlib downloads nothing. Pass "
                "inception_weights=PATH (CLI: --inception PATH). "
                "Without them, report a proxy metric instead of 'FID'."
            )
        if not os.path.isfile(path):
            raise FileNotFoundError(f"FID Inception weights file not found: {path}")
        net = FIDInceptionV3(f"inception-v3 FID ({os.path.basename(path)})", untrained=False)
        load_weights_into(net, path, "FID Inception")
    return net.to(device) if device is not None else net
