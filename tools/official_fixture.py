"""Official StyleGAN-V networks against their svlib conversion: the test fixture and two checks.

The official code (github.com/universome/stylegan-v) is not part of this repository. This tool
imports it from the checkout named by SVLIB_OFFICIAL_REPO (the folder holding `src/`), with
omegaconf importable (e.g. `pip install --target /tmp/offdeps omegaconf` and that folder on
PYTHONPATH), builds its Generator and Discriminator the way its `train.py` and training loop do
(the OmegaConf experiment config with its interpolations, `G_kwargs`/`D_kwargs` as
`process_hyperparams` fills them, fp16 in the 4 highest resolutions, conv_clamp 256), moves every
weight away from its initial value (so that biases, w_avg and the learned tables all matter),
snapshots them as its training loop does and pickles the snapshot with its persistence.

    export SVLIB_OFFICIAL_REPO=/tmp/official PYTHONPATH=$PWD:/tmp/offdeps
    python tools/official_fixture.py tiny --pkl /tmp/official_tiny.pkl \\
        --fixture tests/fixtures/official_tiny.pt
    python tools/official_fixture.py paper256

`tiny` writes the official pickle (`--pkl`, never committed: it embeds the official source), loads
it back with the official `legacy.load_network_pkl`, records what G_ema and D produce for fixed
inputs (fp32: `force_fp32=True`), converts the pickle with `svlib.convert` and prints the largest
difference. `--fixture` writes what the tests need and nothing of the official code: the tensors,
the plain config values, the layout of the pickled objects (class names, attributes, which
configs they hold) and the recorded inputs and outputs; `tests/test_convert.py` rebuilds a pickle
of the official format from it. `paper256` does the same comparison at the paper's 256²
configuration, in memory, on one batch.
"""

from __future__ import annotations

import argparse
import collections
import copy
import io
import json
import math
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
ENV = "SVLIB_OFFICIAL_REPO"
FIXTURE_FORMAT = "svlib-official-fixture"

# Sizes of the two configurations (the rest is the official stylegan-v.yaml).
SPECS = {
    "tiny": dict(
        resolution=16,
        concat_res=8,
        channel_base=256,
        channel_max=16,
        z_dim=16,
        w_dim=16,
        c_dim=0,
        motion_z_dim=8,
        motion_v_dim=8,
        time_dim=4,
        min_period=8,
        max_period=64,
        kernel_size=3,
        num_frames=3,
        max_num_frames=32,
        max_dist=16,
        mbstd=2,
        mapping_layers=2,
    ),
    "paper256": dict(
        resolution=256,
        concat_res=16,
        channel_base=16384,
        channel_max=512,
        z_dim=512,
        w_dim=512,
        c_dim=0,
        motion_z_dim=512,
        motion_v_dim=512,
        time_dim=256,
        min_period=16,
        max_period=1024,
        kernel_size=11,
        num_frames=3,
        max_num_frames=1024,
        max_dist=32,
        mbstd=4,
        mapping_layers=2,
    ),
}


def import_official(repo: str | os.PathLike):
    """The official modules, with their reference (pure PyTorch) ops forced."""
    repo = Path(repo).resolve()
    if not (repo / "src" / "training" / "networks.py").exists():
        raise SystemExit(f"{ENV}={repo} is not a stylegan-v checkout (no src/training/)")
    for p in (str(repo / "src"), str(repo)):  # it imports itself as `src.x` and as `training.x`
        if p not in sys.path:
            sys.path.insert(0, p)
    from src import dnnlib, legacy
    from src.torch_utils import persistence
    from src.torch_utils.ops import bias_act, upfirdn2d

    bias_act._init = upfirdn2d._init = lambda: False  # never build the CUDA plugins
    return dnnlib, legacy, persistence


