"""Cost of the design choices the paper argues for, each against the paper's model at one preset.

Variants (all at the same preset; the first row is the paper's model):

  paper                 sparse 3-frame clips, conv1d codes, aligned embedding, gap-conditioned D
  dense16               sampling.mode=dense, F=16 consecutive frames (G and D see 16 per video)
  no_gap_conditioning   D.gap_conditioning=false (the official dummy_c)
  raw_embedding         G.motion.embedding=raw (no chord subtraction, no aligners)
  lstm_codes            G.motion.codes=lstm (MoCoGAN-style autoregressive motion codes)

Per variant: parameters of G, D and G's motion path; milliseconds of one G+D forward+backward on
--batch videos (the non-saturating G loss, as one Gmain phase; fake clips from the variant's own
sampler); milliseconds of the motion path alone (v(t) for those clips, forward+backward); and the
milliseconds to generate one --long-frames video in chunks of --chunk (no_grad), and of v(t) alone
over a --long-motion-frames video in the same chunks, where the LSTM's re-run from the first grid
point shows (its window always starts at 0, the conv1d's at the chunk). Median of --iters timed
runs after --warmup; the variants take turns, one run each per round, so load from other jobs
falls on all alike.

    OMP_NUM_THREADS=1 taskset -c 0 python bench/bench_variants.py --preset cpu --batch 8 \\
        --json bench/results/variants/cpu32_b8.json
    SVLIB_OFFICIAL_REPO=/tmp/official PYTHONPATH=$PWD:/tmp/offdeps python bench/bench_variants.py \\
        --official-counts --counts-only --json bench/results/variants/official_counts.json

With SVLIB_OFFICIAL_REPO set (see bench/bench_official.py), `--official-counts` also builds the
official networks with the same alternative switched on where the official code has it
(`gen_strategy: autoregressive`, `dummy_c: true`) and compares the parameter counts.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]

VARIANTS = {
    "paper": [],
    "dense16": ["sampling.mode=dense", "sampling.num_frames=16", "D.num_frames=16"],
    "no_gap_conditioning": ["D.gap_conditioning=false"],
    "raw_embedding": ["G.motion.embedding=raw"],
    "lstm_codes": ["G.motion.codes=lstm"],
}


def _interleaved_ms(fns: dict, iters: int, warmup: int) -> dict[str, float]:
    """Median ms of each closure, timed in turns (one run of each per round), so that load from
    other jobs on the machine falls on all of them alike."""
    times = {k: [] for k in fns}
    for i in range(warmup + iters):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            if i >= warmup:
                times[k].append(time.perf_counter() - t0)
    return {k: 1000 * statistics.median(v) for k, v in times.items()}


def build(name: str, a) -> tuple[dict, dict]:
    """The parameter counts of one variant and its three timed closures."""
    from svlib.config import get_preset
    from svlib.generate import frame_times, generate_frames, noise_window
    from svlib.models import build_models, count_params
    from svlib.sampling import sample_fake_times

    cfg = get_preset(a.preset, VARIANTS[name])
    torch.manual_seed(0)
    G, D = build_models(cfg)
    rng = np.random.default_rng(0)
    lengths = [cfg.sampling.max_num_frames]
    t = torch.as_tensor(sample_fake_times(a.batch, lengths, cfg.sampling, rng))  # [B, F]
    z = torch.randn(a.batch, cfg.G.z_dim)
    mz = G.sample_motion_z(a.batch, float(t.max()), generator=torch.Generator().manual_seed(0))
    if not cfg.D.gap_conditioning:  # as after D's first step (cmap is 0 at init)
        with torch.no_grad():
            D.mapping.embed.bias.normal_()

    def step():  # one Gmain-like pass: G -> D -> softplus(-logits), backward through both
        G.train(), D.train()
        F.softplus(-D(G(z, t, motion_z=mz), t)).mean().backward()
        G.zero_grad(set_to_none=True)
        D.zero_grad(set_to_none=True)

    def motion():  # v(t) of the same clips
        G.motion(t, mz).square().mean().backward()
        G.zero_grad(set_to_none=True)

    def long():  # one video, chunked as `svlib generate` makes it
        generate_frames(G.eval(), a.long_frames, seed=0, chunk_size=a.chunk)

    tl = frame_times(a.long_motion_frames)[None].float()  # [1, T]
    mzl = G.sample_motion_z(1, float(tl.max()), generator=torch.Generator().manual_seed(0))

    @torch.no_grad()
    def long_motion():  # v(t) alone over a long video, in the chunks and windows of iter_chunks
        for s in range(0, tl.shape[1], a.chunk):
            tc = tl[:, s : s + a.chunk]
            start, stop = noise_window(cfg.G.motion, tc)
            G.motion(tc, mzl[:, start:stop], first_code=start)

    counts = {
        "overrides": VARIANTS[name],
        "frames_per_clip": cfg.sampling.num_frames,
        "params_G": count_params(G),
        "params_D": count_params(D),
        "params_motion": count_params(G.motion),
    }
    fns = {"step_ms": step, "motion_ms": motion, "long_video_ms": long}
    return counts, {**fns, "long_motion_ms": long_motion}


def measure(names, a) -> dict:
    """Rows of the variants `names`: parameter counts and the interleaved timings."""
    built = {n: build(n, a) for n in names}
    rows = {n: dict(c) for n, (c, _) in built.items()}
    for key, iters, warmup in [
        ("step_ms", a.iters, a.warmup),
        ("motion_ms", a.iters, a.warmup),
        ("long_video_ms", a.long_iters if a.long_frames else 0, 1 if a.long_frames else 0),
        ("long_motion_ms", a.long_iters, 1),
    ]:
        if not iters:
            for n in names:
                rows[n][key] = None
            continue
        ms = _interleaved_ms({n: fns[key] for n, (_, fns) in built.items()}, iters, warmup)
        for n in names:
            rows[n][key] = ms[n]
        print(key, json.dumps(ms), flush=True)
    return rows


def official_counts(presets) -> dict:
    """svlib's variant against the official network with the same switch, where it has one."""
    sys.path.insert(0, str(ROOT / "bench"))
    import bench_official as bo

    from svlib.config import get_preset, resolve_auto
    from svlib.models import build_models, count_params

    off = bo.Official(os.environ[bo.ENV], ops="ref")
    out = {"official_commit": bo._official_commit(off.repo)}
    switch = {  # svlib override -> the official config change
        "lstm_codes": ("generator", "motion", "gen_strategy", "autoregressive"),
        "no_gap_conditioning": ("discriminator", None, "dummy_c", True),
    }
    base_cfg = bo.official_cfg
    for preset in presets:
        for name, (net, sub, key, value) in switch.items():
            cfg = resolve_auto(get_preset(preset, VARIANTS[name]))

            def changed(c, match=True, net=net, sub=sub, key=key, value=value):
                oc = base_cfg(c, match)
                node = oc.model[net] if sub is None else oc.model[net][sub]
                node[key] = value
                return oc

            bo.official_cfg = changed  # build_official reads the config through this name
            try:
                oG, oD, _ = bo.build_official(off, cfg, "cpu", fp16=False)
            finally:
                bo.official_cfg = base_cfg
            torch.manual_seed(0)
            G, D = build_models(cfg)
            out[f"{preset}/{name}"] = {
                "official_change": f"{net}.{'' if sub is None else sub + '.'}{key}={value}",
                "svlib_G": count_params(G),
                "official_G": count_params(oG),
                "svlib_D": count_params(D),
                "official_D": count_params(oD),
            }
    return out


