"""Analytic continuous-time video datasets (numpy, anti-aliased), for CPU training and metrics.

Each set is a `VideoDataset` whose videos are closed-form functions of real time t (in frames), so
they can be rendered at any frame rate and any length: `render(i, t)` takes any float times.
`params(i)` returns the generating parameters (JSON-friendly), which the weight-free metrics use as
ground truth. Everything is deterministic in (seed, index); different seeds give independent
videos (train/test split).

- "shapes":   1–3 bouncing circles/squares/triangles (SDFs); bounces are the closed-form
              reflection (triangle wave of x0 + v·t), shapes spin at constant angular velocity.
              The priors are options: `max_shapes`, `speed`, `radius`, `spin` as (lo, hi) ranges,
              e.g. "synthetic:shapes?max_shapes=1&speed=0.015,0.03&radius=0.18,0.26".
- "periodic": a pendulum, a rotating pinwheel or a pulsing blob with period P ~ U[16, 64] frames,
              random phase.
- "sky":      fBm value-noise clouds (an infinite hashed 3-D lattice over (x, y, t)) advected by a
              per-video wind over a sky gradient whose colour drifts with a long period;
              statistically stationary for any t.
- "digits":   1–2 scikit-learn 8×8 digits, bilinearly upsampled and bouncing (a Moving-MNIST
              analogue).

Class labels (for conditional models): `labels="shape"` (shapes: every shape of a video is a
circle, a square or a triangle), `labels="kind"` (periodic: pendulum, pinwheel, blob) and
`labels="digit"` (digits: every digit of a video shows one class 0-9), e.g.
"synthetic:shapes?labels=shape". The class is drawn after every other parameter, so a labelled
set has the unlabelled set's videos, only with the objects of the drawn class; `params(i)["label"]`
is that class and `raw_labels` the classes of all videos.

Anti-aliasing: pixel coverage = clip(0.5 − sdf·R, 0, 1) with the signed distance in pixels, which is
continuous in t, so frames change continuously (no popping at sub-pixel motion).
"""

from __future__ import annotations

import zlib

import numpy as np

from .videos import VideoDataset

TAU = 2 * np.pi


def reflect(u, L):
    """Triangle wave in [0, L] with slope ±1: a point bouncing between walls 0 and L."""
    return L - np.abs(np.mod(u, 2 * L) - L)


def coverage(sdf, resolution: int, softness: float = 1.0):
    """Anti-aliased coverage from a signed distance (image units; negative inside)."""
    return np.clip(0.5 - sdf * (resolution / softness), 0.0, 1.0)


def _rotate(px, py, angle):
    c, s = np.cos(angle), np.sin(angle)
    return c * px + s * py, -s * px + c * py  # into the shape's frame (rotated by -angle)


def sdf_circle(px, py, r):
    return np.sqrt(px * px + py * py) - r


def sdf_square(px, py, r):
    """Square with circumradius r (half side r/√2)."""
    a = r / np.sqrt(2)
    dx, dy = np.abs(px) - a, np.abs(py) - a
    return np.hypot(np.maximum(dx, 0), np.maximum(dy, 0)) + np.minimum(np.maximum(dx, dy), 0)


def sdf_triangle(px, py, r):
    """Equilateral triangle with circumradius r, pointing up (−y)."""
    k = np.sqrt(3.0)
    h = r * k / 2  # half side
    x, y = np.abs(px) - h, -py + h / k  # flip y so the apex points to the top of the image
    fold = x + k * y > 0  # reflect into the fundamental region
    x, y = np.where(fold, (x - k * y) / 2, x), np.where(fold, (-k * x - y) / 2, y)
    x = x - np.clip(x, -2 * h, 0)
    return -np.hypot(x, y) * np.sign(y)


def sdf_segment(px, py, ax, ay, bx, by):
    """Distance to the segment a–b (unsigned)."""
    pax, pay, bax, bay = px - ax, py - ay, bx - ax, by - ay
    h = np.clip((pax * bax + pay * bay) / (bax * bax + bay * bay + 1e-12), 0, 1)
    return np.hypot(pax - bax * h, pay - bay * h)


