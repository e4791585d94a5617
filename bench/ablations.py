"""Trained experiments on StyleGAN-V's design choices, each variant against the paper's model at an
equal budget of wall-clock minutes on one core, on the same data, with several training seeds.

    python bench/ablations.py list           # experiments, variants and their overrides
    OMP_NUM_THREADS=1 taskset -c 1 python bench/ablations.py sparse_vs_dense     # one experiment
    OMP_NUM_THREADS=1 taskset -c 1 python bench/ablations.py embedding --train-only --leg-minutes 90
    python bench/ablations.py table          # the table of every written experiment
    # an experiment on ways of using one model, run on a trained one (--seeds: scoring seeds)
    python bench/ablations.py upsampling --checkpoint svlib/assets/demo32.pt --seeds 0 1

`python bench/ablations.py NAME` trains what its variants still lack of their budget (each run
resumes exactly; `--leg-minutes` caps one call, so a long budget is spent in legs), scores every
trained run once (scores are kept per run, so the paper's run shared by all experiments is scored
once), and writes bench/results/ablations/NAME.json: per variant, every measure for each seed, and
its mean and standard deviation over the seeds. Runs live in runs/ablations/<variant>/seed<k>/.

Measures:
- quality: FVD16 / KVD16 (Kinetics-400 I3D, N real = N generated) and the pixel proxies of
  `bench/learning_evidence.py` (motion and appearance W1/σ, time continuity, drift);
- cost: steps reached in the budget and milliseconds per step, from the run's log;
- grid_jitter: frame change across the motion grid's points against inside its cells (a kink of the
  motion embedding at the grid shows as a larger second difference there);
- long_video: drift of window statistics and self-similarity over 4,096-frame videos;
- gap_probe: the trained D's logit on real clips with their true gaps against shuffled and reversed
  frames and false gaps;
- upsampling: 4x the frame rate by continuous t against a linear blend of the 1x frames, both scored
  by FVD16 against real clips rendered at 4x the frame rate (the synthetic sets render at any real
  time), plus a side-by-side video.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT / "runs" / "ablations"
RESULTS = ROOT / "bench" / "results" / "ablations"
sys.path.insert(0, str(ROOT / "bench"))

from bench_variants import VARIANTS as COST_VARIANTS  # noqa: E402
from recipe import _wall_time  # noqa: E402

# the demo model's set: one large shape per video, 0.5-1 px/frame at 32², bouncing and spinning
DATA = "synthetic:shapes?n=2048&max_shapes=1&speed=0.015,0.03&radius=0.18,0.26"
# per run, on one core: the demo run (the paper's model on DATA, with the cpu preset's earlier
# δz = 8) passes the FVD16 of still frames at about 42,500 steps (bench/results/demo/curve), about
# 200 minutes at 0.27 s per step
BUDGET_MINUTES = 200.0

VARIANTS: dict[str, list[str]] = {
    **COST_VARIANTS,  # paper, dense16, no_gap_conditioning, raw_embedding, lstm_codes
    "f2": ["sampling.num_frames=2", "D.num_frames=2"],
    "image_video": ["D.kind=image+video"],
}

# name -> (the paper's claim it tests, variants (the paper's first), measures)
EXPERIMENTS: dict[str, tuple[str, list[str], list[str]]] = {
    "sparse_vs_dense": (
        "2-3 sparse frames per clip learn as well as dense 16-frame clips, for a fraction of the "
        "cost",
        ["paper", "f2", "dense16"],
        ["quality", "cost"],
    ),
    "gap_conditioning": (
        "a D that knows the time gaps between its frames judges motion better",
        ["paper", "no_gap_conditioning"],
        ["quality", "gap_probe"],
    ),
    "embedding": (
        "subtracting the chord (aligned embedding) removes the jitter of raw sinusoids at the grid "
        "points",
        ["paper", "raw_embedding"],
        ["quality", "grid_jitter"],
    ),
    "motion_codes": (
        "padding-free conv1d motion codes keep long videos stable where an LSTM drifts",
        ["paper", "lstm_codes"],
        ["quality", "long_video"],
    ),
    "discriminator": (
        "one holistic D on sparse frames matches an image D plus a 3D-conv video D, for less cost",
        ["paper", "image_video"],
        ["quality", "cost"],
    ),
    "upsampling": (
        "continuous time gives higher frame rates for free, better than blending frames",
        ["paper"],
        ["upsampling"],
    ),
}


def run_dir(variant: str, seed: int, runs: Path = RUNS) -> Path:
    return runs / variant / f"seed{seed}"


def wall_minutes(run: Path) -> float:
    """Minutes of training so far (the log's wall time is summed over resumes)."""
    return _wall_time(run) / 60


def train(variant: str, seed: int, a) -> bool:
    """Train (or continue) one run for what is left of its budget, at most a.leg_minutes now.
    True when its budget is spent."""
    run = run_dir(variant, seed, a.runs)
    left = a.minutes - wall_minutes(run)
    if left <= 0.01:  # a leg shorter than a second is not worth starting
        return True
    now = min(left, a.leg_minutes) if a.leg_minutes else left
    cmd = [sys.executable, "-m", "svlib", "train", "--preset", a.preset, "--data", a.data]
    cmd += ["--out", str(run), "--resume", "--seed", str(seed), "--minutes", f"{now:.2f}"]
    cmd += ["--checkpoint-every", "1000", "--sample-every", "5000"]
    sets = VARIANTS[variant] + list(a.set or [])
    if sets:
        cmd += ["--set", *sets]
    print(" ".join(cmd), flush=True)
    env = {**os.environ, **({} if a.progress else {"TQDM_DISABLE": "1"})}
    subprocess.run(cmd, check=True, cwd=ROOT, env=env)
    return now >= left - 0.01


# ---- measures: each (run folder, args) -> flat dict of numbers ----


def m_quality(run: Path, a) -> dict:
    from svlib.checkpoint import resolve_checkpoint

    ckpt, _ = resolve_checkpoint(run)
    out = run / f"quality_n{a.n}.json"
    cmd = [sys.executable, str(ROOT / "bench" / "learning_evidence.py"), "--ckpt", str(ckpt)]
    cmd += ["--data", a.data, "--n", str(a.n), "--n-proxy", str(a.n), "--seed", "0"]
    cmd += ["--rows", "trained", "--out", str(out), "--cache-dir", str(a.runs / "real_features")]
    cmd += ["--no-fvd"] if a.no_fvd else []
    subprocess.run(cmd, check=True, cwd=ROOT, env={**os.environ, "TQDM_DISABLE": "1"})
    res = json.loads(out.read_text())
    return dict(res["rows"]["trained G"], step=res["step"])


def m_cost(run: Path, a) -> dict:
    lines = [json.loads(ln) for ln in (run / "log.jsonl").read_text().splitlines() if ln.strip()]
    last = lines[-1]
    step, wall = int(last["step"]), float(last["wall_time"])
    return {"steps": step, "ms_per_step": 1000 * wall / max(step, 1), "minutes": wall / 60}


def _load(run: Path, device):
    from svlib.checkpoint import load_generator, resolve_checkpoint

    ckpt, _ = resolve_checkpoint(run)
    G, cfg = load_generator(ckpt, device=device)
    return ckpt, G, cfg


def grid_jitter(G, n: int, cells: int = 8, h: float = 0.25, seed: int = 0, device=None) -> dict:
    """Frame change of n videos at step h across `cells` cells of the motion grid.

    first: RMS |f(t+h) − f(t)| over steps that cross a grid point, over those that do not;
    second: RMS |f(t+h) − 2f(t) + f(t−h)| at the grid points, elsewhere. A motion path continuous
    and smooth at the grid gives ratios near 1."""
    from svlib.generate import seed_latents, video_frames

    dz = float(G.cfg.motion.grid_spacing)
    t = np.arange(h, cells * dz + h / 2, h)  # [T], starts at h so t − h >= 0
    t = np.concatenate([[0.0], t])
    z, mz = seed_latents(G, list(range(seed, seed + n)), float(t[-1]) + 1, device)
    f = video_frames(G, t, z=z, motion_z=mz, chunk_size=64, device=device).double()  # [n,T,C,H,W]
    d1 = (f[:, 1:] - f[:, :-1]).square().mean((2, 3, 4)).sqrt().mean(0).numpy()  # [T-1]
    d2 = (f[:, 2:] - 2 * f[:, 1:-1] + f[:, :-2]).square().mean((2, 3, 4)).sqrt().mean(0).numpy()
    k = np.round(t / dz).astype(int)
    cross = np.floor(t[1:] / dz - 1e-9) > np.floor(t[:-1] / dz - 1e-9)  # (t, t+h] holds jδz
    at_grid = np.isclose(t[1:-1], k[1:-1] * dz)
    return {
        "first_at_grid": float(d1[cross].mean()),
        "first_inside": float(d1[~cross].mean()),
        "first_ratio": float(d1[cross].mean() / d1[~cross].mean()),
        "second_at_grid": float(d2[at_grid].mean()),
        "second_inside": float(d2[~at_grid].mean()),
        "second_ratio": float(d2[at_grid].mean() / d2[~at_grid].mean()),
    }


def m_grid_jitter(run: Path, a) -> dict:
    _, G, _ = _load(run, a.device)
    return grid_jitter(G, n=min(a.n, 64), device=a.device)


def self_similarity(video: np.ndarray, min_lag: int = 64) -> float:
    """Largest mean cosine similarity between mean-removed frames `lag` apart, lag in
    [min_lag, L/2]: near 1 for a video that loops or freezes, near 0 for one that keeps changing."""
    v = video.reshape(len(video), -1).astype(np.float64)
    v = v - v.mean(0)
    v /= np.linalg.norm(v, axis=1, keepdims=True) + 1e-8
    lags = np.unique(np.geomspace(min_lag, len(v) // 2, 24).astype(int))
    return float(max((v[:-lag] * v[lag:]).sum(1).mean() for lag in lags))


def long_video(G, n: int, length: int = 4096, seed: int = 0, device=None) -> dict:
    """Drift (`long_video_drift`) and self-similarity of n videos of `length` frames, made in
    chunks (memory flat in the length), means over the videos; also at 1,024 frames."""
    from svlib.generate import iter_video
    from svlib.metrics.proxies import long_video_drift

    def uint8(c):  # [1, chunk, C, H, W] in [-1, 1] -> [chunk, H, W, C]
        return ((c[0].clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).cpu().numpy()

    out: dict[str, list[float]] = {}
    for s in range(seed, seed + n):
        frames = np.concatenate([uint8(c) for c in iter_video(G, length, seed=s, chunk_size=256)])
        for L in sorted({min(1024, length), length}):
            d = long_video_drift(frames[:L])
            for key in ("mean_shift", "std_log_ratio", "motion_log_ratio"):
                out.setdefault(f"{key}@{L}", []).append(float(d[key]))
            out.setdefault(f"self_similarity@{L}", []).append(self_similarity(frames[:L]))
    return {k: float(np.mean(v)) for k, v in out.items()}


def m_long_video(run: Path, a) -> dict:
    _, G, _ = _load(run, a.device)
    return long_video(G, n=a.long_videos, length=a.long_length, device=a.device)


def gap_probe(D, clips, n: int, seed: int = 0) -> dict:
    """Mean D logit over n real clips as sampled, and the mean drop of the logit when the frames are
    shuffled or reversed or the claimed gaps are false (positive: D prefers the truth)."""
    import torch

    items = [clips[k] for k in range(n)]
    x = torch.stack([b["frames"] for b in items]).float() / 127.5 - 1  # [n, F, 3, H, W]
    t = torch.stack([b["t"] for b in items]).float()  # [n, F]
    gaps = t[:, 1:] - t[:, :-1]
    F_ = t.shape[1]
    variants = {
        "shuffled": (x[:, [1, 0, *range(2, F_)]], t),
        "reversed": (x.flip(1), t),
        "gaps doubled": (x, torch.cat([t[:, :1], t[:, :1] + torch.cumsum(2 * gaps, 1)], 1)),
        "gaps all 1": (x, t[:, :1] + torch.arange(F_, dtype=t.dtype)),
    }
    dev = next(D.parameters()).device
    with torch.no_grad():
        base = D(x.to(dev), t.to(dev)).flatten().cpu()  # [n]
        out = {"logit as sampled": float(base.mean())}
        for name, (xv, tv) in variants.items():
            lg = D(xv.to(dev), tv.to(dev)).flatten().cpu()
            out[f"drop {name}"] = float((base - lg).mean())
    return out


def m_gap_probe(run: Path, a) -> dict:
    from svlib.checkpoint import load_discriminator
    from svlib.data import ClipDataset, open_dataset

    D, cfg = load_discriminator(run, device=a.device)
    videos = open_dataset(a.data, resolution=cfg.D.resolution)
    # real clips of videos the mbstd groups see together, drawn as training draws them
    clips = ClipDataset(videos, cfg.sampling, seed=1 + a.score_seed)
    return gap_probe(D, clips, n=min(a.n, 256))


class FrameRate:
    """A synthetic dataset rendered at `factor`× its frame rate (frame k at time k / factor)."""

    def __init__(self, ds, factor: int):
        self.ds, self.factor, self.name = ds, factor, f"{ds.name}@{factor}x"

    def __len__(self):
        return len(self.ds)

    def video_length(self, i):
        return self.ds.video_length(i) * self.factor - (self.factor - 1)

    def read_frames(self, i, idx):
        return self.ds.render(i, np.asarray(idx, np.float64) / self.factor)

    def __repr__(self):
        return f"FrameRate({self.ds!r}, factor={self.factor})"


def blended(G, factor: int, device=None, seed: int = 0, repeat: bool = False):
    """generate_fn: G's frames at integer times, linearly blended to `factor`× the frame rate (or,
    `repeat`, each held for `factor` frames: the 1x video played at the higher rate)."""
    import torch

    from svlib.metrics.clips import generate_clips

    def fn(n, t, start):
        t = np.asarray(t, np.float64) / factor
        lo = np.floor(t).astype(int)
        key = np.arange(lo.min(), lo.max() + 2, dtype=np.float64)
        k = generate_clips(G, n, key, seed=seed, start=start, device=device).float()  # [n,K,H,W,3]
        i = lo - lo.min()
        w = torch.tensor(0 * t if repeat else t - lo, dtype=torch.float32)[
            None, :, None, None, None
        ]
        return ((1 - w) * k[:, i] + w * k[:, i + 1]).round().to(torch.uint8)

    return fn


def upsampling(
    G, data: str, n: int, factor: int, cache_dir, device=None, no_fvd=False, seed: int = 0
) -> dict:
    """FVD16 / KVD16 and speed/accel W1/σ of 16-frame clips at `factor`× the frame rate, against
    real clips rendered at that rate: G at t = k / factor, the linear blend of G's integer frames
    and those frames repeated. `seed`
    draws the real clips and the generated videos (both methods see the same videos)."""
    from svlib.data import open_dataset
    from svlib.metrics import calc_metrics
    from svlib.metrics.i3d import load_i3d

    real = FrameRate(open_dataset(data, resolution=G.cfg.resolution), factor)

    def continuous(n_, t, start):
        from svlib.metrics.clips import generate_clips

        return generate_clips(G, n_, np.asarray(t) / factor, seed=seed, start=start, device=device)

    det = None if no_fvd else load_i3d(None, device=device)
    names = ([] if no_fvd else ["fvd16", "kvd16"]) + ["params16"]
    kw = dict(max_real=n, num_gen=n, detector=det, device=device, seed=seed, progress=False)
    out = {}
    methods = {
        "continuous t": continuous,
        "linear blend": blended(G, factor, device, seed),
        "frame repeat": blended(G, factor, device, seed, repeat=True),
    }
    for name, fn in methods.items():
        res = calc_metrics(fn, real, names, cache_dir=str(cache_dir), **kw)
        row = {m: res[m]["value"] for m in ("fvd16", "kvd16") if m in res}
        dn = res["params16"]["per_param_normalized"]  # W1 / the real clips' spread
        row.update({f"W1/σ {k}": dn[k] for k in ("speed", "accel")})
        out.update({f"{name}: {k}": v for k, v in row.items()})
    return out


def m_upsampling(run: Path, a) -> dict:
    _, G, _ = _load(run, a.device)
    seed = a.score_seed
    res = upsampling(G, a.data, a.n, 4, a.runs / "real_features", a.device, a.no_fvd, seed)
    name = run.stem if run.is_file() else f"{run.parent.name}_{run.name}"
    if seed == 0:  # one video per model: the same four samples whatever the scoring seed
        side_by_side(G, 4, a.results / "upsampling" / f"{name}.mp4", a.device)
    return res


def side_by_side(G, factor: int, path: Path, device=None, seeds=(0, 1, 2, 3), frames: int = 32):
    """mp4 at `factor`× the frame rate: per seed, the blend of 1x frames above continuous t."""
    import torch

    from svlib.metrics.clips import generate_clips
    from svlib.video_io import write_video

    t = np.arange(frames * factor, dtype=np.float64)
    cols = []
    for s in seeds:
        cont = generate_clips(G, 1, t / factor, seed=0, start=s, device=device)[0]  # [T, H, W, 3]
        blend = blended(G, factor, device)(1, t, s)[0]
        cols.append(torch.cat([blend, cont], dim=1))  # [T, 2H, W, 3]
    video = torch.cat(cols, dim=2).numpy()  # [T, 2H, n·W, 3]
    video = video.repeat(4, axis=1).repeat(4, axis=2)  # 32² is tiny on screen
    path.parent.mkdir(parents=True, exist_ok=True)
    write_video(path, video, fps=8 * factor)


MEASURES = {
    "quality": m_quality,
    "cost": m_cost,
    "grid_jitter": m_grid_jitter,
    "long_video": m_long_video,
    "gap_probe": m_gap_probe,
    "upsampling": m_upsampling,
}


def score(variant: str, seed: int, measures: list[str], a) -> dict:
    """Measures of one trained run, each computed once and kept in the run's scores.json (keyed by
    the checkpoint's step, so a run trained further is scored again)."""
    run = run_dir(variant, seed, a.runs)
    a.score_seed = 0  # a trained run is scored once, with scoring seed 0; its seeds are trainings
    return _scored(run, run / "scores.json", f"{variant} seed {seed}", measures, a)


def score_checkpoint(ckpt: Path, seed: int, measures: list[str], a) -> dict:
    """Measures of one given trained model with scoring seed `seed` (the real clips and generated
    videos drawn), kept in runs/ablations/checkpoints/<name>_seed<seed>.json."""
    a.score_seed = seed
    path = a.runs / "checkpoints" / f"{ckpt.stem}_seed{seed}.json"
    return _scored(ckpt, path, f"{ckpt.name} scoring seed {seed}", measures, a)


def _scored(run: Path, path: Path, what: str, measures: list[str], a) -> dict:
    """The measures of run (a run folder or a checkpoint file), each computed once and kept in
    `path`, keyed by the checkpoint's step and N (a model trained further is scored again)."""
    from svlib.checkpoint import resolve_checkpoint

    _, payload = resolve_checkpoint(run)
    step = int(payload["state"]["step"])
    kept = json.loads(path.read_text()) if path.exists() else {}
    kept = kept if kept.get("step") == step and kept.get("n") == a.n else {"step": step, "n": a.n}
    for m in measures:
        if m not in kept:
            print(f"{what} (step {step}): {m}", flush=True)
            kept[m] = MEASURES[m](run, a)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(kept, indent=1))
    return {m: kept[m] for m in measures}


def summarise(per_seed: list[dict]) -> dict:
    """{measure: {key: {"mean", "std", "values"}}} over the seeds."""
    out: dict = {}
    for m in per_seed[0]:
        for key in per_seed[0][m]:
            v = [float(s[m][key]) for s in per_seed if isinstance(s[m].get(key), (int, float))]
            if v:
                out.setdefault(m, {})[key] = {
                    "mean": float(np.mean(v)),
                    "std": float(np.std(v, ddof=1)) if len(v) > 1 else 0.0,
                    "values": v,
                }
    return out


def experiment(name: str, a) -> dict | None:
    claim, variants, measures = EXPERIMENTS[name]
    if a.checkpoint is not None:
        return checkpoint_experiment(name, a)
    # every run gets its leg, also after one that is not yet spent
    spent = a.no_train or all([train(v, s, a) for v in variants for s in a.seeds])
    if a.train_only:
        return None
    if not spent:
        print(f"{name}: budget not yet spent; run it again to go on", flush=True)
        return None
    res = {
        "experiment": name,
        "claim": claim,
        "data": a.data,
        "preset": a.preset,
        "budget_minutes": a.minutes,
        "n": a.n,
        "seeds": list(a.seeds),
        "overrides": {v: VARIANTS[v] + list(a.set or []) for v in variants},
        "variants": {},
    }
    for v in variants:
        per_seed = [score(v, s, measures, a) for s in a.seeds]
        res["variants"][v] = {"per_seed": per_seed, **summarise(per_seed)}
    a.results.mkdir(parents=True, exist_ok=True)
    (a.results / f"{name}.json").write_text(json.dumps(res, indent=1))
    print(f"wrote {a.results / f'{name}.json'}", flush=True)
    return res


def checkpoint_experiment(name: str, a) -> dict:
    """An experiment that compares ways of using one model (its only variant is the paper's), run
    on a given trained checkpoint; `a.seeds` are then scoring seeds, not trainings."""
    from svlib.checkpoint import resolve_checkpoint

    claim, variants, measures = EXPERIMENTS[name]
    _, payload = resolve_checkpoint(a.checkpoint)
    st = payload["state"]
    res = {
        "experiment": name,
        "claim": claim,
        "data": payload.get("data", a.data),
        "checkpoint": str(a.checkpoint),
        "step": int(st["step"]),
        "train_minutes": float(st.get("wall_time", 0.0)) / 60,
        "n": a.n,
        "seeds": list(a.seeds),
        "seeds_are": "scoring seeds of one trained model",
        "variants": {},
    }
    per_seed = [score_checkpoint(a.checkpoint, s, measures, a) for s in a.seeds]
    res["variants"][variants[0]] = {"per_seed": per_seed, **summarise(per_seed)}
    a.results.mkdir(parents=True, exist_ok=True)
    (a.results / f"{name}.json").write_text(json.dumps(res, indent=1))
    print(f"wrote {a.results / f'{name}.json'}", flush=True)
    return res


def fmt(stat: dict) -> str:
    mean, std = stat["mean"], stat["std"]
    digits = 3 if abs(mean) < 10 else 1
    return (
        f"{mean:.{digits}f} ± {std:.{digits}f}" if len(stat["values"]) > 1 else f"{mean:.{digits}f}"
    )


def table(results: Path) -> str:
    """Markdown: one table per written experiment, a row per variant, mean ± std over the seeds."""
    parts = []
    for name in EXPERIMENTS:
        f = results / f"{name}.json"
        if not f.exists():
            continue
        res = json.loads(f.read_text())
        keys = [
            (m, k)
            for m, d in next(iter(res["variants"].values())).items()
            if m != "per_seed"
            for k in d
        ]
        head = "| variant | " + " | ".join(f"{k}" for _, k in keys) + " |"
        if "checkpoint" in res:
            how = (
                f"One trained model ({res['checkpoint']}, step {res['step']:,}, "
                f"{res['train_minutes']:.0f} minutes), scoring seeds {res['seeds']}"
            )
        else:
            how = f"Budget {res['budget_minutes']:g} minutes per run, seeds {res['seeds']}"
        lines = [
            f"### {name}",
            "",
            f"Claim: {res['claim']}. {how}, N = {res['n']}.",
            "",
            head,
            "|---|" + "---|" * len(keys),
        ]
        for v, d in res["variants"].items():
            lines.append(
                f"| {v} | "
                + " | ".join(fmt(d[m][k]) if k in d.get(m, {}) else "—" for m, k in keys)
                + " |"
            )
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("name", help=f"an experiment ({', '.join(EXPERIMENTS)}), 'list' or 'table'")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="training seeds")
    ap.add_argument("--minutes", type=float, default=BUDGET_MINUTES, help="budget of every run")
    ap.add_argument(
        "--leg-minutes",
        type=float,
        default=None,
        help="train each run at most this long in this call (a leg)",
    )
    ap.add_argument("--n", type=int, default=256, help="real and generated clips per score")
    ap.add_argument("--data", default=DATA)
    ap.add_argument("--preset", default="cpu")
    ap.add_argument("--set", nargs="*", help="overrides added to every variant (key=value)")
    ap.add_argument("--train-only", action="store_true")
    ap.add_argument("--no-train", action="store_true", help="score the runs as they are")
    ap.add_argument("--no-fvd", action="store_true", help="skip the I3D metrics (quick checks)")
    ap.add_argument("--long-videos", type=int, default=8, help="videos of long_video")
    ap.add_argument("--long-length", type=int, default=4096, help="frames of long_video")
    ap.add_argument(
        "--checkpoint",
        type=Path,
        help="score this trained model instead of training runs (experiments with one variant; "
        "--seeds are then scoring seeds)",
    )
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--runs", type=Path, default=RUNS, help="folder of the runs")
    ap.add_argument("--results", type=Path, default=RESULTS, help="folder of the JSON results")
    ap.add_argument("--progress", action=argparse.BooleanOptionalAction, default=False)
    a = ap.parse_args(argv)
    if a.name == "list":
        for name, (claim, variants, measures) in EXPERIMENTS.items():
            print(f"{name}: {claim}\n  variants {variants}; measures {measures}")
        for v, sets in VARIANTS.items():
            print(f"{v:20s} {' '.join(sets) or '(the cpu preset)'}")
        return
    if a.name == "table":
        print(table(a.results))
        return
    if a.name not in EXPERIMENTS:
        ap.error(f"name: unknown experiment {a.name!r}; choose one of {list(EXPERIMENTS)}")
    if a.minutes <= 0 or (a.leg_minutes is not None and a.leg_minutes <= 0):
        ap.error("--minutes and --leg-minutes must be positive")
    if a.checkpoint is not None:
        if len(EXPERIMENTS[a.name][1]) != 1:
            ap.error(f"--checkpoint: {a.name} compares trained variants; it needs its own runs")
        if not a.checkpoint.is_file():
            ap.error(f"--checkpoint: no such file {a.checkpoint}")
    experiment(a.name, a)


if __name__ == "__main__":
    main()
