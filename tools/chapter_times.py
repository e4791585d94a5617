"""How long each chapter takes: measured on this CPU, estimated for a Colab T4 and a recent GPU.

    python tools/chapter_times.py --measure --profile book --cpus 0   # run every chapter, time it
    python tools/chapter_times.py --measure --profile fast --cpus 0
    python tools/chapter_times.py --estimate      # count the gpu profile's work, estimate GPU times
    python tools/chapter_times.py --write-setup   # the table in book/setup.md from the JSON

Everything is kept in book/chapter_times.json; each step replaces only its own part of it.

Measuring executes each notebook in turn with nbclient in a fresh kernel (nothing is written back
into notebooks/) and records the wall time from kernel start to kernel shutdown. `--cpus` pins the
run (and so its kernels) to those CPU cores.

Estimating cannot run the chapters on a GPU, so it counts: per chapter, a fixed overhead (kernel
start, imports, the first CUDA call) plus the chapter's heavy work under the `gpu` profile. The
heavy work is one unit (a training step, a generated frame, an I3D clip) whose FLOPs are counted
on the CPU with `torch.utils.flop_counter.FlopCounterMode`, times the number of units the chapter's
`env.pick(...)` asks for, divided by an achieved throughput derived from the H200 measurements in
bench/results/gpu_h200/. Work made of tiny kernels is bound by launches, not FLOPs; there a measured
time per unit is used instead where one exists.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
JSON_PATH = ROOT / "book" / "chapter_times.json"
SETUP = ROOT / "book" / "setup.md"


# ---------------------------------------------------------------------------------------------
# the JSON


def load(path: Path = JSON_PATH) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def save(data: dict, path: Path = JSON_PATH) -> None:
    path.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n")


# ---------------------------------------------------------------------------------------------
# measuring on this machine


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    import torch

    return {
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cores_used": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


def note(m: dict) -> str:
    cores = m.get("cores_used") or list(range(m["cpu_count"]))
    return (
        f"wall times on a {m['cpu_count']}-core machine, the run pinned to cores {cores}; other "
        "jobs may share the machine, so read them as upper bounds"
    )


def run_chapter(path: Path, timeout: int) -> tuple[float, str | None]:
    """Execute one notebook in a fresh kernel, outputs kept in memory only: (seconds, error)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    error = None
    start = time.perf_counter()
    try:
        client.execute()  # starts the kernel, runs every cell, shuts the kernel down
    except CellExecutionError as e:
        error = str(e).strip().splitlines()[-1][:300] if str(e).strip() else type(e).__name__
    except Exception as e:  # a timeout or a dead kernel: still record how far it got
        error = f"{type(e).__name__}: {e}"[:300]
    return time.perf_counter() - start, error


def measure(profile: str, notebooks: list[Path], timeout: int, cpus: list[int] | None) -> dict:
    if cpus:
        os.sched_setaffinity(0, cpus)  # the kernels inherit it
    os.environ["SVLIB_PROFILE"] = profile
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as tools/build_book.sh
    # the kernels import this checkout's svlib
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
    )
    record = {
        "date": datetime.date.today().isoformat(),
        "machine": machine(),
        "settings": {
            "SVLIB_PROFILE": profile,
            "OMP_WAIT_POLICY": os.environ["OMP_WAIT_POLICY"],
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        },
        "chapters": {},
    }
    record["note"] = note(record["machine"])
    if hasattr(os, "getloadavg"):
        record["load_average_at_start"] = [round(x, 2) for x in os.getloadavg()]
    data = load()
    for path in notebooks:
        seconds, error = run_chapter(path, timeout)
        entry = {"seconds": round(seconds, 1)}
        if error:
            entry["error"] = error
        record["chapters"][path.stem] = entry
        print(
            f"{path.stem:28s} {seconds:8.1f} s" + (f"  ERROR {error}" if error else ""), flush=True
        )
        record["total_seconds"] = round(sum(c["seconds"] for c in record["chapters"].values()), 1)
        data.setdefault("cpu", {})[profile] = record
        save(data)  # after every chapter, so a long run keeps what it measured
    return record


# ---------------------------------------------------------------------------------------------
# estimating the GPU columns

