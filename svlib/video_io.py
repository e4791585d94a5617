"""Video files <-> uint8 arrays through the ffmpeg binary (no Python video library needed).

ffmpeg comes from PATH or, failing that, from the `imageio-ffmpeg` wheel, so a plain `pip install`
suffices. Decoding pipes frames out of ffmpeg as PPM (raw rgb24 with a tiny "P6 W H 255" header per
frame): the header carries the decoded size, so rotated or odd-sized videos need no separate
probing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

VIDEO_EXTS = (".mp4", ".avi", ".webm", ".mov", ".mkv", ".m4v", ".gif")
IMAGE_EXTS = (".png", ".jpg", ".jpeg")
# codec name -> (ffmpeg encoder, extra output args). "h264" is what every browser/notebook plays.
CODECS = {
    "h264": ("libx264", ["-pix_fmt", "yuv420p", "-preset", "medium"]),
    "vp9": ("libvpx-vp9", ["-pix_fmt", "yuv420p", "-b:v", "0"]),
    "mpeg4": ("mpeg4", ["-pix_fmt", "yuv420p", "-q:v", "2"]),
    "h264rgb": (
        "libx264rgb",
        ["-pix_fmt", "rgb24", "-preset", "medium"],
    ),  # near-lossless RGB (crf 0 = lossless)
}


def ffmpeg_exe() -> str:
    """Path of an ffmpeg binary: `ffmpeg` on PATH, else the one shipped in imageio-ffmpeg."""
    exe = shutil.which("ffmpeg")
    if exe:
        return exe
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception as e:  # ImportError or the wheel lacking a binary for this platform
        raise RuntimeError(
            "ffmpeg not found: install it on PATH or `pip install imageio-ffmpeg`"
        ) from e


def _check_file(path) -> Path:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"video file not found: {path}")
    if not path.is_file():
        raise ValueError(f"not a video file (is a directory?): {path}")
    return path


def video_info(path) -> dict:
    """Container metadata parsed from `ffmpeg -i`: {"width", "height", "fps", "duration"}
    (fps and duration may be None)."""
    path = _check_file(path)
    err = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True
    ).stderr.decode(errors="replace")
    m = re.search(
        r"Stream #.*?Video:.*?[ ,](\d+)x(\d+)(?=[ ,\[]|$)", err, re.M
    )  # not the "0x3163..." codec tag
    if not m:
        raise ValueError(f"cannot read video {path}: no video stream ({_tail(err)})")
    fps = re.search(r"Video:.*?([\d.]+) fps", err)
    dur = re.search(r"Duration: (\d+):(\d+):([\d.]+)", err)
    return {
        "width": int(m.group(1)),
        "height": int(m.group(2)),
        "fps": float(fps.group(1)) if fps else None,
        "duration": int(dur.group(1)) * 3600 + int(dur.group(2)) * 60 + float(dur.group(3))
        if dur
        else None,
    }


def _tail(err: str, n: int = 3) -> str:
    lines = [l for l in err.strip().splitlines() if l.strip()]
    return " | ".join(lines[-n:]) if lines else "no message from ffmpeg"


def resize_filter(resolution: int) -> str:
    """ffmpeg filter: Lanczos-resize the short side to `resolution`, then centre-crop a square."""
    r = int(resolution)
    return (
        f"scale=w='if(lt(iw,ih),{r},-1)':h='if(lt(iw,ih),-1,{r})':flags=lanczos+accurate_rnd,"
        f"crop={r}:{r}"
    )


def iter_frames(
    path, *, fps: float | None = None, resolution: int | None = None, strict: bool = True
) -> Iterator[np.ndarray]:
    """Yield decoded frames uint8 [H, W, 3] one at a time (constant memory; for long videos).

    strict: raise after the last frame if ffmpeg reported any decoding error (a truncated file often
    still decodes its first frames with exit code 0); strict=False keeps whatever could be decoded.
    """
    path = _check_file(path)
    filters = ([f"fps={fps}"] if fps else []) + ([resize_filter(resolution)] if resolution else [])
    cmd = (
        [ffmpeg_exe(), "-v", "error", "-nostdin", "-i", str(path)]
        + (["-vf", ",".join(filters)] if filters else [])
        + ["-map", "0:v:0", "-an", "-f", "image2pipe", "-c:v", "ppm", "-"]
    )
    errf = (
        tempfile.TemporaryFile()
    )  # a file, not a pipe: a chatty decoder cannot fill it and deadlock us
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errf)
    n = 0
    try:
        while True:
            magic = proc.stdout.readline()
            if not magic:
                break
            size, maxval = proc.stdout.readline().split(), proc.stdout.readline().strip()
            if magic.strip() != b"P6" or len(size) != 2 or maxval != b"255":
                raise ValueError(f"cannot read video {path}: unexpected decoder output")
            w, h = int(size[0]), int(size[1])
            buf = proc.stdout.read(w * h * 3)
            if len(buf) != w * h * 3:
                raise ValueError(f"cannot read video {path}: decoder output ended mid-frame {n}")
            n += 1
            yield np.frombuffer(buf, np.uint8).reshape(h, w, 3)
        rc = proc.wait()
        errf.seek(0)
        err = errf.read().decode(errors="replace")
        if rc != 0:
            raise ValueError(f"cannot read video {path} (truncated or corrupt?): {_tail(err)}")
        if n == 0:
            raise ValueError(f"video {path} has no frames ({_tail(err)})")
        if strict and err.strip():
            raise ValueError(
                f"video {path} is truncated or corrupt (decoded {n} frames, then: {_tail(err)}); "
                "pass strict=False to keep the decodable frames"
            )
    finally:
        if proc.poll() is None:  # consumer stopped early, or an error above
            proc.kill()
        proc.stdout.close()
        proc.wait()
        errf.close()


def read_video(
    path, *, fps: float | None = None, resolution: int | None = None, strict: bool = True
) -> np.ndarray:
    """Decode a whole video: uint8 [N, H, W, 3].

    fps: resample the frame rate with ffmpeg's `fps` filter (drops/duplicates frames).
    resolution: Lanczos-resize the short side and centre-crop to `resolution`².
    strict: also fail when ffmpeg recovered from decoding errors (e.g. a cut-off stream); see
    `iter_frames`. Missing, unreadable, truncated or frame-less files raise
    ValueError/FileNotFoundError naming the file.
    """
    return np.stack(list(iter_frames(path, fps=fps, resolution=resolution, strict=strict)))


class VideoWriter:
    """Stream uint8 frames [n, H, W, 3] into ffmpeg: a video of any length in constant memory.

    The file appears under its name only when `close()` succeeds (ffmpeg writes to a temporary
    name first),
    so a failed or interrupted write never leaves a half video behind. Use as a context manager.
    yuv420p needs even sizes: odd heights/widths are padded by repeating the last row/column.
    """

    def __init__(self, path, fps: float = 30, codec: str = "h264", crf: int = 18):
        if codec not in CODECS:
            raise ValueError(
                f"write_video({path}): unknown codec {codec!r}; choose one of {sorted(CODECS)}"
            )
        self.path, self.fps, self.crf = Path(path), fps, crf
        self.encoder, self.extra = CODECS[codec]
        self.tmp = self.path.with_name(f".{self.path.stem}.partial{self.path.suffix}")
        self.proc, self.shape, self.count = None, None, 0

    def _start(self, h: int, w: int):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        quality = (
            ["-crf", str(self.crf)]
            if self.encoder in ("libx264", "libx264rgb", "libvpx-vp9")
            else []
        )
        cmd = [
            ffmpeg_exe(),
            "-y",
            "-v",
            "error",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-s",
            f"{w}x{h}",
            "-r",
            str(self.fps),
            "-i",
            "-",
            "-an",
            "-c:v",
            self.encoder,
            *self.extra,
            *quality,
        ]
        cmd += (
            ["-movflags", "+faststart"]
            if self.path.suffix.lower() in (".mp4", ".mov", ".m4v")
            else []
        )
        self.proc = subprocess.Popen(
            cmd + [str(self.tmp)], stdin=subprocess.PIPE, stderr=subprocess.PIPE
        )

    def write(self, frames) -> None:
        frames = np.asarray(frames)
        if frames.ndim == 3:
            frames = frames[..., None].repeat(3, -1)
        if frames.ndim != 4 or frames.shape[-1] != 3:
            raise ValueError(
                f"write_video({self.path}): frames must be [N, H, W, 3], got {frames.shape}"
            )
        if frames.dtype != np.uint8:
            raise ValueError(f"write_video({self.path}): frames must be uint8, got {frames.dtype}")
        if "yuv420p" in self.extra:
            _, h, w, _ = frames.shape
            frames = np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        if self.proc is None:
            self.shape = frames.shape[1:3]
            self._start(*self.shape)
        elif frames.shape[1:3] != self.shape:
            raise ValueError(
                f"write_video({self.path}): frame size changed from {self.shape} "
                f"to {frames.shape[1:3]}"
            )
        try:
            self.proc.stdin.write(np.ascontiguousarray(frames).tobytes())
        except BrokenPipeError:
            self._fail()
        self.count += len(frames)

    def _fail(self):
        err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
        self.abort()
        raise RuntimeError(f"ffmpeg failed to write {self.path}: {_tail(err)}")

    def close(self) -> Path:
        if self.proc is None or self.count == 0:
            raise ValueError(f"write_video({self.path}): no frames were written")
        self.proc.stdin.close()
        if self.proc.wait() != 0:
            self._fail()
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.tmp.unlink(missing_ok=True)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_video(path, frames, fps: float = 30, codec: str = "h264", crf: int = 18) -> Path:
    """Encode uint8 [N, H, W, 3] frames to `path` (yuv420p h264 by default; crf 18 ≈ visually
    lossless).

    The moov atom is put first (+faststart) so notebooks can stream the file. See `VideoWriter`
    for streaming.
    """
    frames = np.asarray(frames)
    if len(frames) == 0:
        raise ValueError(
            f"write_video({path}): frames must be [N, H, W, 3] with N >= 1, got {frames.shape}"
        )
    w = VideoWriter(path, fps=fps, codec=codec, crf=crf)
    w.write(frames)
    return w.close()


def write_frames(folder, frames, ext: str = "png", quality: int = 95, start: int = 0) -> list[Path]:
    """Write uint8 [N, H, W, 3] frames as folder/%06d.png (or .jpg at `quality`); returns the
    paths."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(
            f"write_frames({folder}): frames must be uint8 [N, H, W, 3], "
            f"got {frames.dtype} {frames.shape}"
        )
    ext = ext.lower().lstrip(".")
    if ext not in ("png", "jpg", "jpeg"):
        raise ValueError(f"write_frames({folder}): ext must be png or jpg, got {ext!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, f in enumerate(frames):
        p = folder / f"{start + k:06d}.{ext}"
        Image.fromarray(f).save(p, **({"quality": quality} if ext != "png" else {}))
        paths.append(p)
    return paths


def resize_center_crop(img: Image.Image, resolution: int) -> Image.Image:
    """Resize the short side to `resolution` (Lanczos) and centre-crop a square, as the official
    scripts do.

    Done in one Pillow call: the crop box (in source pixels, sub-pixel centred) is resampled
    straight to resolution², which equals resize-then-crop without resampling the discarded
    margins.
    """
    w, h = img.size
    s = min(w, h)
    if (w, h) == (resolution, resolution):
        return img
    box = ((w - s) / 2, (h - s) / 2, (w + s) / 2, (h + s) / 2)
    return img.resize((resolution, resolution), Image.LANCZOS, box=box)


def is_video_file(path) -> bool:
    return Path(path).suffix.lower() in VIDEO_EXTS


def is_image_file(path) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTS and not os.path.basename(str(path)).startswith(
        "."
    )