def _color(rng, lo=0.35, hi=1.0):
    """A saturated random colour: random hue, value in [lo, hi]."""
    h, v = rng.uniform(), rng.uniform(lo, hi)
    rgb = np.clip(np.abs(np.mod(h * 6 + np.array([0.0, 4.0, 2.0]), 6) - 3) - 1, 0, 1)  # hue -> RGB
    return (v * (0.25 + 0.75 * rgb)).tolist()


def _range(name: str, v) -> tuple[float, float]:
    """A (lo, hi) prior range from a pair or a single number (lo == hi)."""
    if not np.isscalar(v) and len(v) != 2:
        raise ValueError(f"{name}={v}: needs one number or two (lo, hi)")
    lo, hi = (v, v) if np.isscalar(v) else tuple(v)
    if lo > hi:
        raise ValueError(f"{name}={v}: lo > hi")
    return float(lo), float(hi)


class SyntheticVideos(VideoDataset):
    """Base of the analytic sets: `n` videos of `length` frames at `resolution`².

    Deterministic in (seed, i).
    """

    kind = "base"
    # label kind -> class names (the `labels=` values this set offers)
    label_kinds: dict[str, tuple[str, ...]] = {}

    def __init__(
        self,
        n: int = 256,
        length: int = 128,
        resolution: int = 64,
        seed: int = 0,
        labels: str | None = None,
    ):
        if labels is not None and labels not in self.label_kinds:
            offer = ", ".join(self.label_kinds) or "none"
            raise ValueError(
                f"synthetic:{self.kind}: labels must be one of: {offer}; got {labels!r}"
            )
        self.labels = labels
        self.label_names = self.label_kinds[labels] if labels is not None else None
        for key, v, lo in (("n", n, 1), ("length", length, 1), ("resolution", resolution, 4)):
            if int(v) != v or v < lo:
                raise ValueError(
                    f"synthetic:{self.kind}: {key} must be an integer >= {lo}, got {v!r}"
                )
        self.n, self.length, self.resolution, self.seed = (
            int(n),
            int(length),
            int(resolution),
            int(seed),
        )
        self.name = f"synthetic-{self.kind}"
        self.labels_source = f"synthetic:{self.kind}"
        self.labels_hint = (
            f"add ?labels={'|'.join(self.label_kinds)} to the spec"
            if self.label_kinds
            else "this synthetic set has no classes"
        )
        c = (np.arange(self.resolution) + 0.5) / self.resolution  # pixel centres in [0, 1]
        self._x, self._y = c[None, None, :], c[None, :, None]  # [1, 1, W], [1, H, 1]
        self._params: dict[int, dict] = {}

    def __len__(self):
        return self.n

    def video_length(self, i):
        return self.length

    def video_name(self, i):
        return f"{self.name}[{i}]"

    def params(self, i: int) -> dict:
        """The generating parameters of video i (lists/floats/ints/strs; JSON-serialisable)."""
        if not 0 <= i < self.n:
            raise IndexError(f"{self.name}: video index {i} out of range [0, {self.n})")
        if i not in self._params:
            rng = np.random.default_rng([self.seed, int(i), zlib.crc32(self.kind.encode())])
            self._params[i] = self._make_params(rng)
        return self._params[i]

    def _make_params(self, rng: np.random.Generator) -> dict:
        raise NotImplementedError

    def _load_labels(self) -> np.ndarray | None:
        if self.labels is None:
            return None
        return np.array([self.params(i)["label"] for i in range(self.n)], dtype=np.int64)  # [N]

    def _render(self, p: dict, t: np.ndarray) -> np.ndarray:
        """float [F, H, W, 3] in [0, 1] at float64 times t [F]."""
        raise NotImplementedError

    def render_float(self, i: int, t) -> np.ndarray:
        """Frames at any real times t (frames): float32 [F, H, W, 3] in [0, 1]."""
        t = np.atleast_1d(np.asarray(t, dtype=np.float64))
        return np.clip(self._render(self.params(i), t), 0, 1).astype(np.float32)

    def render(self, i: int, t) -> np.ndarray:
        """Frames at any real times t (frames): uint8 [F, H, W, 3]."""
        return (self.render_float(i, t) * 255 + 0.5).astype(np.uint8)

    def read_frames(self, i, idx):
        return self.render(i, self._check(i, idx).astype(np.float64))

    def __repr__(self):
        labels = f", labels={self.labels!r}" if self.labels is not None else ""
        return (
            f"{type(self).__name__}(n={self.n}, length={self.length}, "
            f"resolution={self.resolution}, seed={self.seed}{labels})"
        )