def experiment_config(s: dict):
    """The OmegaConf tree `train.py` reads (experiment_config.yaml), interpolations kept."""
    from omegaconf import OmegaConf

    root = OmegaConf.create(
        {
            "sampling": {
                "name": "random${sampling.num_frames_per_video}_max${sampling.max_dist}",
                "fps": "${dataset.fps}",
                "max_num_frames": "${dataset.max_num_frames}",
                "num_frames_per_video": s["num_frames"],
                "type": "random",
                "total_dists": [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048],
                "max_dist": s["max_dist"],
            },
            "dataset": {
                "name": "fixture_${dataset.resolution}",
                "path": "data/${dataset.name}.zip",
                "sampling": "${sampling}",
                "c_dim": s["c_dim"],
                "max_num_frames": s["max_num_frames"],
                "fps": 25,
                "resolution": s["resolution"],
            },
            "model": {
                "name": "stylegan-v",
                "generator": {
                    "source": "networks",
                    "sampling": "${sampling}",
                    "use_noise": False,
                    "w_dim": s["w_dim"],
                    "z_dim": s["z_dim"],
                    "c_dim": "${dataset.c_dim}",
                    "input": {"type": "temporal"},
                    "motion": {
                        "z_dim": s["motion_z_dim"],
                        "v_dim": s["motion_v_dim"],
                        "motion_z_distance": "${model.generator.time_enc.min_period_len}",
                        "gen_strategy": "conv",
                        "kernel_size": s["kernel_size"],
                        "use_fractional_t": True,
                        "fourier": True,
                    },
                    "time_enc": {
                        "cond_type": "concat_const",
                        "dim": s["time_dim"],
                        "min_period_len": s["min_period"],
                        "max_period_len": s["max_period"],
                        "phase_dropout_std": 1.0,
                    },
                },
                "discriminator": {
                    "source": "networks",
                    "mbstd_group_size": 4,
                    "sampling": "${sampling}",
                    "concat_res": s["concat_res"],
                    "num_frames_div_factor": 2,
                    "dummy_c": False,
                },
                "loss_kwargs": {"source": "StyleGAN2Loss", "style_mixing_prob": 0.0},
            },
        }
    )
    OmegaConf.set_struct(root, True)
    return root


def build_snapshot(dnnlib, s: dict, seed: int = 0) -> tuple[dict, object]:
    """{training_set_kwargs, G, D, G_ema, augment_pipe} as the official training loop pickles
    it, with every parameter moved off its initial value (and G_ema off G)."""
    cfg = experiment_config(s)
    E = dnnlib.EasyDict
    # src/train.py, process_hyperparams (`auto` spec: fmaps and mbstd from the sizes above)
    G_kwargs = E(
        class_name="training.networks.Generator",
        w_dim=cfg.model.generator.w_dim,
        mapping_kwargs=E(),
        synthesis_kwargs=E(),
    )
    D_kwargs = E(
        class_name="training.networks.Discriminator",
        block_kwargs=E(),
        mapping_kwargs=E(),
        epilogue_kwargs=E(),
    )
    G_kwargs.synthesis_kwargs.channel_base = D_kwargs.channel_base = s["channel_base"]
    G_kwargs.synthesis_kwargs.channel_max = D_kwargs.channel_max = s["channel_max"]
    G_kwargs.mapping_kwargs.num_layers = s["mapping_layers"]
    G_kwargs.mapping_kwargs.cfg = cfg.model.generator
    G_kwargs.synthesis_kwargs.num_fp16_res = D_kwargs.num_fp16_res = 4
    G_kwargs.synthesis_kwargs.conv_clamp = D_kwargs.conv_clamp = 256
    G_kwargs.cfg = cfg.model.generator
    D_kwargs.epilogue_kwargs.mbstd_group_size = s["mbstd"]
    D_kwargs.cfg = cfg.model.discriminator
    D_kwargs.mapping_kwargs.num_layers = 2
    augment_kwargs = E(
        class_name="training.augment.AugmentPipe",
        xflip=1,
        rotate90=1,
        xint=1,
        scale=1,
        rotate=1,
        aniso=1,
        xfrac=1,
        brightness=1,
        contrast=1,
        lumaflip=1,
        hue=1,
        saturation=1,
    )
    # src/training/training_loop.py: construct, G_ema a copy, snapshot deep copies
    torch.manual_seed(seed)
    common = dict(c_dim=s["c_dim"], img_resolution=s["resolution"], img_channels=3)
    G = dnnlib.util.construct_class_by_name(**G_kwargs, **common).train().requires_grad_(False)
    D = dnnlib.util.construct_class_by_name(**D_kwargs, **common).train().requires_grad_(False)
    augment_pipe = dnnlib.util.construct_class_by_name(**augment_kwargs).train()
    augment_pipe.requires_grad_(False).p.copy_(torch.as_tensor(0.25))
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():  # stands in for training: every weight and w_avg away from its init
        for m in (G, D):
            w_avg = [m.mapping.w_avg] if hasattr(m.mapping, "w_avg") else []
            for p in list(m.parameters()) + w_avg:
                p.add_(0.2 * torch.randn(p.shape, generator=g))
        G_ema = copy.deepcopy(G).eval()
        for p in list(G_ema.parameters()) + [G_ema.mapping.w_avg]:
            p.add_(0.05 * torch.randn(p.shape, generator=g))
    snapshot = dict(training_set_kwargs=dict(E(path="data/fixture.zip", resolution=32)))
    for name, module in (("G", G), ("D", D), ("G_ema", G_ema), ("augment_pipe", augment_pipe)):
        snapshot[name] = copy.deepcopy(module).eval().requires_grad_(False).cpu()
    return snapshot, cfg


