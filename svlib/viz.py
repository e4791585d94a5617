"""Turning tensors into things people look at: uint8 frames, grids, inline videos, live loss
plots."""

from __future__ import annotations

import html
import math
import re

import numpy as np
import torch

from .utils import check_shape, quantize


def channels_last(x: torch.Tensor) -> torch.Tensor:
    """Frames `[..., C, H, W]` -> `[..., H, W, C]` (a view), the layout of images and video
    files."""
    return x.movedim(-3, -1)


def to_rgb(x):
    """Channels-last frames `[..., H, W, 1 | 3]` -> `[..., H, W, 3]`: grey is repeated, since
    detectors and video files take RGB. numpy arrays are copied, tensors expanded (a view)."""
    if x.shape[-1] == 3:
        return x
    if isinstance(x, np.ndarray):
        return np.repeat(x, 3, axis=-1)
    return x.expand(*x.shape[:-1], 3)


def to_uint8(x: torch.Tensor | np.ndarray) -> np.ndarray:
    """Model output in [-1, 1] (channels first, `[..., C, H, W]`) -> uint8 `[..., H, W, C]`.

    uint8 input is passed through (only moved to channels-last when it is channels-first).
    """
    if isinstance(x, np.ndarray) and x.dtype == np.uint8:
        return x if x.shape[-1] in (1, 3) else np.moveaxis(x, -3, -1)
    x = torch.as_tensor(x).detach().cpu()
    return channels_last(x if x.dtype == torch.uint8 else quantize(x)).numpy()


def video_grid(videos, ncols: int | None = None, pad: int = 1) -> np.ndarray:
    """Tile B videos `[B, T, C, H, W]` (float in [-1,1] or uint8) into one video `[T, H', W', 3]`
    uint8."""
    v = to_uint8(videos)  # [B, T, H, W, C]
    check_shape(v, ["B", "T", "H", "W", "C"], "video_grid: videos")
    v = to_rgb(v)
    B, T, H, W, _ = v.shape
    ncols = ncols or math.ceil(math.sqrt(B))
    nrows = math.ceil(B / ncols)
    out = np.full((T, nrows * (H + pad) + pad, ncols * (W + pad) + pad, 3), 255, np.uint8)
    for i in range(B):
        r, c = divmod(i, ncols)
        y, x = pad + r * (H + pad), pad + c * (W + pad)
        out[:, y : y + H, x : x + W] = v[i]
    return out


def ensure_ffmpeg() -> str:
    """Point mediapy at the ffmpeg that `svlib.video_io.ffmpeg_exe` finds; returns its path."""
    import mediapy

    from .video_io import ffmpeg_exe

    exe = ffmpeg_exe()
    mediapy.set_ffmpeg(exe)
    return exe