class ShapesVideos(SyntheticVideos):
    """Bouncing, spinning anti-aliased shapes with constant colour and size.

    Physics: the velocity is constant between bounces.
    """

    kind = "shapes"
    label_kinds = {"shape": ("circle", "square", "triangle")}

    def __init__(
        self,
        n=256,
        length=128,
        resolution=64,
        seed=0,
        max_shapes: int = 3,
        speed: tuple[float, float] = (0.004, 0.02),
        labels: str | None = None,
        radius: tuple[float, float] = (0.08, 0.2),
        spin: tuple[float, float] = (-0.05, 0.05),
    ):
        super().__init__(n, length, resolution, seed, labels)
        self.max_shapes = int(max_shapes)
        # ranges of the uniform priors: speed in image widths / frame, circumradius in image widths
        # (a larger one keeps corners visible at 32²), spin in radians / frame
        self.speed = _range("speed", speed)
        self.radius = _range("radius", radius)
        self.spin = _range("spin", spin)
        if not 0 < self.radius[0] <= self.radius[1] < 0.5:
            raise ValueError(f"radius={radius}: needs 0 < lo <= hi < 0.5 (image widths)")

    def _make_params(self, rng):
        shapes = []
        for _ in range(int(rng.integers(1, self.max_shapes + 1))):
            r = rng.uniform(*self.radius)  # circumradius (image widths)
            L = 1 - 2 * r  # free range of the centre
            speed, heading = rng.uniform(*self.speed), rng.uniform(0, TAU)
            shapes.append(
                {
                    "shape": str(rng.choice(["circle", "square", "triangle"])),
                    "radius": r,
                    "color": _color(rng),
                    "phase": rng.uniform(0, 2 * L, 2).tolist(),
                    "velocity": [
                        speed * np.cos(heading),
                        speed * np.sin(heading),
                    ],  # widths / frame
                    "angle": rng.uniform(0, TAU),
                    "angular_velocity": rng.uniform(*self.spin),
                }
            )
        p = {"background": rng.uniform(0.0, 0.25, 3).tolist(), "shapes": shapes}
        if self.labels == "shape":  # drawn last: the other parameters stay those of the unlabelled
            p["label"] = int(rng.integers(len(self.label_names)))
            for s in shapes:
                s["shape"] = self.label_names[p["label"]]
        return p

    @staticmethod
    def position(shape: dict, t) -> np.ndarray:
        """Centre of a shape at times t: [F, 2] (x, y) in image units; reflection off the walls."""
        r, t = shape["radius"], np.asarray(t, np.float64)[:, None]
        return r + reflect(np.array(shape["phase"]) + np.array(shape["velocity"]) * t, 1 - 2 * r)

    def _render(self, p, t):
        img = np.broadcast_to(
            np.array(p["background"], np.float32), (len(t), self.resolution, self.resolution, 3)
        ).copy()
        sdfs = {"circle": sdf_circle, "square": sdf_square, "triangle": sdf_triangle}
        for s in p["shapes"]:
            c = self.position(s, t)[:, :, None, None]  # [F, 2, 1, 1]
            px, py = _rotate(
                self._x - c[:, 0],
                self._y - c[:, 1],
                (s["angle"] + s["angular_velocity"] * t)[:, None, None],
            )  # [F, H, W]
            a = coverage(sdfs[s["shape"]](px, py, s["radius"]), self.resolution)[..., None].astype(
                np.float32
            )
            img += a * (np.array(s["color"], np.float32) - img)  # "over" compositing
        return img


