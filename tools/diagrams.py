"""Draw the book's architecture diagrams from the real configuration.

Every size in the figures (channels, resolutions, grid spacing, periods, gap-code widths) is read
from a preset and from networks built on PyTorch's `meta` device, so the drawings follow the model.

    python tools/diagrams.py [--out book/figures] [--preset paper256]

Writes generator.png, motion_path.png and holistic_discriminator.png, and samples.gif (the shipped
generator's videos, for the landing page).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from matplotlib.patches import FancyBboxPatch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import svlib  # noqa: E402
from svlib.models import build_models  # noqa: E402

BLUE, ORANGE, GREEN, GREY, PURPLE = "#dbe8f6", "#fde3c8", "#dcefd9", "#eeeeee", "#e8defa"
DPI = 150


def _box(ax, x, y, w, h, text, color=GREY, size=10, weight="normal"):
    """A rounded box centred at (x, y), w x h in axis units, with centred text."""
    ax.add_patch(
        FancyBboxPatch(
            (x - w / 2, y - h / 2),
            w,
            h,
            boxstyle="round,pad=0.02,rounding_size=0.08",
            fc=color,
            ec="#555555",
            lw=1.0,
        )
    )
    ax.text(x, y, text, ha="center", va="center", fontsize=size, weight=weight, linespacing=1.3)


def _arrow(ax, a, b, text=None, color="#333333", style="-|>", rad=0.0, size=9, offset=(0, 0.12)):
    ax.annotate(
        "",
        xy=b,
        xytext=a,
        arrowprops=dict(
            arrowstyle=style, color=color, lw=1.2, shrinkA=0, shrinkB=0,
            connectionstyle=f"arc3,rad={rad}",
        ),
    )  # fmt: skip
    if text:
        mx, my = (a[0] + b[0]) / 2 + offset[0], (a[1] + b[1]) / 2 + offset[1]
        ax.text(mx, my, text, ha="center", va="bottom", fontsize=size, color="#333333")


def _canvas(w, h, xlim, ylim):
    fig, ax = plt.subplots(figsize=(w, h))
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.axis("off")
    return fig, ax


def generator_figure(cfg):
    """Mapping; motion noise -> conv1d codes -> v(t); const ⊕ v(t) at 4x4; skip synthesis."""
    with torch.device("meta"):
        G, _ = build_models(cfg)
    m = cfg.G.motion
    K = m.time_dim
    c4 = G.const.shape[1]
    blocks = [(b.resolution, b.conv1.weight.shape[1], b.conv1.weight.shape[0]) for b in G.blocks]
    first_in = G.blocks[0].conv1.weight.shape[1]
    fig, ax = _canvas(13, 6.4, (0, 13), (0, 6.4))
    ax.text(
        0.1, 6.15, f"StyleGAN-V generator G(z, t), {cfg.name} preset", fontsize=13, weight="bold"
    )

    # content path
    _box(ax, 1.2, 5.2, 1.9, 0.7, f"content code\nz ~ N(0, I)  [{cfg.G.z_dim}]", ORANGE)
    _box(ax, 3.6, 5.2, 2.2, 0.7, f"mapping network\n{cfg.G.mapping_layers} FC, lr × "
         f"{cfg.G.mapping_lr_multiplier:g}", ORANGE)  # fmt: skip
    _box(ax, 5.7, 5.2, 1.2, 0.7, f"w  [{cfg.G.w_dim}]", ORANGE)
    _arrow(ax, (2.15, 5.2), (2.5, 5.2))
    _arrow(ax, (4.7, 5.2), (5.1, 5.2))
    ax.plot([6.3, 12.4], [5.2, 5.2], color="#c07020", lw=1.2)
    ax.text(9.3, 5.3, "the same w styles every layer, for every frame of the video",
            ha="center", va="bottom", fontsize=9, color="#c07020")  # fmt: skip

    # motion path
    L_text = f"ζ_j ~ N(0, I), one every δz = {m.grid_spacing:g} frames  [L × {m.z_dim}]"
    _box(ax, 2.35, 3.6, 4.3, 0.7, "motion noise\n" + L_text, PURPLE, size=9)
    rf = m.num_layers * (m.kernel_size - 1) + 1
    _box(ax, 2.35, 2.45, 4.3, 0.75,
         f"conv1d × {m.num_layers}, kernel {m.kernel_size}, no padding, lr × {m.lr_multiplier:g}\n"
         f"motion codes u_j  [{m.code_dim}]: each sees {rf} noise vectors",
         PURPLE, size=9)  # fmt: skip
    _box(ax, 2.35, 1.15, 4.3, 0.95,
         f"time encoder at real t: K = {K} sinusoids,\nperiods {m.min_period:g} … "
         f"{m.max_period:g}; σ and ρ⊙φ from u_L\n"
         "v(t) = e(t) − chord + lerp(a(u_L), a(u_R))", PURPLE, size=9)  # fmt: skip
    _arrow(ax, (2.35, 3.25), (2.35, 2.83))
    _arrow(ax, (2.35, 2.07), (2.35, 1.63))
    _box(ax, 5.55, 1.15, 1.5, 0.7, f"v(t)  [2K = {2 * K}]\ncontinuous in t", PURPLE, size=9)
    _arrow(ax, (4.5, 1.15), (4.8, 1.15))

    # 4x4 input
    _box(ax, 5.55, 3.0, 1.5, 0.7, f"learned const\n4×4×{c4}", BLUE, size=9)
    _box(ax, 7.3, 2.1, 1.45, 0.8, f"const ⊕ v(t)\n4×4×{first_in}", BLUE, size=9, weight="bold")
    _arrow(ax, (6.3, 3.0), (7.0, 2.5), rad=-0.2)
    _arrow(ax, (6.3, 1.15), (7.0, 1.7), rad=0.2)
    ax.text(6.45, 0.62, "v(t) tiled to 4×4", fontsize=8.5, va="center")

    # synthesis blocks
    xs = np.linspace(8.6, 12.4, len(blocks))
    for x, (res, cin, cout) in zip(xs, blocks):
        _box(ax, x, 2.1, 0.56, 1.05, f"{res}²\n{cin}\n→{cout}", BLUE, size=7.5)
        ax.plot([x, x], [5.2, 2.65], color="#c07020", lw=0.8, ls=":")
        _box(ax, x, 3.55, 0.56, 0.42, "ToRGB", GREEN, size=7)
        _arrow(ax, (x, 2.63), (x, 3.33), color="#2e7d32")
    for a, b in zip(xs[:-1], xs[1:]):
        _arrow(ax, (a + 0.29, 2.1), (b - 0.29, 2.1))
        _arrow(ax, (a + 0.29, 3.55), (b - 0.29, 3.55), color="#2e7d32")
    _arrow(ax, (8.03, 2.1), (xs[0] - 0.29, 2.1))
    ax.text((xs[0] + xs[-1]) / 2, 1.3, "synthesis blocks: ×2 upsample, modulated 3×3 convolutions\n"
            "(channels in → out per block)", ha="center", va="top", fontsize=9)  # fmt: skip
    ax.text((xs[0] + xs[-1]) / 2, 3.95, "skip: img_r = up(img_r/2) + ToRGB_r(x_r)", ha="center",
            va="bottom", fontsize=9, color="#2e7d32")  # fmt: skip
    _box(ax, 12.4, 4.45, 1.05, 0.5, f"frame x(t)\n{cfg.G.resolution}²", GREEN, size=8.5)
    _arrow(ax, (xs[-1], 3.77), (12.4, 4.2), color="#2e7d32")
    return fig


def motion_path_figure(cfg):
    """The time axis: grid δz, noise, codes at grid points, anchors, α, chord and aligned v(t)."""
    m = cfg.G.motion
    dz = m.grid_spacing
    rng = np.random.default_rng(3)
    fig, ax = _canvas(13, 6.6, (-0.4 * dz, 5.3 * dz), (-4.3, 3.6))
    ax.text(-0.35 * dz, 3.4, f"The motion path on the time axis (δz = {dz:g} frames)",
            fontsize=13, weight="bold")  # fmt: skip
    grid = np.arange(6) * dz
    ax.plot([-0.2 * dz, 5.2 * dz], [-1.9, -1.9], color="k", lw=1)
    for j, g in enumerate(grid):
        ax.plot([g, g], [-1.95, 2.4], color="#999999", ls=":", lw=0.9)
        ax.text(g, -2.2, f"{j}·δz" if j else "0", ha="center", va="top", fontsize=9)
        ax.add_patch(FancyBboxPatch((g - 0.16 * dz, 2.2), 0.32 * dz, 0.45, fc=PURPLE, ec="#555555",
                                    boxstyle="round,pad=0.01,rounding_size=0.05"))  # fmt: skip
        ax.text(g, 2.42, f"u_{j}", ha="center", va="center", fontsize=9)
    ax.text(5.22 * dz, 2.42, "codes", fontsize=9, va="center")
    rf = m.num_layers * (m.kernel_size - 1) + 1
    ax.text(2.5 * dz, 2.85, f"u_j = conv1d(ζ_j … ζ_(j+{rf - 1})): one code per grid point",
            fontsize=9, ha="center")  # fmt: skip
    ax.text(5.22 * dz, -1.9, "t (frames)", fontsize=9, va="center")

    # one channel: aligners a(u_j), a wave per cell, chord, aligned v
    align = rng.uniform(-0.9, 0.9, len(grid))
    period = 1.3 * dz
    v_all = []
    for c in range(5):
        sigma, phase = rng.uniform(0.6, 1.6), rng.uniform(-np.pi, np.pi)
        t = np.linspace(grid[c], grid[c + 1], 200)
        alpha = (t - grid[c]) / dz

        def e(tau, s=sigma, p=phase):
            return np.sin(2 * np.pi / period * s * tau + p)

        chord = (1 - alpha) * e(grid[c]) + alpha * e(grid[c + 1])
        v = e(t) - chord + (1 - alpha) * align[c] + alpha * align[c + 1]
        v_all.append((t, v, e(t), chord))
    for c, (t, v, et, chord) in enumerate(v_all):
        ax.plot(
            t,
            et,
            color="#e08a2c",
            lw=1,
            label="raw e(t), each cell its own σ, φ" if c == 0 else None,
        )
        ax.plot(t, chord, "--", color="#e08a2c", lw=0.9, label="chord" if c == 0 else None)
        ax.plot(t, v, color="#1f5fa8", lw=2.4, label="aligned v(t)" if c == 0 else None)
    ax.plot(grid, align, "o", color="k", ms=5, label="aligners a(u_j): v on the grid")
    ax.legend(loc="lower left", fontsize=9, ncol=2, frameon=False, bbox_to_anchor=(0.0, 0.0))

    # anchors and α for one t
    c = 2
    t0 = grid[c] + 0.62 * dz
    y = 1.6
    ax.annotate("", xy=(t0, y), xytext=(grid[c], y),
                arrowprops=dict(arrowstyle="<->", color="#b0006b", lw=1.3))  # fmt: skip
    ax.text((grid[c] + t0) / 2, y + 0.08, "α·δz", color="#b0006b", ha="center", va="bottom")
    ax.plot([t0, t0], [-1.9, 1.75], color="#b0006b", lw=1.3)
    ax.text(t0, -1.75, " t", color="#b0006b", fontsize=11, va="bottom")
    ax.text(grid[c], 1.95, "t_L (anchor u_L)", ha="center", fontsize=8.5, color="#b0006b")
    ax.text(grid[c + 1], 1.95, "t_R (anchor u_R)", ha="center", fontsize=8.5, color="#b0006b")
    ax.text(2.95 * dz, -4.15,
            "t_L = ⌊t/δz⌋·δz,  α = (t − t_L)/δz\n"
            "chord = (1−α)·e(t_L) + α·e(t_R)\n"
            "v(t) = e(t) − chord + (1−α)·a(u_L) + α·a(u_R)", fontsize=9.5, va="bottom",
            bbox=dict(fc="white", ec="#999999", boxstyle="round,pad=0.3"))  # fmt: skip
    return fig


def holistic_d_figure(cfg):
    """Per-frame trunk, channel concatenation at concat_res, gap code -> cmap, projection."""
    with torch.device("meta"):
        _, D = build_models(cfg)
    d = cfg.D
    F = d.num_frames
    res = [d.resolution >> k for k in range(len(D.blocks))]
    per_frame = [(r, b.conv0.in_channels, b.conv1.out_channels)
                 for r, b in zip(res, D.blocks[: D.concat_at])]  # fmt: skip
    per_video = [(r, b.conv0.in_channels, b.conv1.out_channels)
                 for r, b in zip(res[D.concat_at:], D.blocks[D.concat_at:])]  # fmt: skip
    c_half = per_frame[-1][2]
    per_gap = d.gap_embed_dim + 2 * d.gap_num_freqs
    fig, ax = _canvas(13, 6.2, (0, 13), (0, 6.2))
    ax.text(0.1, 5.95, f"The holistic discriminator D(x, δ), {cfg.name} preset, F = {F} frames",
            fontsize=13, weight="bold")  # fmt: skip
    ys = np.linspace(5.0, 3.1, F)
    for f, y in enumerate(ys):
        _box(ax, 0.8, y, 1.2, 0.5, f"frame x(t_{f + 1})\n{d.resolution}²", GREEN, size=8.5)
        xs = np.linspace(2.05, 5.2, len(per_frame))
        bw = 0.72
        _arrow(ax, (1.4, y), (xs[0] - bw / 2, y))
        for x, (r, cin, cout) in zip(xs, per_frame):
            _box(ax, x, y, bw, 0.55, f"{r}²\n{cin}→{cout}", BLUE, size=8)
        for a, b in zip(xs[:-1], xs[1:]):
            _arrow(ax, (a + bw / 2, y), (b - bw / 2, y))
        _arrow(ax, (xs[-1] + bw / 2, y), (6.1, 4.05), rad=0.0)
    ax.text(3.55, 5.45, "per-frame trunk (shared weights, frames as separate images)",
            ha="center", fontsize=9)  # fmt: skip
    ax.text(3.55, 2.65, f"last per-frame block: output channels ÷ {d.num_frames_div_factor} "
            f"→ {c_half}×{d.concat_res}²", ha="center", fontsize=9)  # fmt: skip
    _box(ax, 6.9, 4.05, 1.5, 0.95, f"concatenate\nchannels in time\norder: {F}×{c_half}\n"
         f"= {F * c_half}×{d.concat_res}²", BLUE, size=8.5, weight="bold")  # fmt: skip
    xs = np.linspace(8.35, 9.35, len(per_video))
    for x, (r, cin, cout) in zip(xs, per_video):
        _box(ax, x, 4.05, 0.85, 0.6, f"{r}²\n{cin}→{cout}", BLUE, size=7.5)
    for a, b in zip(xs[:-1], xs[1:]):
        _arrow(ax, (a + 0.43, 4.05), (b - 0.43, 4.05))
    _arrow(ax, (7.68, 4.05), (xs[0] - 0.43, 4.05))
    e = D.epilogue
    _box(ax, 10.75, 4.05, 1.6, 0.8, f"epilogue 4²: mbstd,\nconv, FC → φ(x)\n[{e.out.out_features}]",
         BLUE, size=8.5)  # fmt: skip
    _arrow(ax, (xs[-1] + 0.43, 4.05), (9.95, 4.05))
    ax.text(9.5, 4.75, "per-video part: once per clip", ha="center", fontsize=9)

    # gap conditioning
    _box(ax, 1.3, 1.2, 2.0, 0.8, f"times t_1 < … < t_{F}\ngaps δ_i = t_(i+1) − t_i", ORANGE, size=9)
    _box(ax, 4.4, 1.2, 3.5, 0.95,
         f"gap code per gap: embedding row E[δ] ({d.gap_embed_dim})\n"
         f"+ {d.gap_num_freqs} sin/cos Fourier features ({2 * d.gap_num_freqs})\n"
         f"= {per_gap} × {F - 1} gaps = {per_gap * (F - 1)}", ORANGE, size=8.5)  # fmt: skip
    _box(ax, 7.7, 1.2, 2.4, 0.8, f"mapping: FC, normalise,\n{d.mapping_layers} FC (lr × 0.01)",
         ORANGE, size=8.5)  # fmt: skip
    _box(ax, 9.8, 1.2, 1.2, 0.6, f"cmap [{d.cmap_dim}]", ORANGE, size=9)
    _arrow(ax, (2.3, 1.2), (2.65, 1.2))
    _arrow(ax, (6.15, 1.2), (6.5, 1.2))
    _arrow(ax, (8.9, 1.2), (9.2, 1.2))
    _box(ax, 11.9, 2.55, 1.7, 0.9, f"projection\n⟨φ(x), cmap⟩ / √{d.cmap_dim}\none logit per clip",
         GREEN, size=8.5, weight="bold")  # fmt: skip
    _arrow(ax, (10.75, 3.65), (11.6, 3.0))
    _arrow(ax, (10.4, 1.2), (11.6, 2.1), rad=0.25)
    return fig


def samples_gif(path: Path, seeds: int = 9, frames: int = 32, scale: int = 3) -> Path:
    """The landing page's video: the shipped generator, seeds 0..8, as a looping GIF (3x3 grid,
    nearest-neighbour upscaled so that every pixel shows)."""
    from PIL import Image

    from svlib.book import load_pretrained
    from svlib.generate import generate_frames
    from svlib.viz import video_grid

    G, _ = load_pretrained("cpu")
    torch.manual_seed(0)
    grid = video_grid(generate_frames(G, frames, num_videos=seeds, seed=0), ncols=3, pad=2)
    grid = grid.repeat(scale, axis=1).repeat(scale, axis=2)  # [T, H', W', 3] uint8
    images = [Image.fromarray(f) for f in grid]
    images[0].save(path, save_all=True, append_images=images[1:], duration=83, loop=0)
    return path


FIGURES = {
    "generator.png": generator_figure,
    "motion_path.png": motion_path_figure,
    "holistic_discriminator.png": holistic_d_figure,
}


def draw_all(out: Path, preset: str = "paper256", samples: bool = True) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    cfg = svlib.get_preset(preset)
    paths = []
    for name, draw in FIGURES.items():
        fig = draw(cfg)
        fig.savefig(out / name, dpi=DPI, bbox_inches="tight", facecolor="white")
        plt.close(fig)
        paths.append(out / name)
    if samples:
        paths.append(samples_gif(out / "samples.gif"))
    return paths


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "book" / "figures")
    ap.add_argument("--preset", default="paper256")
    a = ap.parse_args(argv)
    for p in draw_all(a.out, a.preset):
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