def show_video(
    frames, fps: float = 12, height: int | None = None, title: str | None = None, loop: bool = True
):
    """Show a video inline (base64 mp4 in the page). `frames`: `[T, H, W, 3]` uint8, `[T, C, H, W]`
    float, or a batch `[B, T, C, H, W]` which is tiled into a grid first. Small videos are upscaled
    (nearest neighbour, by a whole factor) to at least `height` pixels (default 256) so that every
    pixel stays visible."""
    import mediapy

    if (torch.is_tensor(frames) or isinstance(frames, np.ndarray)) and np.ndim(frames) == 5:
        v = video_grid(frames)
    else:
        v = to_uint8(frames)
    check_shape(v, ["T", "H", "W", "C"], "show_video: frames")
    height = height or max(256, v.shape[1])
    scale = max(1, math.ceil(height / v.shape[1]))
    if scale > 1:
        v = v.repeat(scale, axis=1).repeat(scale, axis=2)
    # h264 needs even sizes
    v = v[:, : v.shape[1] // 2 * 2, : v.shape[2] // 2 * 2]
    ensure_ffmpeg()
    mediapy.show_video(v, fps=fps, title=title, codec="h264", loop=loop)


def show_frames(
    frames,
    ncols: int = 8,
    title: str | None = None,
    scale: float = 1.0,
    times=None,
):
    """A strip of frames `[T, ...]` as one matplotlib figure (the static view of a video).

    `times` (one number per frame) labels each frame with its t.
    """
    import matplotlib.pyplot as plt

    v = to_uint8(frames)
    T = v.shape[0]
    if times is not None:
        times = [float(t) for t in np.asarray(torch.as_tensor(times).cpu()).reshape(-1)]
        if len(times) != T:
            raise ValueError(f"show_frames: {T} frames but {len(times)} times")
    ncols = min(ncols, T)
    nrows = math.ceil(T / ncols)
    label_h = 0.25 if times is not None else 0.0
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(scale * 1.3 * ncols, (scale * 1.3 + label_h) * nrows + 0.3),
        squeeze=False,
    )
    for i, a in enumerate(axes.flat):
        a.axis("off")
        if i < T:
            a.imshow(v[i], interpolation="nearest")
            if times is not None:
                a.set_title(f"t={times[i]:.4g}", fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


_CODE, _BOLD = re.compile(r"`([^`]+)`"), re.compile(r"\*\*([^*]+)\*\*")


def _inline_html(text: str) -> str:
    """Escape `text` for HTML, keeping two bits of inline markup: `code` and **bold**."""
    out = html.escape(text, quote=False)
    out = _CODE.sub(r"<code>\1</code>", out)
    return _BOLD.sub(r"<strong>\1</strong>", out)


def _plain(text: str) -> str:
    """`text` without the inline markup that `_inline_html` renders."""
    return _BOLD.sub(r"\1", _CODE.sub(r"\1", text))


class Table:
    """A small table for notebooks: HTML in the page, aligned plain text everywhere else.

    Jupyter and the built book show the HTML; a terminal, `print` or a text-only front end show
    the text. Cells are any objects (formatted with `str`); `code` and **bold** in a cell are
    rendered as such in the HTML."""

    def __init__(self, rows, header, caption: str | None = None):
        self.header = [str(h) for h in header]
        self.rows = [[str(c) for c in r] for r in rows]
        self.caption = caption
        for r in self.rows:
            if len(r) != len(self.header):
                raise ValueError(f"row {r} has {len(r)} cells, the header {len(self.header)}")

    def _repr_html_(self) -> str:
        def cells(row, tag):
            return "".join(f"<{tag}>{_inline_html(c)}</{tag}>" for c in row)

        cap = f"<caption>{_inline_html(self.caption)}</caption>" if self.caption else ""
        body = "".join(f"<tr>{cells(r, 'td')}</tr>" for r in self.rows)
        return (
            '<table class="svlib-table">'
            f"{cap}<thead><tr>{cells(self.header, 'th')}</tr></thead><tbody>{body}</tbody></table>"
        )

    def __str__(self) -> str:
        rows = [[_plain(c) for c in r] for r in [self.header, *self.rows]]
        widths = [max(len(r[i]) for r in rows) for i in range(len(self.header))]

        def line(row):
            return "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip()

        out = [line(rows[0]), "  ".join("-" * w for w in widths)] + [line(r) for r in rows[1:]]
        return "\n".join(([self.caption] if self.caption else []) + out)

    __repr__ = __str__


def show_table(rows, header, caption: str | None = None) -> Table:
    """Display `rows` (a list of sequences) under `header` as a table; returns the `Table`."""
    from IPython.display import display

    table = Table(rows, header, caption)
    display(table)
    return table


class LossBoard:
    """A live loss plot for notebooks (redrawn in place); `update(step, **values)`, `figure()` at
    the end."""

    def __init__(self, every: int = 1, live: bool = True):
        self.history: dict[str, list[tuple[int, float]]] = {}
        self.every, self.live, self._n = every, live, 0
        self._handle = None

    def update(self, step: int, **values: float) -> None:
        for k, v in values.items():
            self.history.setdefault(k, []).append((step, float(v)))
        self._n += 1
        if self.live and self._n % self.every == 0:
            self._redraw()

    def figure(self):
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 3))
        for k, pts in self.history.items():
            s, v = zip(*pts)
            ax.plot(s, v, label=k)
        ax.set_xlabel("step")
        ax.legend(loc="upper right", fontsize=8)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        return fig

    def _redraw(self):
        import matplotlib.pyplot as plt
        from IPython.display import display

        fig = self.figure()
        if self._handle is None:
            self._handle = display(fig, display_id=True)
        else:
            self._handle.update(fig)
        plt.close(fig)