class PeriodicVideos(SyntheticVideos):
    """Exactly periodic motion: pendulum, pinwheel or pulsing blob.

    `params(i)["period"]` is the ground truth.
    """

    kind = "periodic"
    kinds = ("pendulum", "pinwheel", "blob")
    label_kinds = {"kind": kinds}

    def __init__(
        self,
        n=256,
        length=128,
        resolution=64,
        seed=0,
        period: tuple[float, float] = (16.0, 64.0),
        labels: str | None = None,
    ):
        super().__init__(n, length, resolution, seed, labels)
        self.period = tuple(float(x) for x in period)
        if not 0 < self.period[0] <= self.period[1]:
            raise ValueError(f"synthetic:periodic: period range must be 0 < lo <= hi, got {period}")

    def _make_params(self, rng):
        kind = str(rng.choice(self.kinds))
        p = {
            "kind": kind,
            "period": rng.uniform(*self.period),
            "phase": rng.uniform(0, 1),
            "background": rng.uniform(0.0, 0.2, 3).tolist(),
            "color": _color(rng, 0.6),
        }
        if kind == "pendulum":
            r, l = rng.uniform(0.08, 0.12), rng.uniform(0.4, 0.6)
            p.update(
                radius=r,
                rod=l,
                amplitude=min(rng.uniform(0.3, 0.9), float(np.arcsin((0.45 - r) / l))),
            )
        elif kind == "pinwheel":
            k = int(rng.integers(3, 7))
            p.update(
                blades=k,
                radius=rng.uniform(0.3, 0.42),
                direction=int(rng.choice([-1, 1])),
                blade_colors=[_color(rng, 0.5) for _ in range(k)],
            )  # distinct blades: visual period = P
        else:
            p.update(
                radius=rng.uniform(0.15, 0.25),
                pulse=rng.uniform(0.25, 0.5),
                color2=_color(rng, 0.6),
            )
        if self.labels == "kind":
            p["label"] = self.kinds.index(kind)
        return p

    def _render(self, p, t):
        R = self.resolution
        ph = TAU * (t / p["period"] + p["phase"])[:, None, None]  # [F, 1, 1]
        bg = np.array(p["background"], np.float32)
        x, y = self._x - 0.5, self._y - 0.5
        if p["kind"] == "pendulum":
            pivot_y = 0.12 - 0.5
            th = p["amplitude"] * np.sin(ph)
            bx, by = p["rod"] * np.sin(th), pivot_y + p["rod"] * np.cos(th)
            rod = coverage(sdf_segment(x, y, 0.0, pivot_y, bx, by) - 0.015, R)
            bob = coverage(sdf_circle(x - bx, y - by, p["radius"]), R)
            a, col = np.maximum(rod, bob)[..., None], np.array(p["color"])
        elif p["kind"] == "pinwheel":
            k, rho = p["blades"], np.hypot(x, y)
            s = np.mod(np.arctan2(y, x) - p["direction"] * ph, TAU) / (
                np.pi / k
            )  # [F, H, W] in [0, 2k)
            # Blade j covers s in [2j, 2j+1). Each blade's anti-aliased coverage is a continuous
            # function of t, and colours are blended by coverage, so nothing jumps when an edge
            # crosses a pixel (even near the hub).
            centres = 2 * np.arange(k) + 0.5  # [k]
            off = np.mod(s[..., None] - centres + k, 2 * k) - k  # [F, H, W, k] in [-k, k)
            d = (
                (0.5 - np.abs(off)) * (np.pi / k) * rho[..., None]
            )  # signed arc distance, inside > 0
            a_j = (
                np.clip(0.5 + d * R, 0, 1) * coverage(rho - p["radius"], R)[..., None]
            )  # [F, H, W, k]
            a = np.minimum(a_j.sum(-1), 1)[..., None]  # [F, H, W, 1]
            col = (a_j @ np.array(p["blade_colors"])) / np.maximum(a_j.sum(-1, keepdims=True), 1e-8)
            blades = bg + a * (col - bg)  # blades over the background
            hub = coverage(rho - 0.04, R)[..., None]  # then the hub over the blades
            return (blades + hub * (np.array(p["color"]) - blades)).astype(np.float32)
        else:
            pulse = np.sin(ph)  # [F, 1, 1]
            r = p["radius"] * (1 + p["pulse"] * pulse)
            a = coverage(sdf_circle(x, y, r), R, softness=2.0)[..., None]
            w = (0.5 + 0.5 * pulse)[..., None]
            col = (1 - w) * np.array(p["color"]) + w * np.array(p["color2"])
        return (bg + a * (col - bg)).astype(np.float32)