# Peak dense throughputs (vendor data sheets), FLOP/s.
PEAK = {
    "h200_bf16": 989.4e12,  # H200 SXM, bf16 tensor cores
    "h200_tf32": 494.7e12,  # fp32 convolutions run as TF32 in cuDNN by default
    "t4_fp32": 8.1e12,  # a T4 has no bf16: svlib trains in fp32 there (amp="auto")
    "t4_fp16": 65e12,  # for reference only: svlib does not use fp16
}
# Measured on one H200 (bench/results/gpu_h200/README.md and session_main.log).
H200 = {
    # paper256, batch 64 x F=3, bf16 autocast, G+D forward + backward (bench_model.py)
    "paper256_step_flops": 34212.51e9,
    "paper256_step_s": 0.4802,
    "i3d_clips_per_s": 559.0,  # 16-frame clips resized to 224², batch 16, fp32 (bench_fvd.py)
    "cpu_step_s": 0.223,  # full training step, cpu preset, 32², batch 128, eager (bench_train.py)
    "frame_s": 0.11e-3,  # one generated 32² frame of the cpu preset, 10,000 in a row
    "cuda_start_s": 0.9,  # the first 256 frames took 0.9 s longer than at the steady rate
}
T4_CUDA_START_S = 3.0  # assumed: a first CUDA call on Colab (context, cuDNN load)


class _GlobalOnly:
    """Stands in for FlopCounterMode's module tracker, whose backward hooks fail under the double
    backward of R1 (`autograd.grad(..., create_graph=True)`); only the global total is needed."""

    parents = ("Global",)

    def __enter__(self):
        return self

    def __exit__(self, *args):
        return False


def count_flops(fn) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    fc = FlopCounterMode(display=False)
    fc.mod_tracker = _GlobalOnly()
    with fc:
        fn()
    return fc.get_total_flops()


def step_flops(preset: str, resolution: int, batch: int) -> float:
    """FLOPs of one full training step (G, D, R1 every r1_interval steps, averaged), on the CPU."""
    import svlib
    from svlib.data import StepBatches, open_dataset
    from svlib.training import TrainingState, step_generator, train_step

    cfg = svlib.get_preset(preset, {"train.batch_size": batch}, resolution=resolution)
    state = TrainingState.create(cfg, "cpu")
    data = open_dataset(f"synthetic:shapes?n=16&length=64&resolution={resolution}")
    batches = StepBatches(data, state.cfg, batch)
    per_step = []
    for step in (0, 1):  # step 0 has the lazy R1 pass, step 1 does not
        per_step.append(
            count_flops(lambda s=step: train_step(state, batches[s], step_generator(0, s)))
        )
    k = state.cfg.train.r1_interval
    return (per_step[0] + (k - 1) * per_step[1]) / k


def frame_flops(frames: int = 128) -> float:
    """FLOPs of one generated frame of the shipped 32² generator (chunks of 128)."""
    from svlib import book
    from svlib.generate import generate_frames

    G, _ = book.load_pretrained("cpu")
    return count_flops(lambda: generate_frames(G, frames, chunk_size=128)) / frames


def i3d_clip_flops(frames: int) -> float:
    """FLOPs of one I3D pass on a clip of `frames` 32² frames (resized to 224² inside)."""
    import torch

    from svlib.metrics.i3d import load_i3d

    det = load_i3d(untrained=True, device="cpu")  # same architecture as the trained one
    clip = torch.zeros(1, frames, 32, 32, 3, dtype=torch.uint8)
    return count_flops(lambda: det(clip))


