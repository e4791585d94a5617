"""StyleGAN-V generator: StyleGAN2 'skip' synthesis whose 4x4 input is a learned constant ⊕ the motion embedding v(t).

Content: z -> mapping -> w, the same w for every frame of a video. Motion: motion_z -> u codes -> v(t) (svlib.motion),
concatenated channel-wise with the constant at 4x4 and fed to the first modulated conv. cfg.motion None gives a plain
StyleGAN2 image generator (t then only sets the number of frames F).
"""

from __future__ import annotations

import torch
import torch.nn as nn

from .config import GeneratorConfig
from .layers import MappingNetwork, SynthesisBlock
from .motion import MotionNetwork, motion_z_length


def _check_resolution(res: int, name: str, minimum: int = 4) -> int:
    if not isinstance(res, int) or res < minimum or res & (res - 1):
        raise ValueError(f"{name}: resolution must be a power of two >= {minimum}, got {res!r}")
    return res.bit_length() - 1


class Generator(nn.Module):
    """G(z [B, z_dim], t [B, F]) -> frames [B, F, C, H, W] in about [-1, 1]."""

    def __init__(self, cfg: GeneratorConfig):
        super().__init__()
        self.cfg = cfg
        log2 = _check_resolution(cfg.resolution, "GeneratorConfig")
        ch = lambda r: min(cfg.channel_base // r, cfg.channel_max)
        self.mapping = MappingNetwork(
            cfg.z_dim,
            cfg.c_dim,
            cfg.w_dim,
            cfg.mapping_layers,
            cfg.mapping_lr_multiplier,
            cfg.w_avg_beta,
        )
        self.motion = MotionNetwork(cfg.motion, cfg.c_dim) if cfg.motion is not None else None
        v_dim = self.motion.out_dim if self.motion is not None else 0
        self.const = nn.Parameter(torch.randn(1, ch(4), 4, 4))  # [1, C4, 4, 4]
        self.blocks = nn.ModuleList()
        for r in (2**i for i in range(2, log2 + 1)):
            self.blocks.append(
                SynthesisBlock(
                    0 if r == 4 else ch(r // 2),
                    ch(r),
                    cfg.w_dim,
                    r,
                    cfg.img_channels,
                    conv_clamp=cfg.conv_clamp,
                    conv1_in=ch(4) + v_dim if r == 4 else None,
                )
            )
        # Modulated-conv form: False scales activations around one shared-weight conv (fast for many frames);
        # True uses per-sample weights in a grouped conv. Both compute the same function.
        self.fused_modconv = False

    @property
    def w_avg(self) -> torch.Tensor:  # [w_dim], EMA of w for truncation
        return self.mapping.w_avg

    @property
    def z_dim(self) -> int:
        return self.cfg.z_dim

    def _device(self, device=None) -> torch.device:
        return torch.device(device) if device is not None else self.const.device

    def sample_motion_z(
        self, batch_size: int, t_max: float, generator: torch.Generator | None = None, device=None
    ) -> torch.Tensor | None:
        """motion_z [B, L, motion.z_dim] covering every t in [0, t_max] (None in image mode).

        Drawn time-major ([L, B, z] then transposed), so with the same generator seed a longer draw is an extension
        of a shorter one for every video: frames at the covered t stay identical.
        """
        if self.motion is None:
            return None
        L = motion_z_length(self.cfg.motion, float(t_max))
        gdev = generator.device if generator is not None else self._device(device)
        z = torch.randn(L, batch_size, self.cfg.motion.z_dim, generator=generator, device=gdev)
        return z.transpose(0, 1).contiguous().to(self._device(device))

    def motion_embedding(
        self,
        t: torch.Tensor,
        motion_z: torch.Tensor,
        c: torch.Tensor | None = None,
        first_code: int = 0,
    ):
        """v(t) [B, F, 2K] (fp32, computed outside autocast); first_code: grid index of motion_z[:, 0]."""
        if self.motion is None:
            raise ValueError(
                "motion_embedding: this generator has no motion path (cfg.motion is None)"
            )
        return self.motion(t, motion_z, c, first_code)

    def _times(self, t, batch_size: int) -> torch.Tensor:
        t = torch.as_tensor(t, device=self.const.device)
        if t.ndim == 1:
            t = t[None].expand(batch_size, -1)
        if t.ndim != 2 or t.shape[0] != batch_size or t.shape[1] < 1:
            raise ValueError(f"t must be [B={batch_size}, F>=1] (or [F]), got {tuple(t.shape)}")
        return t.float()

    def synthesis(
        self,
        w: torch.Tensor,
        t: torch.Tensor,
        motion_z: torch.Tensor | None = None,
        c: torch.Tensor | None = None,
        first_code: int = 0,
    ) -> torch.Tensor:
        """w [B, w_dim], t [B, F] -> frames [B, F, C, H, W]. motion_z None: drawn from the global RNG to cover max t.
        first_code: grid index of motion_z[:, 0] when motion_z is a window of a longer noise sequence."""
        if w.ndim != 2 or w.shape[1] != self.cfg.w_dim:
            raise ValueError(f"synthesis: w must be [B, {self.cfg.w_dim}], got {tuple(w.shape)}")
        B = w.shape[0]
        t = self._times(t, B)
        F_ = t.shape[1]
        ws = w.repeat_interleave(
            F_, dim=0
        )  # [B·F, w_dim], video-major: same w for all frames of a video
        x = self.const.expand(B * F_, -1, -1, -1)  # [B·F, C4, 4, 4]
        if self.motion is not None:
            if motion_z is None:
                motion_z = self.sample_motion_z(B, float(t.max()))
            v = self.motion(t, motion_z, c, first_code).reshape(B * F_, -1)  # [B·F, 2K]
            x = torch.cat(
                [x, v[:, :, None, None].expand(-1, -1, 4, 4).to(x.dtype)], dim=1
            )  # [B·F, C4+2K, 4, 4]
        img = None
        for block in self.blocks:
            x, img = block(x, img, ws, fused=self.fused_modconv)
        return img.float().reshape(B, F_, *img.shape[1:])  # [B, F, C, H, W]

    def forward(
        self,
        z: torch.Tensor,
        t: torch.Tensor,
        c: torch.Tensor | None = None,
        motion_z: torch.Tensor | None = None,
        truncation_psi: float = 1.0,
        update_w_avg: bool = False,
    ) -> torch.Tensor:
        w = self.mapping(
            z, c, truncation_psi=truncation_psi, update_w_avg=update_w_avg
        )  # [B, w_dim]
        return self.synthesis(w, t, motion_z=motion_z, c=c)