# ----------------------------------------------------------------------------------------------
# Fixed inputs and the official outputs


def official_motion_z_length(G, t: torch.Tensor) -> int:
    """The motion-noise length the official motion encoder slices (its get_max_traj_len)."""
    enc = G.synthesis.motion_encoder
    return enc.get_max_traj_len(t) + enc.num_additional_codes


def make_inputs(G, s: dict, seed: int = 0, batch: int = 2, d_batch: int = 2) -> dict:
    g = torch.Generator().manual_seed(seed + 2)
    F = s["num_frames"]
    t = torch.tensor([[0.0, 1.5, 5.0], [3.0, 7.25, 19.5]])[:batch, :F]
    eye = torch.eye(max(s["c_dim"], 1))[:, : s["c_dim"]]
    c = eye[torch.arange(batch) % max(s["c_dim"], 1)]
    L = official_motion_z_length(G, t)
    if batch > 2 or d_batch > 4:
        raise SystemExit("--batch is at most 2 and --d-batch at most 4 (the fixed times below)")
    # fractional times, a gap that rounds half to even (0.5) and one far beyond the sampler's
    d_t = torch.tensor([[0.0, 2.0, 5.0], [3.0, 4.0, 30.0], [1.0, 1.5, 9.0], [0.0, 7.0, 8.0]])
    d_c = eye[torch.arange(d_batch) % max(s["c_dim"], 1)]
    return {
        "z": torch.randn(batch, s["z_dim"], generator=g),
        "c": c,
        "t": t,
        "motion_z": torch.randn(batch, L, s["motion_z_dim"], generator=g),
        "truncation_psi": 0.7,
        "d_frames": torch.randn(d_batch, F, 3, s["resolution"], s["resolution"], generator=g),
        "d_t": d_t[:d_batch, :F],
        "d_c": d_c,
    }


@torch.no_grad()
def official_outputs(G, D, x: dict) -> dict:
    """Frames [B, F, 3, H, W] of G (ψ = 1 and ψ = x['truncation_psi']) and D's logits [B]."""
    B, F = x["t"].shape
    out = {}
    for key, psi in (("frames", 1.0), ("frames_truncated", x["truncation_psi"])):
        img = G(x["z"], x["c"], x["t"], truncation_psi=psi, motion_z=x["motion_z"], force_fp32=True)
        out[key] = img.reshape(B, F, *img.shape[1:])
    frames = x["d_frames"]
    logits = D(frames.flatten(0, 1), x["d_c"], x["d_t"], force_fp32=True)["image_logits"]
    out["logits"] = logits
    return out


@torch.no_grad()
def svlib_outputs(G, D, x: dict) -> dict:
    c = x["c"] if x["c"].shape[1] else None
    d_c = x["d_c"] if x["d_c"].shape[1] else None
    return {
        "frames": G(x["z"], x["t"], c=c, motion_z=x["motion_z"]),
        "frames_truncated": G(
            x["z"], x["t"], c=c, motion_z=x["motion_z"], truncation_psi=x["truncation_psi"]
        ),
        "logits": D(x["d_frames"], x["d_t"], d_c),
    }


