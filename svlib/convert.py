"""Official StyleGAN-V network pickles (`network-snapshot-*.pkl`) as svlib networks, safely.

The official code saves its networks with NVlabs' `torch_utils.persistence`: for every network
class the pickle holds the *source code of its module* and the object's state, and the official
loader executes that source to rebuild the class. Here nothing named by the file is imported or
run. A restricted unpickler knows a short list of callables (tensor and storage rebuilding, a
few containers, and stand-ins that keep an object's recorded class name and state as plain
data); any other global in the file is refused, naming it. The module source is read as a
string and dropped. What comes out is plain data: for every network its class name, its init
kwargs (the OmegaConf configs as dicts, interpolations resolved) and its tensors.

From that, `config_from_official` builds the svlib `Config` (refusing, with the field's name, a
configuration svlib cannot represent), and `generator_state_dict` / `discriminator_state_dict`
rename the official parameters onto svlib's `Generator` / `Discriminator`. Fixed buffers the
official networks store (FIR filters, the motion encoder's frequencies and phase scales, the
time-gap Fourier coefficients) are checked against the ones svlib computes from the config.

    G, D, cfg = load_official("network-snapshot-025000.pkl")      # in memory
    convert_official("network-snapshot-025000.pkl", "sky256.pt")  # an svlib checkpoint

Precision: the official training config runs its 4 highest resolutions in fp16; the stored
weights are fp32 and svlib runs them in fp32 (or under autocast), so outputs match the official
networks run with `force_fp32=True`.
"""

from __future__ import annotations

import collections
import io
import math
import os
import pickle
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .checks import UsageError, check_writable_file
from .metrics.i3d import _STORAGE_DTYPES as _TORCH_STORAGE_DTYPES  # the typed storages

# ----------------------------------------------------------------------------------------------
# Errors


class OfficialCheckpointError(UsageError):
    """An official network pickle that cannot be read, is refused, or does not fit svlib."""


class _Refused(pickle.UnpicklingError):
    """Something the file asks for that is not on the allow-list (raised before anything runs)."""


# ----------------------------------------------------------------------------------------------
# Stand-ins: what the file's objects become (names and plain state, never the named classes)


class _Record:
    """An object of a class the file names, kept as that name plus its pickled state.

    Subclasses are made per allowed class name; the unpickler's NEWOBJ and BUILD reach only
    these methods, which store their arguments."""

    qualname = "?"

    def __new__(cls, *args, **kwargs):
        self = object.__new__(cls)
        self.args, self.state = args, None
        return self

    def __setstate__(self, state):
        self.state = state

    def __repr__(self):
        return f"<recorded {self.qualname}>"


def _record_class(qualname: str, base: type = _Record) -> type:
    return type(qualname.rsplit(".", 1)[-1], (base,), {"qualname": qualname})


class _ModuleRecord(_Record):
    """A torch.nn.Module subclass that is not persistent (pickled by reference): its __dict__."""


class _ConfigRecord(_Record):
    """An OmegaConf container or node: its `_content` / `_val`, `_parent` and metadata."""


class _PlainDict(dict):
    """dnnlib.EasyDict and similar dict subclasses, as a dict (their attribute state merged)."""

    def __setstate__(self, state):
        if isinstance(state, dict):
            self.update(state)


@dataclass
class _Persistent:
    """What persistence's reconstruct function would have built: the class name and its state."""

    class_name: str
    state: dict


@dataclass
class _TypeName:
    """A type used as a value (OmegaConf's ref_type/element_type): only its name is kept."""

    name: str


class _Dtype(_Record):
    """numpy.dtype(name, align, copy) + its byte-order state, as data."""

    def numpy(self) -> np.dtype:
        name = str(self.args[0]) if self.args else ""
        if not re.fullmatch(r"[biufc]\d{1,2}|bool|float\d+|int\d+|uint\d+", name):
            raise _Refused(f"numpy dtype {name!r} (only numeric dtypes are read)")
        order = self.state[1] if isinstance(self.state, tuple) and len(self.state) > 1 else "="
        dt = np.dtype(name)
        return dt.newbyteorder(order) if order in ("<", ">") else dt


def _numpy_scalar(dtype, data=None):
    # numpy.core.multiarray.scalar(dtype, bytes): a Python number from raw bytes.
    if not isinstance(dtype, _Dtype) or not isinstance(data, bytes):
        raise _Refused("numpy scalar of a non-numeric dtype")
    dt = dtype.numpy()
    if len(data) != dt.itemsize:
        raise pickle.UnpicklingError("numpy scalar with the wrong number of bytes")
    return np.frombuffer(data, dt)[0].item()


def _plain_defaultdict(*args):
    # The default factory (a type name here) is never called: a plain dict serves.
    return {}


def _persistent_obj(meta):
    # persistence._reconstruct_persistent_obj(meta): meta = {type, version, module_src,
    # class_name, state}. module_src is the class's module source; it is not looked at.
    if not isinstance(meta, dict) or meta.get("type") != "class":
        raise pickle.UnpicklingError("persistent object without type 'class'")
    name, state = meta.get("class_name"), meta.get("state")
    if not isinstance(name, str) or not isinstance(state, dict):
        raise pickle.UnpicklingError("persistent object without class_name and state")
    return _Persistent(name, state)