# ----------------------------------------------------------------------------------------------
# A run's curves from its log.jsonl


def read_log(run) -> list[dict]:
    """The log lines of a run folder (or of a log.jsonl path), in order; lines cut by a kill are
    skipped. A missing or empty log is a UsageError naming RUN."""
    import json
    from pathlib import Path

    from .checks import UsageError

    path = Path(run)
    path = path / "log.jsonl" if path.is_dir() else path
    if not path.is_file():
        raise UsageError(f"RUN {run}: no log.jsonl there (a run folder that has logged a step)")
    rows = []
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and "step" in row:
            rows.append(row)
    if not rows:
        raise UsageError(f"RUN {run}: {path} holds no log lines yet")
    return rows


def metric_keys(rows: list[dict]) -> list[str]:
    """The metric names (of the registry in svlib.metrics) that the log lines hold values of."""
    from .metrics.registry import METRICS

    return [m for m in METRICS if any(m in r for r in rows)]


def plot_log(rows: list[dict], title: str = ""):
    """One matplotlib figure of a run's log: the G and D losses, R1, the metrics logged during
    training (lower is better; the best point marked) and ADA p, against the step."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        from .checks import UsageError

        raise UsageError("plotting needs matplotlib (pip install matplotlib)") from None

    fig = Figure(figsize=(15, 3.2))
    axes = fig.subplots(1, 4)

    def series(key):
        pts = [(r["step"], r[key]) for r in rows if isinstance(r.get(key), (int, float))]
        return tuple(zip(*pts)) if pts else ((), ())

    for key in ("loss_G", "loss_D"):
        axes[0].plot(*series(key), label=key.replace("_", " "))
    axes[0].set_title("losses", fontsize=9)
    axes[0].legend(fontsize=8)
    r1 = series("r1")
    axes[1].plot(*r1, ".-", color="C2", ms=3)
    axes[1].set_title("R1 (on lazy-regularisation steps)", fontsize=9)
    names = metric_keys(rows)
    for i, name in enumerate(names):
        steps, values = series(name)
        axes[2].plot(steps, values, "o-", ms=3, color=f"C{3 + i}", label=name)
        best = int(np.argmin(values))
        axes[2].plot(steps[best], values[best], "k*", ms=9)
    if names:
        axes[2].legend(fontsize=8)
        axes[2].set_title("metrics (★ lowest; the first one picks best.pt)", fontsize=9)
    else:
        axes[2].set_title("metrics", fontsize=9)
        axes[2].text(0.5, 0.5, "none logged", ha="center", va="center", transform=axes[2].transAxes)
    axes[3].plot(*series("augment_p"), color="C1")
    axes[3].set_title("ADA p", fontsize=9)
    for ax in axes:
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_run(run, out=None):
    """Draw a run's curves (`plot_log` of `read_log(run)`) into the image file `out` (default:
    RUN/curves.png); returns its path."""
    from pathlib import Path

    from .checks import write_atomic

    rows = read_log(run)
    run = Path(run)
    folder = run if run.is_dir() else run.parent
    out = Path(out) if out is not None else folder / "curves.png"
    fig = plot_log(rows, f"{folder.name}: {len(rows)} log lines, step {rows[-1]['step']}")
    fmt = out.suffix.lstrip(".").lower() or "png"
    write_atomic(out, lambda f: fig.savefig(f, format=fmt, dpi=100))
    return out