def max_abs_diff(a: dict, b: dict) -> dict:
    return {k: float((a[k] - b[k]).abs().max()) for k in a}


# ----------------------------------------------------------------------------------------------
# The fixture: the pickled objects' layout as plain data (no official source code)


class _Layout:
    """Encodes the official objects (modules, configs, kwargs) as plain, weights_only data."""

    def __init__(self, persistence, root):
        from omegaconf import OmegaConf

        self.persistence, self.OmegaConf = persistence, OmegaConf
        self.root = root
        self.root_plain = OmegaConf.to_container(root, resolve=False)

    def config_path(self, node) -> str:
        """Where in the experiment config a (copied) config node sits: its dotted path."""
        want = self.OmegaConf.to_container(node, resolve=False)

        def search(d, prefix):
            if d == want:
                return prefix
            if isinstance(d, dict):
                for k, v in d.items():
                    found = search(v, f"{prefix}.{k}" if prefix else k)
                    if found is not None:
                        return found
            return None

        found = search(self.root_plain, "")
        if found is None:
            raise SystemExit("a config node of the official networks is not in the experiment")
        return found

    def value(self, v):
        from omegaconf import DictConfig, ListConfig

        if isinstance(v, (DictConfig, ListConfig)):
            return {"__config__": self.config_path(v)}
        if type(v).__name__ == "EasyDict":
            return {"__easydict__": {k: self.value(x) for k, x in v.items()}}
        if isinstance(v, collections.OrderedDict):
            return {"__odict__": {k: self.value(x) for k, x in v.items()}}
        if isinstance(v, collections.defaultdict):
            return {"__defaultdict__": {k: self.value(x) for k, x in v.items()}}
        if isinstance(v, dict):
            return {k: self.value(x) for k, x in v.items()}
        if isinstance(v, tuple):
            return {"__tuple__": [self.value(x) for x in v]}
        if isinstance(v, list):
            return [self.value(x) for x in v]
        if isinstance(v, (set, frozenset)):
            return {"__set__": sorted(self.value(x) for x in v)}
        if isinstance(v, np.generic):
            return {"__numpy__": v.dtype.str, "value": v.item()}
        if isinstance(v, torch.Tensor):
            return v.detach().clone()
        if v is None or isinstance(v, (bool, int, float, str)):
            return v
        raise SystemExit(f"official module attribute of an unexpected type {type(v).__name__}")

    def module(self, m) -> dict:
        persistent = self.persistence.is_persistent(m)
        cls = type(m)
        state = m.__dict__
        attrs = {
            k: self.value(v)
            for k, v in state.items()
            if k not in ("_parameters", "_buffers", "_modules")
        }
        return {
            "module": cls.__module__,
            "class": m._orig_class_name if persistent else cls.__qualname__,
            "persistent": persistent,
            "attrs": attrs,
            "parameters": {k: p.detach().clone() for k, p in m._parameters.items()},
            "buffers": {k: b.detach().clone() for k, b in m._buffers.items()},
            "children": {k: self.module(c) for k, c in m._modules.items()},
        }


def recorded_globals(path_or_bytes) -> list[list[str]]:
    """Every global the pickle names, in the order the restricted reader meets them."""
    from svlib import convert

    seen: list[list[str]] = []

    class Logging(convert._OfficialUnpickler):
        def find_class(self, module, name):
            if [module, name] not in seen:
                seen.append([module, name])
            return super().find_class(module, name)

    data = path_or_bytes if isinstance(path_or_bytes, bytes) else Path(path_or_bytes).read_bytes()
    Logging(io.BytesIO(data)).load()
    return seen