class _RestrictedUnpickler(pickle._Unpickler):
    """The pure-Python unpickler, restricted: no global unless a subclass allows it, no
    persistent ids unless a subclass reads them, and object state (BUILD) only for the
    stand-ins above, so no __setstate__ of any other type ever runs on the file's data."""

    dispatch = dict(pickle._Unpickler.dispatch)

    def find_class(self, module, name):
        raise _Refused(f"global {module}.{name}")

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("persistent ids are not part of a network pickle")

    def _load_build(self):
        state = self.stack.pop()
        inst = self.stack[-1]
        if not isinstance(inst, (_Record, _PlainDict)):
            raise _Refused(f"object state for a {type(inst).__name__}")
        inst.__setstate__(state)

    dispatch[pickle.BUILD[0]] = _load_build


# ----------------------------------------------------------------------------------------------
# Tensors: storages are pickled as the bytes of a legacy torch.save, parsed here with the same
# restrictions (the official `_load_from_bytes` calls torch.load with weights_only=False)

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001
_STORAGE_DTYPES = {**_TORCH_STORAGE_DTYPES, "UntypedStorage": torch.uint8}


@dataclass
class _StorageType:
    dtype: torch.dtype


@dataclass
class _Storage:
    """A storage as a flat tensor of its dtype (its `numel` elements)."""

    data: torch.Tensor


class _StorageUnpickler(_RestrictedUnpickler):
    def find_class(self, module, name):
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(_STORAGE_DTYPES[name])
        raise _Refused(f"global {module}.{name}")

    def persistent_load(self, pid):
        # ('storage', storage_type, root_key, location, numel, view_metadata)
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] in ("storage", b"storage")):
            raise pickle.UnpicklingError("unknown persistent id in a tensor storage")
        _, stype, key, _location, numel, view = pid
        if not isinstance(stype, _StorageType) or view is not None:
            raise pickle.UnpicklingError("unsupported tensor storage layout")
        self.storages.setdefault(str(key), (stype.dtype, int(numel)))
        return ("storage", str(key))


def _storage_from_bytes(b: bytes) -> _Storage:
    """torch.storage._load_from_bytes, restricted: one storage from a legacy torch.save stream."""
    if not isinstance(b, bytes):
        raise pickle.UnpicklingError("tensor storage is not bytes")
    f = io.BytesIO(b)
    if _load_plain(f) != _LEGACY_MAGIC or _load_plain(f) != _LEGACY_PROTOCOL:
        raise pickle.UnpicklingError("tensor storage in an unknown format")
    sys_info = _load_plain(f)
    if not isinstance(sys_info, dict) or sys_info.get("little_endian") is False:
        raise pickle.UnpicklingError("tensor storage from a big-endian machine")
    u = _StorageUnpickler(f)
    u.storages = {}
    ref = u.load()
    keys = _load_plain(f)
    if not (isinstance(ref, tuple) and isinstance(keys, list) and len(keys) == 1):
        raise pickle.UnpicklingError("tensor storage stream holds more than one storage")
    key = str(keys[0])
    if ref != ("storage", key) or key not in u.storages:
        raise pickle.UnpicklingError("tensor storage keys do not match")
    dtype, numel = u.storages[key]
    (count,) = struct.unpack("<q", f.read(8))
    elsize = torch.empty((), dtype=dtype).element_size()
    raw = f.read(count * elsize)
    if count != numel or len(raw) != count * elsize:
        raise pickle.UnpicklingError("tensor storage is truncated")
    flat = torch.frombuffer(bytearray(raw), dtype=torch.uint8) if raw else torch.empty(0)
    return _Storage(flat.view(dtype) if raw else torch.empty(0, dtype=dtype))


def _load_plain(f):
    """A pickle with no globals at all (numbers, strings, lists, dicts)."""
    return _PlainUnpickler(f).load()


class _PlainUnpickler(_RestrictedUnpickler):
    pass


def _rebuild_tensor(storage, offset, size, stride, requires_grad=False, hooks=None, meta=None):
    # torch._utils._rebuild_tensor_v2: a strided view of the storage, copied out of it.
    if not isinstance(storage, _Storage):
        raise pickle.UnpicklingError("tensor without a storage")
    data = storage.data
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    extent = int(offset) + sum((n - 1) * s for n, s in zip(size, stride)) + 1
    if any(n == 0 for n in size):
        return torch.empty(size, dtype=data.dtype)
    if int(offset) < 0 or extent > data.numel() or any(s < 0 for s in stride):
        raise pickle.UnpicklingError("tensor reaches outside its storage")
    if math.prod(size) > data.numel():  # stride-0 views could ask for any amount of memory
        raise pickle.UnpicklingError("tensor larger than its storage")
    return torch.as_strided(data, size, stride, int(offset)).clone()


