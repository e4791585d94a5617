"""Stand-ins for the metric tests: clips with known content, a cheap detector, a tiny generator."""

import numpy as np
import torch

from svlib.config import MotionConfig
from svlib.motion import motion_z_length


class StatsDetector(torch.nn.Module):
    """Cheap stand-in for I3D: per-clip colour mean/std and motion energy, [N, 7]; counts calls."""

    name, untrained = "stand-in stats detector (test)", True

    def __init__(self):
        super().__init__()
        self.calls, self.clips = 0, 0
        self.anchor = torch.nn.Parameter(torch.zeros(()))

    def forward(self, v):  # uint8 [N, T, H, W, 3]
        self.calls, self.clips = self.calls + 1, self.clips + len(v)
        x = torch.as_tensor(v).float() / 255
        motion = (x[:, 1:] - x[:, :-1]).abs().mean((1, 2, 3, 4))[:, None]
        return torch.cat([x.mean((1, 2, 3)), x.std((1, 2, 3)), motion], 1)


def dots(n, length=24, res=16, seed=0):
    """n videos of a coloured dot moving linearly: list of uint8 [length, res, res, 3]."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:res, 0:res]
    out = []
    for _ in range(n):
        p, v, col = rng.uniform(3, res - 3, 2), rng.uniform(-0.3, 0.3, 2), rng.uniform(80, 255, 3)
        c = p + v * np.arange(length)[:, None]  # [L, 2]
        a = np.clip(2.5 - np.hypot(x - c[:, 0, None, None], y - c[:, 1, None, None]), 0, 1)
        out.append((a[..., None] * col + 10).astype(np.uint8))
    return out


class TinyGenerator(torch.nn.Module):
    """Stand-in with the svlib Generator API (mapping, synthesis on a window of motion noise): a dot
    whose position is a smooth function of (w, t, motion_z)."""

    class cfg:
        z_dim, c_dim, resolution = 4, 0, 16
        motion = MotionConfig(
            z_dim=2,
            code_dim=2,
            time_dim=1,
            min_period=16,
            max_period=16,
            kernel_size=1,
            num_layers=1,
        )

    def __init__(self):
        super().__init__()
        self.net = torch.nn.Linear(4, 2)

    def mapping(self, z, c=None, truncation_psi=1.0):
        return self.net(z)  # [B, 2]

    def sample_motion_z(self, batch_size, t_max, generator=None, device=None):
        L = motion_z_length(self.cfg.motion, t_max)
        return torch.randn(batch_size, L, 2, generator=generator).to(device or "cpu")

    def synthesis(self, w, t, motion_z=None, c=None, first_code=0):
        g = (
            t / self.cfg.motion.grid_spacing - first_code
        )  # position on this window's grid  # [B, F]
        i = g.floor().long()
        take = lambda j: torch.gather(motion_z, 1, j[..., None].expand(-1, -1, 2))  # [B, F, 2]
        a = (g - i)[..., None]
        phase = (1 - a) * take(i) + a * take(i + 1)  # noise interpolated along t
        pos = 8 + 3 * torch.tanh(w)[:, None] + torch.sin(t[..., None] / 9 + phase)  # [B, F, 2]
        y, x = torch.meshgrid(torch.arange(16.0), torch.arange(16.0), indexing="ij")
        d = torch.hypot(x - pos[..., 0, None, None], y - pos[..., 1, None, None])
        dot = torch.clamp(2.5 - d, 0, 1) * 2 - 1  # [B, F, H, W]
        return dot[:, :, None].expand(-1, -1, 3, -1, -1)  # [B, F, 3, H, W]


class TinyInception(torch.nn.Module):
    """Stand-in FID network: per-image colour means and spread, [N, 6]."""

    name, untrained = "stand-in inception (test)", True

    def forward(self, x):  # uint8 [N, 3, H, W]
        x = x.float() / 255
        return torch.cat([x.mean((2, 3)), x.std((2, 3))], 1)