def _hash01(ix, iy, iz, seed: int):
    """Deterministic pseudo-random values in [0, 1) on an infinite integer lattice.

    int64 arithmetic with a 32-bit mix.
    """
    m = 0xFFFFFFFF
    h = (ix * 0x8DA6B343 + iy * 0xD8163841 + iz * 0xCB1AB31F + seed) & m
    h ^= h >> 15
    h = (h * 0x2C1B3C6D) & m
    h ^= h >> 12
    h = (h * 0x297A2D39) & m
    h ^= h >> 15
    return h.astype(np.float32) / np.float32(2**32)


def _fade(f):
    return f * f * f * (f * (f * 6 - 15) + 10)  # quintic: C2-smooth value noise


class SkyVideos(SyntheticVideos):
    """Procedural sky timelapse: fBm clouds from a hashed (x, y, t) value-noise lattice.

    The clouds are advected by a per-video wind.
    """

    kind = "sky"
    octaves, base_cells = 4, 3.0  # finest octave: 24 cells across the image

    def _make_params(self, rng):
        speed, heading = rng.uniform(0.002, 0.008), rng.uniform(0, TAU)
        return {
            "wind": [speed * np.cos(heading), speed * np.sin(heading)],  # image widths / frame
            "evolution": rng.uniform(
                0.005, 0.02
            ),  # lattice cells / frame of the coarsest octave, along t
            "cover": rng.uniform(0.4, 0.6),  # cloud threshold on the fBm value
            "noise_seed": int(rng.integers(0, 2**31)),
            "sky_top": [rng.uniform(0.1, 0.3), rng.uniform(0.25, 0.45), rng.uniform(0.6, 0.9)],
            "sky_horizon": [rng.uniform(0.6, 0.85), rng.uniform(0.7, 0.9), rng.uniform(0.85, 1.0)],
            "drift_period": rng.uniform(
                256, 1024
            ),  # frames; the colour drift is periodic, so stationary
            "drift_phase": rng.uniform(0, 1),
            "drift_amount": rng.uniform(0.1, 0.3),
        }

    def fbm(self, p: dict, t: np.ndarray) -> np.ndarray:
        """Cloud density field in ~[0, 1]: float32 [F, H, W]."""
        R, F = self.resolution, len(t)
        out, total = np.zeros((F, R, R), np.float32), 0.0
        for o in range(self.octaves):
            f = self.base_cells * 2**o  # cells per image width
            ox = p["wind"][0] * t * f + 17.31 * o  # float64 [F] lattice shift (wind advection)
            oy = p["wind"][1] * t * f + 5.77 * o
            z = p["evolution"] * t * 2 ** (o / 2)  # small scales evolve faster
            x0, y0, z0 = (
                np.floor(-ox).astype(np.int64),
                np.floor(-oy).astype(np.int64),
                np.floor(z).astype(np.int64),
            )
            n = int(np.ceil(f)) + 2  # lattice nodes needed across the image
            ar = np.arange(n, dtype=np.int64)
            # lattice values for this frame's window: [F, 2 (z), n (y), n (x)]
            lat = _hash01(
                (x0[:, None, None, None] + ar[None, None, None, :]),
                (y0[:, None, None, None] + ar[None, None, :, None]),
                (z0[:, None, None, None] + np.arange(2)[None, :, None, None]),
                p["noise_seed"] + o,
            )
            fz = _fade((z - z0).astype(np.float32))[:, None, None, None]
            lat = lat[:, 0] + fz[:, 0] * (lat[:, 1] - lat[:, 0])  # [F, n, n]
            gx = (
                self._x[0, 0] * f - ox[:, None] - x0[:, None]
            )  # [F, W] in [0, n-1): local lattice coordinates
            gy = self._y[0, :, 0] * f - oy[:, None] - y0[:, None]  # [F, H]
            ix, iy = np.floor(gx).astype(np.int64), np.floor(gy).astype(np.int64)
            fx, fy = _fade((gx - ix).astype(np.float32)), _fade((gy - iy).astype(np.float32))
            b = np.arange(F)[:, None, None]
            v00 = lat[b, iy[:, :, None], ix[:, None, :]]
            v01 = lat[b, iy[:, :, None], ix[:, None, :] + 1]
            v10 = lat[b, iy[:, :, None] + 1, ix[:, None, :]]
            v11 = lat[b, iy[:, :, None] + 1, ix[:, None, :] + 1]
            top = v00 + fx[:, None, :] * (v01 - v00)
            bot = v10 + fx[:, None, :] * (v11 - v10)
            amp = 0.5**o
            out += amp * (top + fy[:, :, None] * (bot - top))
            total += amp
        return out / total

    def _render(self, p, t):
        d = self.fbm(p, t)  # [F, H, W]
        drift = (
            p["drift_amount"]
            * np.sin(TAU * (t / p["drift_period"] + p["drift_phase"]))[:, None, None, None]
        )
        top = np.array(p["sky_top"]) * (1 - drift) + drift * np.array(
            [0.9, 0.5, 0.3]
        )  # drift toward dusk hues
        hor = np.array(p["sky_horizon"]) * (1 - drift) + drift * np.array([1.0, 0.75, 0.5])
        g = self._y[..., None] ** 1.5  # [1, H, 1, 1] vertical gradient
        sky = top + g * (hor - top)  # [F, H, 1, 3]
        c = p["cover"]
        dens = np.clip((d - c) / 0.25, 0, 1)
        dens = (dens * dens * (3 - 2 * dens))[..., None]  # smoothstep: soft cloud edges
        cloud = (0.75 + 0.25 * d[..., None]) * (1 - 0.3 * drift) + 0.3 * drift * np.array(
            [1.0, 0.8, 0.7]
        )
        return (sky + dens * (cloud - sky)).astype(np.float32)