def _rebuild_parameter(data, requires_grad=False, hooks=None, state=None):
    # torch._utils._rebuild_parameter(_with_state): the tensor itself (gradients are not needed)
    if not isinstance(data, torch.Tensor):
        raise pickle.UnpicklingError("parameter without a tensor")
    return data


# ----------------------------------------------------------------------------------------------
# The allow-list

_PERSISTENCE = ("src.torch_utils.persistence", "torch_utils.persistence")
_DNNLIB = ("src.dnnlib.util", "dnnlib.util", "src.dnnlib", "dnnlib")
_OMEGACONF = {
    "omegaconf.dictconfig": ("DictConfig",),
    "omegaconf.listconfig": ("ListConfig",),
    "omegaconf.base": ("ContainerMetadata", "Metadata"),
    "omegaconf.nodes": (
        "AnyNode",
        "StringNode",
        "IntegerNode",
        "FloatNode",
        "BooleanNode",
        "EnumNode",
    ),
}
# nn.Module classes that StyleGAN-V networks hold without the persistence decorator
_MODULES = {
    "torch.nn.modules.container": ("Sequential", "ModuleList", "ModuleDict"),
    "torch.nn.modules.sparse": ("Embedding",),
    "torch.nn.modules.linear": ("Identity",),
    "training.layers": ("TemporalDifferenceEncoder",),
    "src.training.layers": ("TemporalDifferenceEncoder",),
}
_TYPE_NAMES = {
    "builtins": ("dict", "list", "tuple", "int", "float", "str", "bool", "object", "bytes"),
    "typing": ("Any",),
}


def _allow_list() -> dict[tuple[str, str], Any]:
    allowed: dict[tuple[str, str], Any] = {
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
        ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
        ("torch.storage", "_load_from_bytes"): _storage_from_bytes,
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("collections", "defaultdict"): _plain_defaultdict,
        ("numpy", "dtype"): _Dtype,
        ("numpy.core.multiarray", "scalar"): _numpy_scalar,
        ("numpy._core.multiarray", "scalar"): _numpy_scalar,
    }
    for m in _PERSISTENCE:
        allowed[(m, "_reconstruct_persistent_obj")] = _persistent_obj
    for m in _DNNLIB:
        allowed[(m, "EasyDict")] = _PlainDict
    for table, base in ((_OMEGACONF, _ConfigRecord), (_MODULES, _ModuleRecord)):
        for m, names in table.items():
            for n in names:
                allowed[(m, n)] = _record_class(f"{m}.{n}", base)
    for m, names in _TYPE_NAMES.items():
        for n in names:
            allowed[(m, n)] = _TypeName(f"{m}.{n}")
    return allowed


_ALLOWED = _allow_list()


class _OfficialUnpickler(_RestrictedUnpickler):
    """Resolves only the allow-listed globals; every other one is refused before it is used."""

    def find_class(self, module, name):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise _Refused(f"global {module}.{name}") from None


# ----------------------------------------------------------------------------------------------
# From stand-ins to plain data


@dataclass
class OfficialNetwork:
    """One network of an official pickle, as data.

    class_name: the official class (`Generator`, `Discriminator`, `AugmentPipe`, ...);
    kwargs: its constructor's keyword arguments (configs as plain dicts, interpolations resolved);
    tensors: its state dict under the official parameter names (`synthesis.b4.conv1.weight`)."""

    class_name: str
    kwargs: dict[str, Any]
    tensors: dict[str, torch.Tensor] = field(repr=False)


def _config_root(rec: _ConfigRecord) -> _ConfigRecord:
    seen = 0
    while isinstance(rec.state, dict) and isinstance(rec.state.get("_parent"), _ConfigRecord):
        rec, seen = rec.state["_parent"], seen + 1
        if seen > 64:
            break
    return rec


_INTERP = re.compile(r"\$\{([^${}]*)\}")


def _resolve(rec: _ConfigRecord, expr: str, depth: int):
    """The value of an OmegaConf interpolation `${a.b}` (absolute) or `${.a}` (relative)."""
    if depth > 32:
        raise ValueError("interpolation too deep")
    if ":" in expr:  # a resolver (oc.env, ...): never evaluated
        raise ValueError(f"resolver {expr!r}")
    node = rec if expr.startswith(".") else _config_root(rec)
    path = expr.lstrip(".")
    for _ in range(len(expr) - len(path) - 1):  # each extra leading dot: one level up
        node = node.state.get("_parent")
    for key in path.split(".") if path else []:
        content = node.state.get("_content") if isinstance(node, _ConfigRecord) else None
        if isinstance(content, dict) and key in content:
            node = content[key]
        elif isinstance(content, list) and key.isdigit() and int(key) < len(content):
            node = content[int(key)]
        else:
            raise ValueError(f"no {path!r} in the config")
    return _config_value(node, depth + 1)