def write_fixture(path, snapshot, root, persistence, inputs, outputs, globs, meta) -> Path:
    from svlib.checks import write_atomic

    layout = _Layout(persistence, root)
    data = {
        "format": FIXTURE_FORMAT,
        "version": 1,
        "meta": meta,
        "experiment_config": layout.root_plain,
        "training_set_kwargs": layout.value(snapshot["training_set_kwargs"]),
        "networks": {k: layout.module(snapshot[k]) for k in ("G", "D", "G_ema", "augment_pipe")},
        "persistence_version": persistence._version,
        "globals": globs,
        "inputs": inputs,
        "outputs": outputs,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, lambda f: torch.save(data, f))
    torch.load(path, weights_only=True)  # the fixture must load without any code
    return path


# ----------------------------------------------------------------------------------------------


def _commit(repo) -> str | None:
    r = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True)
    return r.stdout.decode().strip() or None if r.returncode == 0 else None


def run(a) -> dict:
    from svlib.convert import load_official

    torch.set_num_threads(a.threads)
    repo = os.environ.get(ENV)
    if not repo:
        raise SystemExit(f"set {ENV} to a checkout of github.com/universome/stylegan-v")
    dnnlib, legacy, persistence = import_official(repo)
    s = dict(SPECS[a.config])
    if a.c_dim is not None:
        s["c_dim"] = a.c_dim
    t0 = time.perf_counter()
    snapshot, root = build_snapshot(dnnlib, s, a.seed)
    blob = pickle.dumps(snapshot)  # the training loop: pickle.dump(snapshot_data, f)
    if a.pkl:
        Path(a.pkl).write_bytes(blob)
    # The official way back: legacy.load_network_pkl (it executes the embedded source).
    loaded = legacy.load_network_pkl(io.BytesIO(blob))
    oG, oD = loaded["G_ema"], loaded["D"]
    inputs = make_inputs(oG, s, a.seed, batch=a.batch, d_batch=a.d_batch)
    ref = official_outputs(oG, oD, inputs)
    t1 = time.perf_counter()
    G, D, cfg = load_official(io.BytesIO(blob), name=f"official_{a.config}.pkl")
    ours = svlib_outputs(G, D, inputs)
    t2 = time.perf_counter()
    diff = max_abs_diff(ref, ours)
    res = {
        "config": a.config,
        "official_commit": _commit(repo),
        "c_dim": s["c_dim"],
        "torch": str(torch.__version__),
        "pickle_bytes": len(blob),
        "frames_shape": list(ref["frames"].shape),
        "logits_shape": list(ref["logits"].shape),
        "max_abs_diff": diff,
        "max_abs_value": {k: float(v.abs().max()) for k, v in ref.items()},
        "params": {
            "official_G": sum(p.numel() for p in oG.parameters()),
            "official_D": sum(p.numel() for p in oD.parameters()),
            "svlib_G": sum(p.numel() for p in G.parameters()),
            "svlib_D": sum(p.numel() for p in D.parameters()),
        },
        "seconds": {"official_build_and_run": t1 - t0, "svlib_convert_and_run": t2 - t1},
    }
    if a.fixture:
        meta = {k: v for k, v in res.items() if k not in ("seconds",)}
        meta["spec"] = s
        globs = recorded_globals(blob)
        write_fixture(a.fixture, snapshot, root, persistence, inputs, ref, globs, meta)
        res["fixture"] = str(a.fixture)
        res["fixture_bytes"] = Path(a.fixture).stat().st_size
    return res


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("config", choices=sorted(SPECS), help="network sizes to build")
    ap.add_argument("--pkl", help="also write the official pickle here (embeds official source)")
    ap.add_argument("--fixture", help="write the test fixture (tensors, config, outputs) here")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=2, help="videos through G")
    ap.add_argument("--d-batch", type=int, default=2, help="clips through D")
    ap.add_argument("--c-dim", type=int, help="class-label dimensionality (conditional networks)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--json", help="write the result here")
    a = ap.parse_args(argv)
    res = run(a)
    text = json.dumps(res, indent=1)
    print(text)
    if a.json:
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json).write_text(text + "\n")
    worst = max(res["max_abs_diff"].values())
    if not math.isfinite(worst) or worst > 1e-4:
        raise SystemExit(f"svlib's conversion differs from the official networks by {worst:g}")


if __name__ == "__main__":
    main()