_DIGITS = None


def load_digit_images():
    """scikit-learn's 8×8 digits: (images float32 [1797, 8, 8] in [0, 1], labels int [1797])."""
    global _DIGITS
    if _DIGITS is None:
        try:
            from sklearn.datasets import load_digits
        except ImportError as e:
            raise ImportError(
                "synthetic:digits needs scikit-learn (`pip install scikit-learn`)"
            ) from e
        d = load_digits()
        _DIGITS = (d.images.astype(np.float32) / 16.0, d.target.astype(np.int64))
    return _DIGITS


def _bilinear(img, iv, iu, fv, fu):
    """Bilinear lookup of `img` [h, w] at texels (iv + fv) [F, H, 1] x (iu + fu) [F, 1, W]."""

    def texel(dy, dx):  # [F, H, W]
        return img[iv[:, :, None] + dy, iu[:, None, :] + dx]

    top = texel(0, 0) + fu * (texel(0, 1) - texel(0, 0))
    return top + fv * (texel(1, 0) + fu * (texel(1, 1) - texel(1, 0)) - top)


class DigitsVideos(SyntheticVideos):
    """1–2 bouncing scikit-learn digits (Moving-MNIST analogue), each of one class per video.

    split: "train" uses the digit images whose index % 5 != 0, "test" the others, "all" every image,
    so test videos (another seed, split="test") show digit images never seen in training.
    """

    kind = "digits"
    label_kinds = {"digit": tuple(str(k) for k in range(10))}

    def __init__(
        self,
        n=256,
        length=128,
        resolution=64,
        seed=0,
        max_digits: int = 2,
        split: str = "train",
        speed: tuple[float, float] = (0.004, 0.02),
        labels: str | None = None,
    ):
        super().__init__(n, length, resolution, seed, labels)
        if split not in ("train", "test", "all"):
            raise ValueError(f"synthetic:digits: split must be train, test or all, got {split!r}")
        self.max_digits, self.split, self.speed = int(max_digits), split, _range("speed", speed)
        idx = np.arange(1797)
        self._pool = {"train": idx[idx % 5 != 0], "test": idx[idx % 5 == 0], "all": idx}[split]

    def _make_params(self, rng):
        images, labels = load_digit_images()
        digits = []
        for _ in range(int(rng.integers(1, self.max_digits + 1))):
            j, size = int(rng.choice(self._pool)), rng.uniform(0.25, 0.375)  # 16-24 px at 64²
            speed, heading = rng.uniform(*self.speed), rng.uniform(0, TAU)
            digits.append(
                {
                    "image": j,
                    "label": int(labels[j]),
                    "size": size,
                    "color": _color(rng, 0.8),
                    "phase": rng.uniform(0, 2 * (1 - size), 2).tolist(),
                    "velocity": [speed * np.cos(heading), speed * np.sin(heading)],
                }
            )
        p = {"digits": digits}
        if self.labels == "digit":  # drawn last; each digit becomes an image of that class
            p["label"] = int(rng.integers(10))
            pool = self._pool[labels[self._pool] == p["label"]]
            for d in digits:
                d["image"] = int(rng.choice(pool))
                d["label"] = p["label"]
        return p

    @staticmethod
    def position(digit: dict, t) -> np.ndarray:
        """Top-left corner of a digit at times t: [F, 2] (x, y) in image units."""
        t = np.asarray(t, np.float64)[:, None]
        return reflect(
            np.array(digit["phase"]) + np.array(digit["velocity"]) * t, 1 - digit["size"]
        )

    def _render(self, p, t):
        images, _ = load_digit_images()
        R, F = self.resolution, len(t)
        img = np.zeros((F, R, R, 3), np.float32)
        for d in p["digits"]:
            pad = np.pad(images[d["image"]], 1)  # [10, 10], zero border
            pos = self.position(d, t)  # [F, 2]
            # texel coordinates of every pixel centre (+1 for the pad); outside, clipped into the
            # zero border
            u = np.clip((self._x[0] - pos[:, :1]) / d["size"] * 8 + 0.5, 0, 9)  # [F, W]
            v = np.clip((self._y[0, :, 0] - pos[:, 1:]) / d["size"] * 8 + 0.5, 0, 9)  # [F, H]
            iu, iv = np.minimum(np.floor(u).astype(int), 8), np.minimum(np.floor(v).astype(int), 8)
            fu, fv = (
                (u - iu).astype(np.float32)[:, None, :],
                (v - iv).astype(np.float32)[:, :, None],
            )
            val = _bilinear(pad, iv, iu, fv, fu)  # [F, H, W]
            img = np.maximum(
                img, val[..., None] * np.array(d["color"], np.float32)
            )  # overlapping digits: max
        return img


SYNTHETIC = {c.kind: c for c in (ShapesVideos, PeriodicVideos, SkyVideos, DigitsVideos)}


def make_synthetic(name: str, **kw) -> SyntheticVideos:
    """A synthetic set by name ("shapes", "periodic", "sky", "digits") with keyword parameters."""
    if name not in SYNTHETIC:
        raise ValueError(f"unknown synthetic dataset {name!r}; choose one of {sorted(SYNTHETIC)}")
    try:
        return SYNTHETIC[name](**kw)
    except TypeError as e:
        raise ValueError(f"synthetic:{name}: bad parameters {sorted(kw)}: {e}") from e