def _config_value(rec, depth: int = 0):
    """An OmegaConf node or container as plain Python data."""
    if depth > 64:  # a container holding itself, or absurdly nested
        raise ValueError("config nested too deeply")
    if not isinstance(rec, _ConfigRecord):
        return _plain(rec, depth)
    state = rec.state if isinstance(rec.state, dict) else {}
    if rec.qualname.endswith("Config"):
        content = state.get("_content")
    else:
        content = state.get("_val")
    if isinstance(content, str):
        parent = state.get("_parent") if not rec.qualname.endswith("Config") else rec
        parent = parent if isinstance(parent, _ConfigRecord) else rec
        whole = _INTERP.fullmatch(content)
        try:
            if whole:
                return _resolve(parent, whole.group(1), depth)
            if _INTERP.search(content):
                return _INTERP.sub(lambda m: str(_resolve(parent, m.group(1), depth)), content)
        except (ValueError, AttributeError):
            return content  # left as written; a field svlib needs is then refused by type
        return content
    if isinstance(content, dict):
        return {k: _config_value(v, depth + 1) for k, v in content.items()}
    if isinstance(content, list):
        return [_config_value(v, depth + 1) for v in content]
    return _plain(content, depth + 1)


def _plain(x, depth: int = 0):
    """Kwargs and attributes as plain data: configs resolved, containers rebuilt."""
    if depth > 64:
        raise ValueError("kwargs nested too deeply")
    if isinstance(x, _ConfigRecord):
        return _config_value(x, depth + 1)
    if isinstance(x, dict):
        return {k: _plain(v, depth + 1) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_plain(v, depth + 1) for v in x)
    if isinstance(x, _TypeName):
        return x.name
    if isinstance(x, (_Persistent, _ModuleRecord)):
        return f"<{getattr(x, 'class_name', getattr(x, 'qualname', '?'))}>"
    return x


def _module_state(obj) -> tuple[str, dict] | None:
    """(class name, __dict__) of a pickled module, persistent or not."""
    if isinstance(obj, _Persistent):
        return obj.class_name, obj.state
    if isinstance(obj, _ModuleRecord) and isinstance(obj.state, dict):
        return obj.qualname, obj.state
    return None


def _collect_tensors(obj, prefix: str, out: dict[str, torch.Tensor], depth: int = 0) -> None:
    found = _module_state(obj)
    if found is None or depth > 64:
        return
    _, state = found
    skip = state.get("_non_persistent_buffers_set") or set()
    for kind in ("_parameters", "_buffers"):
        for name, t in (state.get(kind) or {}).items():
            if isinstance(t, torch.Tensor) and not (kind == "_buffers" and name in skip):
                out[prefix + name] = t
    for name, child in (state.get("_modules") or {}).items():
        _collect_tensors(child, f"{prefix}{name}.", out, depth + 1)


def _network(obj) -> OfficialNetwork | None:
    found = _module_state(obj)
    if found is None:
        return None
    name, state = found
    tensors: dict[str, torch.Tensor] = {}
    _collect_tensors(obj, "", tensors)
    kwargs = _plain(state.get("_init_kwargs") or {})
    return OfficialNetwork(name, kwargs if isinstance(kwargs, dict) else {}, tensors)


def read_official_pickle(source, name: str | None = None) -> dict[str, Any]:
    """The contents of an official network pickle as plain data, without running any of it.

    `source`: a path or a binary file object. Networks (G, D, G_ema, augment_pipe) become
    `OfficialNetwork`s; other entries (training_set_kwargs) plain data. Raises
    `OfficialCheckpointError` naming the file when it is unreadable, truncated, or names a
    global outside the allow-list (which is then not imported)."""
    label = str(name if name is not None else source)
    if isinstance(source, (str, os.PathLike)) and not Path(source).is_file():
        raise OfficialCheckpointError(f"official network pickle not found: {label}")
    try:
        if isinstance(source, (str, os.PathLike)):
            with open(source, "rb") as f:
                raw = _OfficialUnpickler(f).load()
        else:
            raw = _OfficialUnpickler(source).load()
        if not isinstance(raw, dict):
            raise OfficialCheckpointError(
                f"{label}: expected a dict of networks (G, D, G_ema, ...), got {type(raw).__name__}"
            )
        out = {}
        for k, v in raw.items():
            net = _network(v)
            out[k] = net if net is not None else _plain(v)
        return out
    except OfficialCheckpointError:
        raise
    except _Refused as e:
        raise OfficialCheckpointError(
            f"{label}: refused {e} (an official network pickle needs only tensors, "
            "module state and configs; nothing named by the file was imported or run)"
        ) from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError,
            KeyError, struct.error, RuntimeError, MemoryError, RecursionError) as e:  # fmt: skip
        detail = " ".join(str(e).split())[:160] or type(e).__name__
        raise OfficialCheckpointError(
            f"{label} is not a readable official network pickle (truncated, or not a pickle): "
            f"{type(e).__name__}: {detail}"
        ) from None


# ----------------------------------------------------------------------------------------------
# The official configuration -> svlib Config


