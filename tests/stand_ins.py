"""Small modules shared by several test files."""

import torch
import torch.nn as nn


class TinyD(nn.Module):
    """Stand-in video D: shared conv per frame, frames + time gaps concatenated -> [B] logits."""

    def __init__(self, Fn=3, C=3):
        super().__init__()
        self.conv = nn.Conv2d(C, 4, 3, stride=2, padding=1)
        self.head = nn.Linear(Fn * 4 + Fn - 1, 1)

    def forward(self, x, t, c=None):
        B, Fn = x.shape[:2]
        h = nn.functional.softplus(self.conv(x.flatten(0, 1))).mean((2, 3)).view(B, Fn * 4)
        return self.head(torch.cat([h, t.diff(dim=1)], 1)).squeeze(1)
