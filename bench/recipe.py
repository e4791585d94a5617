"""A recipe study of the cpu preset at a fixed budget: which departures from the paper's
hyper-parameters make a short CPU run learn motion.

Every recipe is the cpu preset as the study found it (`BASE`: δz = 8) plus dotted overrides
(`--set`), trained by `python -m svlib train` for the same wall-clock minutes on one core, on each
dataset, then scored by
`bench/learning_evidence.py` (FVD16 / KVD16 with the Kinetics-400 I3D, N real = N generated, and the
motion / appearance proxies) against the baselines measured the same way (still frames from videos
disjoint from the reference clips; the untrained generator).

    python bench/recipe.py list
    OMP_NUM_THREADS=1 taskset -c 1 python bench/recipe.py train paper shapes --minutes 30
    OMP_NUM_THREADS=1 taskset -c 1 python bench/recipe.py score paper shapes --n 256 --seeds 0 1
    python bench/recipe.py baselines shapes --n 256 --seeds 0 1
    python bench/recipe.py table            # bench/results/recipe/README.md's table
    OMP_NUM_THREADS=1 taskset -c 1 python bench/recipe.py study shapes --steps 2000   # all of it

`train` can be run again: it resumes the run and trains for what is left of the budget (the
wall time is summed over resumes in the run's log), so a budget may be spent in several legs.
Runs live in runs/recipe/<dataset>/<recipe>/; results in bench/results/recipe/<dataset>/.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT / "runs" / "recipe"
RESULTS = ROOT / "bench" / "results" / "recipe"

DATASETS = {
    "shapes": "synthetic:shapes?n=2048",  # squares, triangles, circles that travel and bounce
    "periodic": "synthetic:periodic?n=2048",  # pinwheels and pulsing blobs: rotation and periods
    # the demo model's set: one large shape per video, 0.5-1 px/frame at 32², bouncing and spinning
    "moving": "synthetic:shapes?n=2048&max_shapes=1&speed=0.015,0.03&radius=0.18,0.26",
}

# The study's base: the cpu preset as it was when the study ran, with the shortest period (and
# grid spacing δz) at 8 frames. The preset has since taken the study's winner, the paper's δz = 16
# (`pmin16`); every recipe keeps this base so that the study reproduces as it ran.
BASE = ["G.motion.min_period=8"]

# name -> (why, overrides on top of BASE)
RECIPES: dict[str, tuple[str, list[str]]] = {
    "paper": ("the paper's recipe with narrow widths and δz = 8 (the cpu preset before)", []),
    "motion_lr1": (
        "motion mapping at the full learning rate (the paper's 0.01 multiplier was set for "
        "25,000-kimg runs)",
        ["G.motion.lr_multiplier=1.0"],
    ),
    "pmin16": (
        "shortest period 16 frames (also the grid spacing δz) instead of 8",
        ["G.motion.min_period=16"],
    ),
    "no_ada": (
        "no augmentation: the synthetic sets are effectively unlimited data",
        ["train.augment.mode=none"],
    ),
    "lr_x2": ("learning rates of G and D doubled", ["train.lr_g=0.005", "train.lr_d=0.005"]),
    "batch16": ("16 videos per step instead of 8", ["train.batch_size=16"]),
    "gamma_low": ("R1 γ a quarter of the auto value (0.0256)", ["train.r1_gamma=0.0064"]),
    "ema_short": (
        "EMA half-life 0.5 kimg instead of the auto 2.5 (G_ema follows G sooner)",
        ["train.ema_kimg=0.5"],
    ),
}


def _svlib(*args: str) -> list[str]:
    return [sys.executable, "-m", "svlib", *args]


def _run_dir(recipe: str, data: str) -> Path:
    return RUNS / data / recipe


def _wall_time(run: Path) -> float:
    """Seconds of training so far (the log's wall time is summed over resumes)."""
    log = run / "log.jsonl"
    if not log.exists():
        return 0.0
    lines = [ln for ln in log.read_text().splitlines() if ln.strip()]
    return float(json.loads(lines[-1])["wall_time"]) if lines else 0.0


def _check(recipe: str, data: str) -> None:
    if recipe not in RECIPES:
        raise SystemExit(f"recipe: unknown recipe {recipe!r}; choose one of {sorted(RECIPES)}")
    if data not in DATASETS:
        raise SystemExit(f"recipe: unknown dataset {data!r}; choose one of {sorted(DATASETS)}")


def train(a) -> None:
    _check(a.recipe, a.data)
    run = _run_dir(a.recipe, a.data)
    cmd = _svlib("train", "--preset", "cpu", "--data", DATASETS[a.data], "--out", str(run))
    if a.steps is not None:
        # a budget in steps is the same wall-clock on a quiet core for recipes of equal step cost,
        # and it does not depend on what else the machine runs meanwhile
        cmd += ["--steps", str(a.steps)]
    else:
        left = a.minutes - _wall_time(run) / 60
        if left <= 0.05:
            print(f"{a.recipe} on {a.data}: the budget of {a.minutes} minutes is spent")
            return
        cmd += ["--minutes", f"{left:.2f}"]
    cmd += ["--resume", "--seed", str(a.seed)]
    cmd += ["--checkpoint-every", "2000", "--sample-every", "4000"]
    cmd += ["--set", *BASE, *RECIPES[a.recipe][1]]  # later overrides win
    env = {**os.environ, **({} if a.progress else {"TQDM_DISABLE": "1"})}
    print(" ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT, env=env)


def _evidence(ckpt: Path | None, data: str, rows: str, n: int, seed: int, out: Path) -> None:
    cmd = [sys.executable, str(ROOT / "bench" / "learning_evidence.py"), "--data", DATASETS[data]]
    cmd += ["--n", str(n), "--seed", str(seed), "--rows", rows, "--out", str(out)]
    # the real clips' I3D features depend on the data, N and seed only: computed once per study
    cmd += ["--cache-dir", str(RUNS / data / "real_features")]
    if ckpt is not None:
        cmd += ["--ckpt", str(ckpt)]
    out.parent.mkdir(parents=True, exist_ok=True)
    print(" ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)


def score(a) -> None:
    _check(a.recipe, a.data)
    from svlib.checkpoint import resolve_checkpoint

    ckpt, _ = resolve_checkpoint(_run_dir(a.recipe, a.data))
    for seed in a.seeds:
        out = RESULTS / a.data / f"{a.recipe}_n{a.n}_seed{seed}.json"
        _evidence(ckpt, a.data, "trained", a.n, seed, out)


def study(a) -> None:
    """Train and score every recipe (or those named) on one dataset, skipping the scored ones, then
    the baselines: run it again after an interruption and it goes on where it stopped."""
    names = a.recipes or list(RECIPES)
    for name in names:
        _check(name, a.data)
        if all((RESULTS / a.data / f"{name}_n{a.n}_seed{s}.json").exists() for s in a.seeds):
            print(f"{name} on {a.data}: scored", flush=True)
            continue
        ns = argparse.Namespace(recipe=name, data=a.data, steps=a.steps, minutes=None, seed=0)
        train(argparse.Namespace(**vars(ns), progress=False))
        score(argparse.Namespace(recipe=name, data=a.data, n=a.n, seeds=a.seeds))
    if not all((RESULTS / a.data / f"baselines_n{a.n}_seed{s}.json").exists() for s in a.seeds):
        baselines(argparse.Namespace(data=a.data, n=a.n, seeds=a.seeds))


def baselines(a) -> None:
    if a.data not in DATASETS:
        raise SystemExit(f"recipe: unknown dataset {a.data!r}; choose one of {sorted(DATASETS)}")
    # the untrained generator needs an architecture: the cpu preset's (learning_evidence builds its
    # own seeded init from the file's config), written once when the dataset has no paper run
    import torch

    import svlib
    from svlib.checkpoint import resolve_checkpoint, save_checkpoint

    run = _run_dir("paper", a.data)
    if run.is_dir() and any(run.glob("checkpoint-*.pt")):
        ckpt, _ = resolve_checkpoint(run)
    else:
        ckpt = RUNS / a.data / "cpu_preset_architecture.pt"
        if not ckpt.exists():
            cfg = svlib.apply_overrides(svlib.get_preset("cpu"), BASE)
            torch.manual_seed(0)
            G = svlib.Generator(cfg.G)
            state = {"step": 0, "cur_nimg": 0, "wall_time": 0.0}
            payload = {"config": cfg.to_dict(), "G_ema": G.state_dict(), "state": state}
            save_checkpoint(ckpt, payload)
    for seed in a.seeds:
        out = RESULTS / a.data / f"baselines_n{a.n}_seed{seed}.json"
        _evidence(ckpt, a.data, "untrained,still", a.n, seed, out)


def table(a) -> None:
    """Markdown table of every scored recipe: FVD16, KVD16, proxies; mean and spread over seeds."""
    import numpy as np

    rows = []
    for data in DATASETS:
        for f in sorted((RESULTS / data).glob("*_seed*.json")):
            res = json.loads(f.read_text())
            name = f.name.split("_n")[0]
            for cand, m in res["rows"].items():
                if name == "baselines":  # its checkpoint only lends the architecture: no step
                    rows.append((data, cand, {**res, "step": "—"}, m))
                else:
                    rows.append((data, name, res, m))
    print(f"{len(rows)} scored rows")
    by = {}
    for data, name, res, m in rows:
        by.setdefault((data, name), []).append((res, m))
    lines = ["| dataset | recipe | steps | FVD16 | KVD16 | motion W1/σ | appearance W1/σ | seeds |"]
    lines.append("|---|---|---|---|---|---|---|---|")
    for (data, name), items in sorted(by.items()):

        def stat(key, items=items):
            v = [m[key] for _, m in items if m.get(key) is not None]
            if not v:
                return "—"
            return f"{np.mean(v):.1f} ± {np.std(v):.1f}" if len(v) > 1 else f"{v[0]:.1f}"

        steps = items[0][0].get("step", "—")
        lines.append(
            f"| {data} | {name} | {steps} | {stat('fvd16')} | {stat('kvd16')} | "
            f"{stat('W1/σ motion')} | {stat('W1/σ appearance')} | {len(items)} |"
        )
    print("\n".join(lines))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="the recipes and datasets")
    p = sub.add_parser("train", help="train (or continue) a recipe on a dataset")
    p.add_argument("recipe")
    p.add_argument("data")
    p.add_argument("--minutes", type=float, default=30.0, help="budget of wall-clock minutes")
    p.add_argument(
        "--steps", type=int, default=None, help="budget in training steps instead of minutes"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True)
    p = sub.add_parser("score", help="FVD16/KVD16 and proxies of a trained recipe")
    p.add_argument("recipe")
    p.add_argument("data")
    p.add_argument("--n", type=int, default=256)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p = sub.add_parser("baselines", help="still frames and the untrained generator, scored alike")
    p.add_argument("data")
    p.add_argument("--n", type=int, default=256)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p = sub.add_parser("study", help="train + score the recipes on a dataset, then the baselines")
    p.add_argument("data")
    p.add_argument("recipes", nargs="*", help="default: all")
    p.add_argument("--steps", type=int, default=2000, help="budget of each recipe, in steps")
    p.add_argument("--n", type=int, default=256)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    sub.add_parser("table", help="the table of every scored result")
    a = ap.parse_args(argv)
    if a.cmd == "list":
        for name, (why, sets) in RECIPES.items():
            print(f"{name:11s} {' '.join(sets) or '(none)':50s} {why}")
        print("datasets:", ", ".join(f"{k} = {v}" for k, v in DATASETS.items()))
        return
    cmds = {"train": train, "score": score, "baselines": baselines, "study": study, "table": table}
    cmds[a.cmd](a)


if __name__ == "__main__":
    main()