class _Fields:
    """Reads official kwargs by dotted name; every refusal names the file and the field."""

    def __init__(self, label: str, net: str, kwargs: dict):
        self.label, self.net, self.kwargs = label, net, kwargs

    def refuse(self, name: str, value, why: str):
        raise OfficialCheckpointError(
            f"{self.label}: {self.net} {name}={value!r} cannot be represented in svlib ({why})"
        )

    def get(self, name: str, default=None, kind: type | tuple | None = None):
        x: Any = self.kwargs
        for part in name.split("."):
            if not isinstance(x, dict) or part not in x:
                x = default
                break
            x = x[part]
        if kind is not None and x is not None:
            ok = isinstance(x, kind) and not (isinstance(x, bool) and bool not in _as_tuple(kind))
            if not ok:
                self.refuse(name, x, f"expected {_kind_name(kind)}")
        return x

    def need(self, name: str, expected, default=None, why: str = "svlib implements only this"):
        value = self.get(name, default)
        if value != expected:
            self.refuse(name, value, f"{why}: {expected!r}")
        return value

    def known(self, name: str, allowed: set[str]):
        """Refuse keys of the dict `name` that svlib does not know how to honour."""
        d = self.get(name, {})
        for k in d if isinstance(d, dict) else ():
            if k not in allowed:
                self.refuse(f"{name}.{k}", d[k], "an option svlib does not implement")


def _as_tuple(kind):
    return kind if isinstance(kind, tuple) else (kind,)


def _kind_name(kind) -> str:
    return " or ".join(k.__name__ for k in _as_tuple(kind))


def _power_of_two(x) -> bool:
    return isinstance(x, int) and x > 0 and x & (x - 1) == 0


def _generator_fields(f: _Fields, cfg) -> None:
    """Fill cfg.G (and cfg.sampling) from the official Generator's kwargs."""
    from .config import MotionConfig

    g = cfg.G
    g.resolution = f.get("img_resolution", kind=int)
    if not _power_of_two(g.resolution) or g.resolution < 4:
        f.refuse("img_resolution", g.resolution, "a power of two >= 4 is needed")
    g.img_channels = f.get("img_channels", 3, int)
    g.c_dim = f.get("c_dim", 0, int)
    g.w_dim = f.get("w_dim", kind=int)
    g.z_dim = f.get("cfg.z_dim", kind=int)
    f.known("mapping_kwargs", {"num_layers", "lr_multiplier", "w_avg_beta", "cfg", "activation"})
    g.mapping_layers = f.get("mapping_kwargs.num_layers", 8, int)
    g.mapping_lr_multiplier = float(f.get("mapping_kwargs.lr_multiplier", 0.01, (int, float)))
    beta = f.get("mapping_kwargs.w_avg_beta", 0.995, (int, float))
    g.w_avg_beta = float(beta)
    f.need("mapping_kwargs.activation", "lrelu", "lrelu")
    f.known(
        "synthesis_kwargs",
        {
            "channel_base",
            "channel_max",
            "num_fp16_res",  # precision only: svlib runs fp32 or autocast
            "conv_clamp",
            "fp16_channels_last",  # memory layout only
            "architecture",
        },
    )
    g.channel_base = f.get("synthesis_kwargs.channel_base", 32768, int)
    g.channel_max = f.get("synthesis_kwargs.channel_max", 512, int)
    clamp = f.get("synthesis_kwargs.conv_clamp", None, (int, float))
    g.conv_clamp = None if clamp is None else float(clamp)
    f.need("synthesis_kwargs.architecture", "skip", "skip", "svlib's generator is the skip one")
    f.need("cfg.use_noise", False, True, "StyleGAN-V drops per-pixel noise")
    f.need("cfg.input.type", "temporal", None, "the constant concatenated with v(t)")
    f.need("cfg.time_enc.cond_type", "concat_const", None, "v(t) enters at the 4×4 input")
    f.need("cfg.motion.gen_strategy", "conv", None, "the conv1d motion mapping")
    f.need("cfg.motion.fourier", True, None, "the aligned sinusoidal embedding")
    z_dim = f.get("cfg.motion.z_dim", kind=int)
    v_dim = f.get("cfg.motion.v_dim", kind=int)
    if not v_dim:
        f.refuse("cfg.motion.v_dim", v_dim, "StyleGAN-V needs a motion path")
    if z_dim != v_dim:
        # svlib's conv1d stack keeps code_dim channels from its first layer on
        f.refuse("cfg.motion.z_dim", z_dim, f"must equal motion.v_dim={v_dim}")
    p_min = f.get("cfg.time_enc.min_period_len", kind=(int, float))
    p_max = f.get("cfg.time_enc.max_period_len", kind=(int, float))
    dz = f.get("cfg.motion.motion_z_distance", kind=(int, float))
    if dz != p_min:
        # svlib ties the grid spacing δz to P_min, as the paper's config does
        f.refuse("cfg.motion.motion_z_distance", dz, f"must equal time_enc.min_period_len={p_min}")
    g.motion = MotionConfig(
        z_dim=z_dim,
        code_dim=v_dim,
        time_dim=f.get("cfg.time_enc.dim", kind=int),
        min_period=float(p_min),
        max_period=float(p_max),
        kernel_size=f.get("cfg.motion.kernel_size", kind=int),
        num_layers=2,  # fixed in the official MotionMappingNetwork
        lr_multiplier=0.01,  # fixed in the official MotionMappingNetwork
    )
    s = cfg.sampling
    s.num_frames = f.get("cfg.sampling.num_frames_per_video", 3, int)
    s.max_num_frames = f.get("cfg.sampling.max_num_frames", 1024, int)
    max_dist = f.get("cfg.sampling.max_dist", None)
    if isinstance(max_dist, int) and not isinstance(max_dist, bool) and max_dist > 0:
        s.max_dist = max_dist