def table(rows: dict) -> str:
    """A markdown table of the rows, each timing also as a ratio to the paper's row."""
    head = (
        "| variant | F | G params | D params | motion params | G+D fwd+bwd ms | motion fwd+bwd ms "
        "| long video ms | long v(t) ms |\n|---|---|---|---|---|---|---|---|---|"
    )
    base = rows["paper"]
    lines = [head]
    for name, r in rows.items():

        def ratio(k, r=r):
            return f"{r[k]:.1f} ({r[k] / base[k]:.2f}×)" if r[k] is not None else "—"

        lines.append(
            f"| {name} | {r['frames_per_clip']} | {r['params_G']:,} | {r['params_D']:,} | "
            f"{r['params_motion']:,} | {ratio('step_ms')} | {ratio('motion_ms')} | "
            f"{ratio('long_video_ms')} | {ratio('long_motion_ms')} |"
        )
    return "\n".join(lines)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="cpu")
    p.add_argument("--batch", type=int, default=8, help="videos per G+D pass")
    p.add_argument("--iters", type=int, default=5, help="timed runs per measurement")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument(
        "--long-frames", type=int, default=512, help="frames of the long video (0: skip)"
    )
    p.add_argument("--long-motion-frames", type=int, default=8192, help="frames of v(t) alone")
    p.add_argument("--chunk", type=int, default=64, help="frames per chunk of the long videos")
    p.add_argument("--long-iters", type=int, default=3, help="timed runs of the long video")
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--official-counts", action="store_true", help="needs SVLIB_OFFICIAL_REPO")
    p.add_argument("--count-presets", nargs="+", default=["cpu", "paper256"])
    p.add_argument("--counts-only", action="store_true", help="only --official-counts, no timing")
    p.add_argument("--json", type=Path, help="write the results here")
    a = p.parse_args(argv)
    if "paper" not in a.variants:
        a.variants = ["paper", *a.variants]
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    if a.counts_only and not a.official_counts:
        raise SystemExit("--counts-only needs --official-counts")
    res = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    if not a.counts_only:
        res |= {
            "preset": a.preset,
            "batch": a.batch,
            "iters": a.iters,
            "warmup": a.warmup,
            "long_frames": a.long_frames,
            "long_motion_frames": a.long_motion_frames,
            "chunk": a.chunk,
        }
    if a.official_counts:
        if not os.environ.get("SVLIB_OFFICIAL_REPO"):
            raise SystemExit("--official-counts: set SVLIB_OFFICIAL_REPO to a stylegan-v checkout")
        res["official_counts"] = official_counts(a.count_presets)
        print(json.dumps(res["official_counts"], indent=1))
    if not a.counts_only:
        rows = measure(a.variants, a)
        res["variants"] = rows
        print(table(rows))
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