def render_seconds(frames: int = 256) -> float:
    """CPU seconds to render one 32² frame of synthetic:shapes (the real clips of chapters 8-9)."""
    import numpy as np

    from svlib.data import open_dataset

    ds = open_dataset("synthetic:shapes?n=16&length=128&resolution=32")
    start = time.perf_counter()
    for i in range(frames // 16):
        ds.render(i % 16, np.arange(16, dtype=np.float64))
    return (time.perf_counter() - start) / frames


def build_paper256_seconds() -> float:
    """CPU seconds to build the paper256 G and D (chapter 4 builds them three times)."""
    import svlib
    from svlib.models import build_models

    start = time.perf_counter()
    build_models(svlib.get_preset("paper256"))
    return time.perf_counter() - start


def units() -> dict:
    """One unit of each kind of heavy work: its FLOPs (counted) or CPU seconds (timed)."""
    u = {
        "step_ch6": step_flops("cpu", 64, 32),  # chapter 6, gpu profile
        "step_ref": step_flops("cpu", 32, 128),  # the measured H200 training step
        "step_colab128": step_flops("colab", 128, 32),  # chapter 10's precision / compile timing
        "frame": frame_flops(),
        "i3d16": i3d_clip_flops(16),
        "i3d128": i3d_clip_flops(128),
        "render_s": render_seconds(),
        "build_paper256_s": build_paper256_seconds(),
    }
    return {k: float(v) for k, v in u.items()}


def rates(u: dict) -> dict:
    """Seconds per unit on each GPU, and the achieved throughputs they come from."""
    train_h200 = H200["paper256_step_flops"] / H200["paper256_step_s"]  # achieved FLOP/s
    frac_train = train_h200 / PEAK["h200_bf16"]
    i3d_h200 = u["i3d16"] * H200["i3d_clips_per_s"]
    frac_i3d = i3d_h200 / PEAK["h200_tf32"]
    t4_train, t4_i3d = PEAK["t4_fp32"] * frac_train, PEAK["t4_fp32"] * frac_i3d
    ref_h200 = u["step_ref"] / H200["cpu_step_s"]
    r = {
        "achieved": {
            "h200_train_tflops": train_h200 / 1e12,
            "h200_train_fraction_of_bf16_peak": frac_train,
            "h200_i3d_tflops": i3d_h200 / 1e12,
            "h200_i3d_fraction_of_tf32_peak": frac_i3d,
            "h200_cpu_preset_step_tflops": ref_h200 / 1e12,
            "t4_train_tflops": t4_train / 1e12,
            "t4_i3d_tflops": t4_i3d / 1e12,
        },
        # A step of the small presets is launch-bound on an H200: the measured step time is a
        # floor for both GPUs (a T4's host does not launch kernels faster).
        "step_ch6": {
            "h200": max(u["step_ch6"] / train_h200, H200["cpu_step_s"]),
            "t4": max(u["step_ch6"] / t4_train, H200["cpu_step_s"]),
        },
        "step_colab128": {
            "h200": max(u["step_colab128"] / train_h200, H200["cpu_step_s"]),
            "t4": max(u["step_colab128"] / t4_train, H200["cpu_step_s"]),
        },
        "frame": {
            "h200": max(u["frame"] / train_h200, H200["frame_s"]),
            "t4": max(u["frame"] / t4_train, H200["frame_s"]),
        },
        "i3d16": {"h200": 1 / H200["i3d_clips_per_s"], "t4": u["i3d16"] / t4_i3d},
        "i3d128": {"h200": u["i3d128"] / i3d_h200, "t4": u["i3d128"] / t4_i3d},
        "render_s": {"h200": u["render_s"], "t4": u["render_s"]},  # CPU work either way
        "build_paper256_s": {"h200": u["build_paper256_s"], "t4": u["build_paper256_s"]},
    }
    return r


# The heavy work of each chapter under the gpu profile, read from its env.pick(...) values:
# (what, unit, count[, cap]). Items with a cap are training runs stopped by max_minutes: their time
# is min(count x step time, cap). Chapters 0-5 use the book sizes under the gpu profile and their
# work is CPU-side (rendering, plots, small model passes), and chapter 10 counts the FLOPs of the
# paper256 preset on the CPU under both profiles: their fixed part is the CPU book time.
N9 = 512  # chapter 9 under the gpu profile: 512 real and 512 generated videos per 16-frame metric
N9_128 = 128  # and 128 of each for FVD128 (whole 128-frame clips through I3D)
WORK = {
    "04_sparse_sampling": [("paper256 G and D built on the CPU, 3 times", "build_paper256_s", 3)],
    "06_training": [
        ("live training: 5000 steps, 64², batch 32, stopped after 6 min", "step_ch6", 5000, 360),
        ("resume demonstration: 100 + 100 steps", "step_ch6", 200),
        ("generated frames (samples, previews)", "frame", 4 * 96 + 9 * 64 + 5 * 9 * 32),
    ],
    "07_infinite_videos": [
        (
            "generated frames: 2x2x400 + 256 + 4096 + 320 + 32 + 2x(256+1024+4096) + 192",
            "frame",
            1600 + 256 + 4096 + 8 + 320 + 32 + 2 * (256 + 1024 + 4096) + 192,
        ),
    ],
    "08_latent_space": [
        ("generated frames: 16 videos x 1024 + grids", "frame", 16 * 1024 + 2000),
        ("real frames rendered on the CPU: 16 videos x 1024", "render_s", 16 * 1024),
    ],
    "09_evaluation": [
        ("I3D, 16-frame clips: 256 + 4 x 256 (N = 256 table)", "i3d16", 256 + 4 * 256),
        ("I3D, 16-frame clips: fvd16 and fvd128_sub8, 2 x (512 + 512)", "i3d16", 4 * N9),
        ("I3D, 128-frame clips: fvd128, 128 + 128", "i3d128", 2 * N9_128),
        (
            "generated frames: 2 x 256 x 16 + 512 x (16 + 16) + 128 x 128 + proxies",
            "frame",
            2 * 256 * 16 + N9 * 32 + N9_128 * 128 + 4 * (256 * 16 + 1040),
        ),
        (
            "real frames rendered on the CPU: 3 x 256 x 16 + 512 x 32 + 128 x 128 + proxies",
            "render_s",
            3 * 256 * 16 + N9 * 32 + N9_128 * 128 + 2 * (256 * 16 + 1040),
        ),
    ],
    "10_scaling_up": [
        (
            "precision / compile timing: 3 x 20 steps of batch 8, colab preset at 128²",
            "step_colab128",
            60 / 4,
        ),
        # G+D forward + backward, batch 8 (a quarter of a batch-32 step), 2 x 13 times
        ("StyleGAN-V vs StyleGAN2 step timing, batch 8", "step_colab128", 26 / 4),
        ("Colab recipe: training stopped after 4 min", "step_colab128", 10**9, 240),
    ],
}
CPU_SIDE = [
    "00_preface",
    "01_continuous_videos",
    "02_stylegan2",
    "03_motion_embeddings",
    "04_sparse_sampling",
    "05_holistic_discriminator",
    "10_scaling_up",
]


def estimate_chapter(name: str, r: dict, cpu_book: float, cpu_fast: float) -> dict:
    """Seconds on each GPU: fixed part + heavy work (see the module docstring)."""
    out = {"items": []}
    for gpu, start in (("h200", H200["cuda_start_s"]), ("t4", T4_CUDA_START_S)):
        if name in CPU_SIDE:
            base = cpu_book  # the chapter at book sizes, on this CPU
        else:
            base = cpu_fast  # kernel start, imports and every light cell, at fast sizes
        total = base + start
        for item in WORK.get(name, []):
            what, unit, count, *cap = item
            seconds = count * r[unit][gpu]
            if cap:
                seconds = min(seconds, cap[0])
            total += seconds
            if gpu == "h200":
                out["items"].append({"what": what, "unit": unit, "count": count})
            out["items"][[i[0] for i in WORK[name]].index(what)][f"{gpu}_s"] = round(seconds, 1)
        out[f"{gpu}_s"] = round(total, 1)
    out["fixed"] = "CPU book time" if name in CPU_SIDE else "CPU fast-profile time"
    return out


def estimate(u: dict | None = None) -> dict:
    data = load()
    cpu = data.get("cpu", {})
    if "book" not in cpu or "fast" not in cpu:
        raise SystemExit("measure the book and fast profiles first (--measure)")
    u = units() if u is None else u
    r = rates(u)
    chapters = {}
    for name, entry in cpu["book"]["chapters"].items():
        fast = cpu["fast"]["chapters"].get(name, {}).get("seconds", 0.0)
        chapters[name] = estimate_chapter(name, r, entry["seconds"], fast)
    record = {
        "date": datetime.date.today().isoformat(),
        "method": (
            "per chapter: fixed part (CPU fast-profile time, or CPU book time for chapters 0-5 "
            "and 10) + first CUDA call + heavy work of the gpu profile; heavy work = count x "
            "seconds per unit, a unit's FLOPs counted on the CPU with FlopCounterMode and divided "
            "by the achieved throughput of the H200 measurements (T4: the same fraction of its "
            "fp32 peak); launch-bound units use the measured H200 time as a floor; capped "
            "training counts min(steps x step time, max_minutes)"
        ),
        "units": u,
        "peak_flops": PEAK,
        "h200_measured": H200,
        "t4_cuda_start_s": T4_CUDA_START_S,
        "achieved": r["achieved"],
        "seconds_per_unit": {k: v for k, v in r.items() if k != "achieved"},
        "chapters": chapters,
    }
    data["gpu"] = record
    save(data)
    return record


# ---------------------------------------------------------------------------------------------
# the table in book/setup.md

HEADING = "## How long a chapter takes"
TITLES = {
    "00_preface": "0 Preface",
    "01_continuous_videos": "1 Continuous videos",
    "02_stylegan2": "2 StyleGAN2",
    "03_motion_embeddings": "3 Motion embeddings",
    "04_sparse_sampling": "4 Sparse sampling",
    "05_holistic_discriminator": "5 Holistic discriminator",
    "06_training": "6 Training",
    "07_infinite_videos": "7 Infinite videos",
    "08_latent_space": "8 Latent space",
    "09_evaluation": "9 Evaluation",
    "10_scaling_up": "10 Scaling up",
}


def fmt_measured(s: float) -> str:
    return f"{s:.0f} s" if s < 120 else f"{s / 60:.1f} min"


def fmt_estimate(s: float) -> str:
    """Estimates are rough: 5 s steps under a minute and a half, then whole minutes, then 5."""
    if s < 90:
        return f"~{max(5, 5 * round(s / 5))} s"
    if s < 20 * 60:
        return f"~{round(s / 60)} min"
    return f"~{5 * round(s / 300)} min"


def title(stem: str) -> str:
    return TITLES.get(stem, stem)


def render_section(data: dict) -> str:
    """The body of the section HEADING in book/setup.md, from book/chapter_times.json."""
    book, fast, gpu = data["cpu"]["book"], data["cpu"]["fast"], data["gpu"]
    m, a = book["machine"], gpu["achieved"]
    rows = [
        "| chapter | CPU book build (measured) | Colab T4 (estimated) "
        "| recent GPU, H200 (estimated) |",
        "|---|---|---|---|",
    ]
    tot = {"cpu": 0.0, "t4": 0.0, "h200": 0.0}
    for stem, entry in book["chapters"].items():
        est = gpu["chapters"][stem]
        cpu = fmt_measured(entry["seconds"]) + (" (failed)" if entry.get("error") else "")
        rows.append(
            f"| {title(stem)} | {cpu} | {fmt_estimate(est['t4_s'])} | "
            f"{fmt_estimate(est['h200_s'])} |"
        )
        tot["cpu"] += entry["seconds"]
        tot["t4"] += est["t4_s"]
        tot["h200"] += est["h200_s"]
    rows.append(
        f"| all chapters | {fmt_measured(tot['cpu'])} | {fmt_estimate(tot['t4'])} | "
        f"{fmt_estimate(tot['h200'])} |"
    )
    u = gpu["units"]
    cores = len(m["cores_used"]) if m.get("cores_used") else m["cpu_count"]
    s = gpu["seconds_per_unit"]
    h = gpu["h200_measured"]
    paragraphs = [
        f"""**CPU, measured.** Each chapter executed once with `SVLIB_PROFILE=book` in a fresh
        kernel and PyTorch's default threads; the time runs from kernel start to kernel shutdown.
        The machine had {m["cpu_count"]} cores ({m["cpu"]}, torch {m["torch"]}; {book["date"]}),
        the run was pinned to {"one" if cores == 1 else cores} of them, and other jobs used the
        machine at the same time: treat the times as upper bounds. All chapters together took
        {fmt_measured(fast["total_seconds"])} under the `fast` profile.""",
        f"""**GPUs, estimated.** Per chapter, a fixed part plus the heavy work of the `gpu`
        profile. The fixed part is the chapter's CPU time under the `fast` profile (kernel start,
        imports, every light cell); for chapters 0–5, which keep the book sizes under `gpu` and
        work on the CPU, and for chapter 10, which counts FLOPs on the CPU under both profiles, it
        is the CPU book time. Add the first CUDA call ({h["cuda_start_s"]:g} s measured on the
        H200, {gpu["t4_cuda_start_s"]:g} s assumed on a T4). The heavy work is read from each
        chapter's `env.pick(...)` values, and PyTorch's `FlopCounterMode` counts one unit of it:
        {u["step_ch6"] / 1e9:.0f} GFLOP per training step in chapter 6 (64², batch 32),
        {u["step_colab128"] / 1e12:.1f} TFLOP per step of the `colab` preset at 128² in chapter 10,
        {u["frame"] / 1e6:.0f} MFLOP per generated 32² frame, {u["i3d16"] / 1e9:.1f} GFLOP per I3D
        pass on a 16-frame clip (8 times that on a 128-frame one). The H200 measurements in
        `bench/results/gpu_h200/` give the achieved throughput: a paper256 training step in bf16
        reaches {a["h200_train_tflops"]:.0f} TFLOP/s
        ({100 * a["h200_train_fraction_of_bf16_peak"]:.1f}% of the bf16 peak), I3D
        {h["i3d_clips_per_s"]:g} clips/s ({a["h200_i3d_tflops"]:.0f} TFLOP/s,
        {100 * a["h200_i3d_fraction_of_tf32_peak"]:.1f}% of the TF32 peak). A T4 has no bf16, so
        svlib computes in fp32 there; its column assumes the same fractions of the T4's 8.1 TFLOP/s
        fp32 peak ({a["t4_train_tflops"]:.2f} TFLOP/s for training, {a["t4_i3d_tflops"]:.2f} for
        I3D). That is probably pessimistic, since fp32 arithmetic usually reaches a larger share of
        its peak than tensor cores do: it makes chapter 9 ({s["i3d16"]["t4"]:.2f} s per I3D clip)
        and chapter 10 ({s["step_colab128"]["t4"]:.0f} s per `colab` step) slow on a T4.""",
        f"""Small models are bound by kernel launches, not arithmetic: for them the FLOP count is
        only a lower bound, and the measured H200 times are used on both GPUs (a T4 launches no
        faster): {h["cpu_step_s"]:g} s per training step of the `cpu` preset,
        {1000 * h["frame_s"]:.2f} ms per generated frame. Live training stops after `max_minutes`,
        6 minutes in chapter 6 and 20 in chapter 10, on either GPU. Not included: `torch.compile`'s
        compilation in chapter 10, and on Colab a minute or two per chapter to install svlib.""",
        """Every number is in `book/chapter_times.json`; to redo them and this table:""",
    ]
    body = "\n\n".join(
        textwrap.fill(
            " ".join(p.split()), width=100, break_long_words=False, break_on_hyphens=False
        )
        for p in paragraphs
    )
    commands = (
        "```bash\n"
        "python tools/chapter_times.py --measure --profile book   # --cpus 0: pin to core 0\n"
        "python tools/chapter_times.py --measure --profile fast\n"
        "python tools/chapter_times.py --estimate --write-setup   # the GPU columns, this table\n"
        "```\n"
    )
    return "\n" + "\n".join(rows) + "\n\n" + body + "\n\n" + commands


def section_text(data: dict) -> str:
    """What follows HEADING in book/setup.md, up to the next section."""
    return "\n" + render_section(data) + "\n"


def _section_span(text: str) -> tuple[int, int]:
    start = text.index(HEADING) + len(HEADING)
    end = text.find("\n## ", start)
    return start, len(text) if end < 0 else end + 1


def write_setup(data: dict, path: Path = SETUP) -> None:
    text = path.read_text()
    start, end = _section_span(text)
    path.write_text(text[:start] + section_text(data) + text[end:])


def setup_section(path: Path = SETUP) -> str:
    """The current body of the section HEADING (what `write_setup` replaces)."""
    text = path.read_text()
    start, end = _section_span(text)
    return text[start:end]


# ---------------------------------------------------------------------------------------------
# the command line


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--measure", action="store_true", help="execute the chapters and time them")
    ap.add_argument("--profile", default="book", choices=["fast", "book", "gpu"])
    ap.add_argument("--cpus", default=None, help="pin to these cores, e.g. 0 or 0,1")
    ap.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    ap.add_argument("--only", nargs="*", default=None, help="chapter file stems or numbers")
    ap.add_argument("--estimate", action="store_true", help="estimate the GPU columns")
    ap.add_argument(
        "--recount", action="store_true", help="count the FLOPs again (else the JSON's; ~15 min)"
    )
    ap.add_argument("--write-setup", action="store_true", help="write the table into setup.md")
    args = ap.parse_args(argv)

    notebooks = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if args.only:
        notebooks = [p for p in notebooks if p.stem in args.only or p.stem[:2] in args.only]
    if args.measure:
        cpus = [int(c) for c in args.cpus.split(",")] if args.cpus else None
        measure(args.profile, notebooks, args.timeout, cpus)
    if args.estimate:
        stored = load().get("gpu", {}).get("units")
        estimate(None if args.recount or not stored else stored)
    if args.write_setup:
        write_setup(load())
    if not (args.measure or args.estimate or args.write_setup):
        ap.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