def _discriminator_fields(f: _Fields, cfg) -> None:
    """Fill cfg.D from the official Discriminator's kwargs."""
    from .layers import channels_at

    d = cfg.D
    d.resolution = f.get("img_resolution", kind=int)
    d.img_channels = f.get("img_channels", 3, int)
    d.c_dim = f.get("c_dim", 0, int)
    f.need("architecture", "resnet", "resnet", "svlib's discriminator is the ResNet one")
    d.channel_base = f.get("channel_base", 32768, int)
    d.channel_max = f.get("channel_max", 512, int)
    clamp = f.get("conv_clamp", None, (int, float))
    d.conv_clamp = None if clamp is None else float(clamp)
    f.known("block_kwargs", {"freeze_layers", "fp16_channels_last", "activation"})
    f.need("block_kwargs.activation", "lrelu", "lrelu")
    f.known("mapping_kwargs", {"num_layers", "lr_multiplier", "activation"})
    d.mapping_layers = f.get("mapping_kwargs.num_layers", 8, int)
    f.need("mapping_kwargs.lr_multiplier", 0.01, 0.01, "svlib's D mapping uses 0.01")
    f.need("mapping_kwargs.activation", "lrelu", "lrelu")
    f.known("epilogue_kwargs", {"mbstd_group_size", "mbstd_num_channels", "activation"})
    group = f.get("epilogue_kwargs.mbstd_group_size", 4, int)
    channels = f.get("epilogue_kwargs.mbstd_num_channels", 1, int)
    if channels > 0 and (group is None or group < 2):
        # svlib's group is at most mbstd_group_size (None = the whole batch is not a size) and
        # a group of 1 turns the layer off instead of appending a constant channel
        f.refuse("epilogue_kwargs.mbstd_group_size", group, "an integer >= 2 is needed")
    d.mbstd_group_size, d.mbstd_num_channels = (group or 0), channels
    f.need("epilogue_kwargs.activation", "lrelu", "lrelu")
    f.need("cfg.dummy_c", False, False, "the conditioning must be used")
    if f.get("cfg.skip_small_t_freqs", 0):
        f.refuse("cfg.skip_small_t_freqs", f.get("cfg.skip_small_t_freqs"), "svlib keeps all")
    concat = f.get("cfg.concat_res", kind=int)
    # the official D concatenates the frames before the block of that resolution, so it must
    # be one of the blocks after the first
    if not _power_of_two(concat) or not 8 <= concat < d.resolution:
        f.refuse("cfg.concat_res", concat, f"a power of two in [8, {d.resolution // 2}]")
    d.concat_res = concat
    d.num_frames_div_factor = f.get("cfg.num_frames_div_factor", 2, int)
    nf = f.get("cfg.sampling.num_frames_per_video", kind=int)
    d.num_frames = nf
    d.holistic = True
    ch4 = channels_at(4, d.channel_base, d.channel_max)
    cmap = f.get("cmap_dim", None, int)
    d.cmap_dim = ch4 if cmap is None else cmap
    if nf > 1:
        if f.get("cfg.sampling.type", "random") != "random" and nf > 2:
            # the uniform sampler gives one gap code, svlib one per pair of frames
            f.refuse("cfg.sampling.type", f.get("cfg.sampling.type"), "'random' (or F = 2)")
        m = f.get("cfg.sampling.max_num_frames", kind=int)
        if not _power_of_two(m):
            # the official table has max_num_frames rows but its Fourier features divide by the
            # next power of two; svlib uses one number (max_time_gap) for both
            f.refuse("cfg.sampling.max_num_frames", m, "a power of two is needed")
        d.max_time_gap = m
        d.gap_num_freqs = int(math.log2(m))
        d.gap_embed_dim = 256  # fixed in the official TemporalDifferenceEncoder


def config_from_official(
    G: OfficialNetwork, D: OfficialNetwork | None = None, label: str = "official pickle"
):
    """The svlib `Config` of an official generator (and discriminator).

    Raises `OfficialCheckpointError` naming the first official field svlib cannot represent."""
    from .config import Config, resolve_auto

    for net, want in ((G, "Generator"), (D, "Discriminator")):
        if net is not None and net.class_name != want:
            raise OfficialCheckpointError(
                f"{label}: expected the official StyleGAN-V {want}, found class {net.class_name!r}"
            )
    cfg = Config(name="official")
    _generator_fields(_Fields(label, "G", G.kwargs), cfg)
    if D is not None:
        fd = _Fields(label, "D", D.kwargs)
        _discriminator_fields(fd, cfg)
        if cfg.D.resolution != cfg.G.resolution:
            fd.refuse("img_resolution", cfg.D.resolution, f"G has {cfg.G.resolution}")
        if cfg.D.num_frames != cfg.sampling.num_frames:
            fd.refuse("cfg.sampling.num_frames_per_video", cfg.D.num_frames, "G's config differs")
    else:  # a generator alone: D's fields follow G where they are shared
        cfg.D.resolution, cfg.D.img_channels = cfg.G.resolution, cfg.G.img_channels
        cfg.D.c_dim, cfg.D.num_frames = cfg.G.c_dim, cfg.sampling.num_frames
    return resolve_auto(cfg)


