"""StyleGAN-V motion path: motion noise on a coarse time grid -> motion codes u -> aligned
sinusoidal embedding v(t).

motion_z [B, L, z] sits on a grid of spacing δz. A padding-free conv1d stack turns it into codes
u_j (each seeing num_layers·(k-1)+1 consecutive noise vectors, so the sequence extends to any t).
For a time t with left/right anchors u_L = u_i, u_R = u_{i+1}, i = floor(t/δz), the embedding is

    e(τ) = [sin, cos](ω ⊙ s · τ + ρ ⊙ φ),   s = tanh(W_p u_L) + 1,  φ = W_φ u_L,  ρ = P_max / P
    v(t) = e(t) - [(1-α) e(t_L) + α e(t_R)] + [(1-α) a(u_L) + α a(u_R)]
    a(u) = W_a u,  α = (t - t_L)/δz

so v(t_L) = a(u_L) and v(t -> t_R) = a(u_R): v is continuous in t although s, φ jump at anchors.

Two alternatives the paper argues against are options of `MotionConfig`: `codes="lstm"`
(`LSTMMotionCodes`: an LSTM along the grid, MoCoGAN's motion, so u_j depends on all earlier noise)
and `embedding="raw"` (`RawTimeEncoder`: v(t) = e(t) alone, which jumps at every anchor).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from .config import MotionConfig
from .layers import EqLRConv1d, FullyConnectedLayer
from .utils import check_shape, needs_value_check

MOTION_CODES = ("conv1d", "lstm")  # MotionConfig.codes
MOTION_EMBEDDINGS = ("aligned", "raw")  # MotionConfig.embedding


def extra_noise(cfg: MotionConfig) -> int:
    """Noise vectors beyond one per code: the conv1d stack's num_layers·(k-1); 0 for the LSTM,
    which makes one code per noise vector."""
    return 0 if cfg.codes == "lstm" else cfg.num_layers * (cfg.kernel_size - 1)


def motion_z_length(cfg: MotionConfig, t_max: float) -> int:
    """Grid length L covering every t in [0, t_max].

    ceil(t_max/δz) grid steps + 2 anchors + the noise the code network consumes beyond one per
    code (`extra_noise`).
    """
    if not math.isfinite(t_max) or t_max < 0:
        raise ValueError(f"t_max must be a finite number >= 0, got {t_max}")
    return math.ceil(t_max / cfg.grid_spacing) + 2 + extra_noise(cfg)


def _tile_labels(x: torch.Tensor, c: torch.Tensor | None, c_dim: int, name: str) -> torch.Tensor:
    """x [B, L, z] -> [B, L, z + c_dim]: the label c [B, c_dim] repeated at every grid point."""
    if c_dim == 0:
        return x
    check_shape(c, [x.shape[0], c_dim], f"{name}: c")
    return torch.cat([x, c.float()[:, None, :].expand(-1, x.shape[1], -1)], dim=2)


class MotionMappingNetwork(nn.Module):
    """motion_z [B, L, z_dim] (+ c tiled over L) -> u [B, L - num_layers·(k-1), code_dim].

    A stack of padding-free conv1d layers, so each code sees only its receptive field.
    """

    def __init__(self, cfg: MotionConfig, c_dim: int = 0):
        super().__init__()
        self.c_dim = c_dim
        dims = [cfg.z_dim + c_dim] + [cfg.code_dim] * cfg.num_layers
        self.convs = nn.Sequential(
            *[
                EqLRConv1d(
                    a, b, cfg.kernel_size, activation="lrelu", lr_multiplier=cfg.lr_multiplier
                )
                for a, b in zip(dims[:-1], dims[1:])
            ]
        )
        self.receptive_field = cfg.num_layers * (cfg.kernel_size - 1) + 1
        self.recurrent = False  # u_j depends on the noise of its receptive field only

    def forward(self, motion_z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        x = motion_z.float()  # [B, L, z] (not normalised, as in the official code)
        if self.c_dim > 0:
            check_shape(c, [x.shape[0], self.c_dim], "MotionMappingNetwork: c")
            c_tiled = c.float()[:, None, :].expand(-1, x.shape[1], -1)  # [B, L, c]
            x = torch.cat([x, c_tiled], dim=2)  # [B, L, z + c]
        if x.shape[1] < self.receptive_field + 1:
            raise ValueError(
                f"motion_z has length {x.shape[1]}, needs >= {self.receptive_field + 1}"
            )
        return self.convs(x.transpose(1, 2)).transpose(1, 2)  # [B, L', code_dim]


class LSTMMotionCodes(nn.Module):
    """motion_z [B, L, z_dim] (+ c tiled over L) -> u [B, L, code_dim]: an LSTM along the grid.

    MoCoGAN's autoregressive motion (the official `gen_strategy: autoregressive`): one layer,
    unidirectional, hidden size code_dim (the official code uses z_dim; its configs have
    z_dim = code_dim), zero initial state, u_j = h_j. The LSTM is PyTorch's own, so no
    equalized-lr multiplier applies. u_j depends on motion_z[:, :j+1], all earlier noise: a window
    of a long sequence must start at grid index 0, and hidden states can drift over long videos
    (the paper's argument for the conv1d codes). torch.compile breaks its graph at the LSTM
    (Dynamo does not trace RNN modules unless `torch._dynamo.config.allow_rnn` is set).
    """

    def __init__(self, cfg: MotionConfig, c_dim: int = 0):
        super().__init__()
        self.c_dim = c_dim
        self.rnn = nn.LSTM(cfg.z_dim + c_dim, cfg.code_dim, batch_first=True)
        self.receptive_field = 1  # one code per noise vector...
        self.recurrent = True  # ...but each depends on every earlier one

    def forward(self, motion_z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        x = _tile_labels(motion_z.float(), c, self.c_dim, "LSTMMotionCodes")  # [B, L, z + c]
        if x.shape[1] < 2:
            raise ValueError(f"motion_z has length {x.shape[1]}, needs >= 2")
        u, _ = self.rnn(x)  # [B, L, code_dim]
        return u


def log_spaced_periods(min_period: float, max_period: float, num: int) -> torch.Tensor:
    """P_k = 2^linspace(log2 P_min, log2 P_max, K), longest first.  # [K]

    Reversed so that the frequencies ω = 2π/P ascend.
    """
    if not 0 < min_period <= max_period:
        raise ValueError(f"need 0 < min_period <= max_period, got {min_period}, {max_period}")
    p = torch.logspace(
        math.log2(min_period), math.log2(max_period), num, base=2.0, dtype=torch.float64
    )
    return p.flip(0)


class RawTimeEncoder(nn.Module):
    """(t, u_L, u_R, α, t_L, t_R) -> e(t) [.., 2K]: the acyclic sinusoids of the left anchor alone.

    No alignment: s and φ switch at every anchor, so e(t) jumps there (the embedding the paper's
    alignment repairs). Takes the same arguments as `AlignedTimeEncoder`; u_R, α, t_L, t_R are
    unused.
    """

    def __init__(self, cfg: MotionConfig):
        super().__init__()
        periods = log_spaced_periods(cfg.min_period, cfg.max_period, cfg.time_dim)
        omega = (2 * math.pi / periods).float()  # [K] ascending
        rho = (cfg.max_period / periods).float()  # [K] phase scales
        self.register_buffer("omega", omega, persistent=False)
        self.register_buffer("rho", rho, persistent=False)
        # bias-free on purpose: without biases every motion code yields a different wave
        # (against mode collapse)
        self.period_fc = FullyConnectedLayer(cfg.code_dim, cfg.time_dim, bias=False)
        self.phase_fc = FullyConnectedLayer(cfg.code_dim, cfg.time_dim, bias=False)

    def waves(self, u_left: torch.Tensor):
        """e(τ) = [sin, cos](ω ⊙ s · τ + ρ ⊙ φ) with s, φ from u_left [..., code_dim]."""
        s = torch.tanh(self.period_fc(u_left)) + 1  # frequency scales in (0, 2)
        phase = self.phase_fc(u_left) * self.rho

        def e(tau):  # [..., 1] -> [..., 2K]
            raw = self.omega * s * tau + phase
            return torch.cat([raw.sin(), raw.cos()], dim=-1)

        return e

    def forward(self, t, u_left, u_right, alpha, t_left, t_right) -> torch.Tensor:
        return self.waves(u_left)(t)


class AlignedTimeEncoder(RawTimeEncoder):
    """(t, u_L, u_R, α, t_L, t_R) -> v(t) [.., 2K].

    Acyclic sinusoids aligned to the anchors (see the module docstring).
    """

    def __init__(self, cfg: MotionConfig):
        super().__init__(cfg)
        self.aligner_fc = FullyConnectedLayer(cfg.code_dim, 2 * cfg.time_dim, bias=False)

    def forward(self, t, u_left, u_right, alpha, t_left, t_right) -> torch.Tensor:
        # t, alpha, t_left, t_right: [..., 1]; u_left, u_right: [..., code_dim]
        e = self.waves(u_left)  # all three use the left anchor's s and φ
        chord = (1 - alpha) * e(t_left) + alpha * e(t_right)
        align = (1 - alpha) * self.aligner_fc(u_left) + alpha * self.aligner_fc(u_right)
        return e(t) - chord + align


class MotionNetwork(nn.Module):
    """motion_embedding(t [B, F], motion_z [B, L, z_dim], c) -> v [B, F, 2K]."""

    def __init__(self, cfg: MotionConfig, c_dim: int = 0):
        super().__init__()
        self.cfg = cfg
        for name, value, allowed in (
            ("codes", cfg.codes, MOTION_CODES),
            ("embedding", cfg.embedding, MOTION_EMBEDDINGS),
        ):
            if value not in allowed:
                raise ValueError(
                    f"MotionConfig.{name} must be one of {', '.join(allowed)}, got {value!r}"
                )
        codes = LSTMMotionCodes if cfg.codes == "lstm" else MotionMappingNetwork
        self.mapping = codes(cfg, c_dim)
        encoder = RawTimeEncoder if cfg.embedding == "raw" else AlignedTimeEncoder
        self.time_encoder = encoder(cfg)
        self.out_dim = 2 * cfg.time_dim

    def num_codes(self, length: int) -> int:
        return length - self.mapping.receptive_field + 1

    def check_times(self, t: torch.Tensor, length: int, first_code: int = 0) -> None:
        """Raise ValueError unless every t [B, F] is finite, >= 0 and covered by the codes of a
        motion_z of `length` grid steps whose first step has grid index `first_code`.

        One host sync on an accelerator; the training step runs it on its CPU times instead
        (`utils.values_checked_on_host`)."""
        dz, num_codes = self.cfg.grid_spacing, self.num_codes(length)
        t = t.float()
        local = torch.floor(t / dz).long() - first_code  # [B, F] left anchor, in this window
        bad = (t < 0).any() | ~torch.isfinite(t).all()
        if t.numel():
            bad = bad | (local.max() + 1 >= num_codes) | (local.min() < 0)
        if bool(bad):  # one host sync for all checks
            if bool((t < 0).any()) or not bool(torch.isfinite(t).all()):
                raise ValueError("motion_embedding: t must be finite and >= 0")
            lo, hi = first_code * dz, (first_code + num_codes - 1) * dz
            t_lo, t_hi = float(t.min()), float(t.max())
            raise ValueError(
                f"motion_z of length {length} (first_code={first_code}) covers "
                f"{lo:g} <= t < {hi:g}, but t spans [{t_lo:g}, {t_hi:g}]; "
                f"use sample_motion_z(..., t_max) with a larger t_max"
            )

    def forward(
        self,
        t: torch.Tensor,
        motion_z: torch.Tensor,
        c: torch.Tensor | None = None,
        first_code: int = 0,
    ) -> torch.Tensor:
        """first_code: grid index of motion_z[:, 0].

        A window of a long noise sequence then gives the same v(t) as the whole sequence, so chunked
        generation maps only the noise near each chunk. LSTM codes depend on all earlier noise, so
        for them the window must start at grid index 0.
        """
        if self.mapping.recurrent and first_code != 0:
            raise ValueError(
                f"motion_embedding: LSTM motion codes need the noise from grid index 0, got "
                f"first_code={first_code}"
            )
        check_shape(t, ["B", "F"], "motion_embedding: t")
        check_shape(motion_z, [t.shape[0], "L", self.cfg.z_dim], "motion_embedding: motion_z")
        dz = self.cfg.grid_spacing
        # fp32 throughout: the phases ω·s·t reach thousands of radians, far beyond bf16/fp16
        # precision
        with torch.autocast(device_type=t.device.type, enabled=False):
            t = t.float()
            u = self.mapping(motion_z, c)  # [B, Lu, D]
            idx = torch.floor(t / dz).long()  # [B, F] left anchor index i
            local = idx - first_code  # its position in this window of codes
            if needs_value_check(t):
                self.check_times(t, motion_z.shape[1], first_code)
            gather = lambda j: torch.gather(u, 1, j[..., None].expand(-1, -1, u.shape[2]))
            u_left, u_right = gather(local), gather(local + 1)  # [B, F, D]
            t_left = idx.float() * dz
            alpha = (t - t_left) / dz
            v = self.time_encoder(
                t[..., None],
                u_left,
                u_right,
                alpha[..., None],
                t_left[..., None],
                (t_left + dz)[..., None],
            )
        return v  # [B, F, 2K]