# ----------------------------------------------------------------------------------------------
# Parameter names: official -> svlib


def _log2(r: int) -> int:
    return r.bit_length() - 1


def generator_state_dict(G: OfficialNetwork, cfg, label: str = "official pickle") -> dict:
    """svlib `Generator` state dict from the official generator's tensors.

    Fixed buffers (FIR filters, motion frequencies and phase scales) are checked, not copied."""
    from .generator import Generator

    ref = _build(Generator, cfg.G, label, "G")  # only for the buffers svlib derives from cfg
    enc = ref.motion.time_encoder
    checks = {
        "synthesis.motion_encoder.time_encoder.freqs": enc.omega[None],
        "synthesis.motion_encoder.time_encoder.phase_scales": enc.rho[None],
    }
    renames = {
        "synthesis.b4.input.input.const": "const",
        "mapping.w_avg": "mapping.w_avg",
        "mapping.embed.weight": "mapping.embed.weight",
        "mapping.embed.bias": "mapping.embed.bias",
    }
    fc = {"periods_predictor": "period_fc", "phase_predictor": "phase_fc"}
    fc["aligners_predictor"] = "aligner_fc"
    out = {}
    for name, t in G.tensors.items():
        if name in checks:
            _check_buffer(label, "G", name, t, checks[name])
            continue
        if name.endswith("resample_filter"):
            _check_buffer(label, "G", name, t, _fir())
            continue
        m = (
            re.fullmatch(r"mapping\.fc(\d+)\.(weight|bias)", name)
            or re.fullmatch(r"synthesis\.motion_encoder\.conv\.(\d+)\.(weight|bias)", name)
            or re.fullmatch(r"synthesis\.motion_encoder\.time_encoder\.(\w+)\.(weight)", name)
            or re.fullmatch(r"synthesis\.b(\d+)\.(conv0|conv1|torgb)\.(.+)", name)
        )
        if name in renames:
            out[renames[name]] = t
        elif m and name.startswith("mapping.fc"):
            out[f"mapping.layers.{m[1]}.{m[2]}"] = t
        elif m and ".motion_encoder.conv." in name:
            out[f"motion.mapping.convs.{m[1]}.{m[2]}"] = t
        elif m and ".time_encoder." in name and m[1] in fc:
            out[f"motion.time_encoder.{fc[m[1]]}.{m[2]}"] = t
        elif m and name.startswith("synthesis.b"):
            if m[2] == "conv0" and m[3] == "weight":
                # The official ×2 upsampling conv is a true convolution (flip_weight=False), svlib's
                # a cross-correlation like every other conv: the same layer, kernel mirrored.
                t = t.flip([2, 3])
            out[f"blocks.{_log2(int(m[1])) - 2}.{m[2]}.{m[3]}"] = t
        else:
            raise OfficialCheckpointError(
                f"{label}: G tensor {name!r} has no counterpart in svlib's Generator"
            )
    _fits(label, "G", ref, out)
    return out


def discriminator_state_dict(D: OfficialNetwork, cfg, label: str = "official pickle") -> dict:
    """svlib `Discriminator` state dict from the official discriminator's tensors."""
    from .discriminator import Discriminator

    ref = _build(Discriminator, cfg.D, label, "D")
    R = cfg.D.resolution
    out = {}
    for name, t in D.tensors.items():
        if name.endswith("resample_filter"):
            _check_buffer(label, "D", name, t, _fir())
            continue
        if name == "time_encoder.time_encoder.fourier_coefs":
            _check_buffer(label, "D", name, t, ref.time_encoder.freqs[None])
            continue
        m = re.fullmatch(r"b(\d+)\.(fromrgb|conv0|conv1|skip)\.(weight|bias)", name)
        e = re.fullmatch(r"b4\.(conv|fc|out)\.(weight|bias)", name)
        f = re.fullmatch(r"mapping\.(embed|fc\d+)\.(weight|bias)", name)
        if m and int(m[1]) > 4:
            out[f"blocks.{_log2(R) - _log2(int(m[1]))}.{m[2]}.{m[3]}"] = t
        elif e:
            out[f"epilogue.{e[1]}.{e[2]}"] = t
        elif f:
            layer = "embed" if f[1] == "embed" else f"layers.{f[1][2:]}"
            out[f"mapping.{layer}.{f[2]}"] = t
        elif name == "time_encoder.const_embed.weight":
            out["time_encoder.embed.weight"] = t
        else:
            raise OfficialCheckpointError(
                f"{label}: D tensor {name!r} has no counterpart in svlib's Discriminator"
            )
    _fits(label, "D", ref, out)
    return out


def _build(cls, sub_cfg, label: str, net: str) -> torch.nn.Module:
    try:
        return cls(sub_cfg)
    except ValueError as e:  # e.g. periods or widths the official kwargs set to odd values
        raise OfficialCheckpointError(f"{label}: {net} does not build in svlib: {e}") from None


def _fir() -> torch.Tensor:
    from .ops import fir_filter

    return fir_filter()


def _check_buffer(label, net, name, stored: torch.Tensor, expected: torch.Tensor) -> None:
    ok = stored.shape == expected.shape and torch.allclose(
        stored.double(), expected.double(), rtol=1e-5, atol=1e-7
    )
    if not ok:
        raise OfficialCheckpointError(
            f"{label}: {net} buffer {name!r} differs from the one svlib computes from the config "
            f"(shape {tuple(stored.shape)} vs {tuple(expected.shape)})"
        )


def _fits(label, net, module: torch.nn.Module, sd: dict) -> None:
    """Every svlib tensor filled, with the right shape (one line naming the first misfit)."""
    want = module.state_dict()
    for k, v in want.items():
        if k not in sd:
            raise OfficialCheckpointError(f"{label}: {net} lacks a tensor for svlib's {k!r}")
        if tuple(sd[k].shape) != tuple(v.shape):
            raise OfficialCheckpointError(
                f"{label}: {net} tensor for {k!r} has shape {tuple(sd[k].shape)}, svlib's config "
                f"gives {tuple(v.shape)}"
            )
    for k in sd:
        if k not in want:
            raise OfficialCheckpointError(f"{label}: {net} tensor {k!r} is not in svlib's model")
    for k, v in list(sd.items()):
        sd[k] = v.detach().to(want[k].dtype).contiguous().clone()


# ----------------------------------------------------------------------------------------------
# Entry points


def official_to_svlib(contents: dict[str, Any], label: str = "official pickle") -> dict[str, Any]:
    """A checkpoint payload {config, G_ema, G, D} from `read_official_pickle`'s contents."""
    G_ema, G, D = (contents.get(k) for k in ("G_ema", "G", "D"))
    G_ema = G_ema if isinstance(G_ema, OfficialNetwork) else None
    if G_ema is None:
        raise OfficialCheckpointError(f"{label}: no 'G_ema' network in the pickle")
    D = D if isinstance(D, OfficialNetwork) else None
    cfg = config_from_official(G_ema, D, label)
    payload: dict[str, Any] = {
        "config": cfg.to_dict(),
        "G_ema": generator_state_dict(G_ema, cfg, label),
    }
    if isinstance(G, OfficialNetwork):
        payload["G"] = generator_state_dict(G, cfg, label)
    if D is not None:
        payload["D"] = discriminator_state_dict(D, cfg, label)
    payload["converted_from"] = {
        "file": Path(label).name,
        "format": "official StyleGAN-V network pickle",
        "networks": sorted(k for k in ("G_ema", "G", "D") if k in payload),
        "official_fp16_res": {
            "G": _num(G_ema.kwargs.get("synthesis_kwargs", {}), "num_fp16_res"),
            "D": _num(D.kwargs, "num_fp16_res") if D is not None else 0,
        },
    }
    return payload


def _num(d, key) -> int:
    v = d.get(key, 0) if isinstance(d, dict) else 0
    return v if isinstance(v, int) else 0


def load_official(source, name: str | None = None, device=None):
    """(G_ema, D, cfg): svlib networks holding an official pickle's weights, in eval mode.

    D is None when the pickle has no discriminator. Nothing from the file is executed."""
    from .config import Config
    from .discriminator import Discriminator
    from .generator import Generator

    label = str(name if name is not None else source)
    payload = official_to_svlib(read_official_pickle(source, label), label)
    cfg = Config.from_dict(payload["config"])
    G = Generator(cfg.G)
    G.load_state_dict(payload["G_ema"])
    D = None
    if "D" in payload:
        D = Discriminator(cfg.D)
        D.load_state_dict(payload["D"])
    for m in (G, D):
        if m is not None:
            m.eval().requires_grad_(False)
            if device is not None:
                m.to(device)
    return G, D, cfg


def convert_official(src: str | os.PathLike, dst: str | os.PathLike) -> Path:
    """Write an svlib checkpoint (config, G_ema, G, D) from an official network pickle.

    It loads with `svlib.load_generator` and `python -m svlib generate --ckpt`; its "D" entry
    is a `Discriminator(cfg.D)` state dict."""
    from .checkpoint import save_checkpoint

    src, dst = Path(src), check_writable_file(dst, "convert destination")
    if dst.exists() and src.exists() and dst.resolve() == src.resolve():
        raise UsageError(f"convert destination {dst} is the source pickle; choose another file")
    payload = official_to_svlib(read_official_pickle(src), str(src))
    return save_checkpoint(dst, payload)
