"""Official StyleGAN-V network pickles in svlib (`svlib.convert`), without the official code.

`tests/fixtures/official_tiny.pt` (written by `tools/official_fixture.py` from the official code)
holds the tensors, the plain config values and the layout of the objects of an official network
pickle, and what the official G_ema and D produced for fixed inputs; no official source. The tests
rebuild a pickle of the official format from it: persistent classes through persistence's
reconstruct call with its meta keys (a placeholder where the module source goes), the other
modules and the OmegaConf configs by their class names, the tensors pickled by torch; and convert
that.
"""

from __future__ import annotations

import collections
import copyreg
import importlib
import io
import os
import pickle
import sys
import types
import typing
from pathlib import Path

import numpy as np
import pytest
import torch

from svlib import convert as svconvert
from svlib.checkpoint import load_checkpoint, load_generator
from svlib.checks import UsageError
from svlib.convert import (
    OfficialCheckpointError,
    convert_official,
    load_official,
    read_official_pickle,
)
from svlib.discriminator import Discriminator

FIXTURE = Path(__file__).parent / "fixtures" / "official_tiny.pt"
PLACEHOLDER_SOURCE = "# the official module source is not part of the fixture\n"


@pytest.fixture(scope="module")
def fixture():
    return torch.load(FIXTURE, weights_only=True)


# ----------------------------------------------------------------------------------------------
# A pickle of the official format, from the fixture


class _Newobj:
    """Pickles as NEWOBJ(cls) + BUILD(state) (+ SETITEMS), as a plain object of `cls` does, without
    being one: `cls` is only named in the stream."""

    def __init__(self, cls, state=None, items=None):
        self._cls, self._state, self._items = cls, state, items

    @property
    def __class__(self):  # pickle checks that NEWOBJ's class is the object's class
        return self._cls

    def __reduce_ex__(self, protocol):
        items = None if self._items is None else iter(self._items.items())
        return (copyreg.__newobj__, (self._cls,), self._state, None, items)


class _PersistentObj:
    """Pickles as persistence's Decorator.__reduce__ does: reconstruct(meta), no state."""

    def __init__(self, reconstruct, version, class_name, state, source):
        self.meta = dict(
            type="class", version=version, module_src=source, class_name=class_name, state=state
        )
        self.reconstruct = reconstruct

    def __reduce__(self):
        return (self.reconstruct, (self.meta,), None)


class _OfficialNames:
    """Stand-ins, under the official module names, for what the stream names but this machine
    lacks (the official code, dnnlib, omegaconf); registered in sys.modules for one test."""

    def __init__(self, monkeypatch):
        self.monkeypatch, self.ours = monkeypatch, set()

    def module(self, dotted: str) -> types.ModuleType:
        parts = dotted.split(".")
        for i in range(1, len(parts) + 1):
            name = ".".join(parts[:i])
            if name not in sys.modules:
                self.monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
                self.ours.add(name)
            elif name not in self.ours:
                raise RuntimeError(f"{name} is importable here; the stand-ins would shadow it")
        return sys.modules[dotted]

    def cls(self, module: str, name: str, base: type = object) -> type:
        if module.startswith("torch."):  # real torch classes are only named, never built
            return getattr(importlib.import_module(module), name)
        mod = self.module(module)
        if not hasattr(mod, name):
            setattr(mod, name, type(name, (base,), {"__module__": module, "__qualname__": name}))
        return getattr(mod, name)

    def reconstruct(self):
        mod = self.module("src.torch_utils.persistence")
        if not hasattr(mod, "_reconstruct_persistent_obj"):

            def _reconstruct_persistent_obj(meta):
                raise AssertionError("never called: svlib does not run the pickle's code")

            _reconstruct_persistent_obj.__module__ = mod.__name__
            _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"
            mod._reconstruct_persistent_obj = _reconstruct_persistent_obj
        return mod._reconstruct_persistent_obj


def _config_tree(names: _OfficialNames, plain, key=None, parent=None):
    """An OmegaConf tree as omegaconf pickles it: containers with metadata, parent links, nodes."""
    Any = typing.Any

    def metadata(kind: str, **fields):
        base = dict(ref_type=Any, optional=True, key=key, flags={}, flags_root=False)
        base["resolver_cache"] = collections.defaultdict(dict)
        return _Newobj(names.cls("omegaconf.base", kind), {**base, **fields})

    if isinstance(plain, (dict, list)):
        is_dict = isinstance(plain, dict)
        cls = names.cls(
            "omegaconf.dictconfig" if is_dict else "omegaconf.listconfig",
            "DictConfig" if is_dict else "ListConfig",
        )
        meta = metadata(
            "ContainerMetadata",
            object_type=dict if is_dict else list,
            key_type=Any if is_dict else int,
            element_type=Any,
        )
        node = _Newobj(cls, {"_metadata": meta, "_parent": parent})
        items = plain.items() if is_dict else enumerate(plain)
        content = {k: _config_tree(names, v, k, node) for k, v in items}
        node._state["_content"] = content if is_dict else list(content.values())
        return node
    meta = metadata("Metadata", object_type=None)
    node_cls = names.cls("omegaconf.nodes", "AnyNode")
    return _Newobj(node_cls, {"_metadata": meta, "_parent": parent, "_val": plain})


class _Builder:
    def __init__(self, names: _OfficialNames, fixture, source: str, config: dict):
        self.names, self.fx, self.source = names, fixture, source
        self.root = _config_tree(names, config)

    def config(self, path: str):
        node = self.root
        for key in path.split(".") if path else []:
            node = node._state["_content"][key]
        return node

    def value(self, v):
        if isinstance(v, dict):
            if set(v) == {"__config__"}:
                return self.config(v["__config__"])
            if set(v) == {"__easydict__"}:
                easy = self.names.cls("src.dnnlib.util", "EasyDict", dict)
                return _Newobj(easy, None, {k: self.value(x) for k, x in v["__easydict__"].items()})
            if set(v) == {"__odict__"}:
                return collections.OrderedDict(
                    (k, self.value(x)) for k, x in v["__odict__"].items()
                )
            if set(v) == {"__defaultdict__"}:
                items = {k: self.value(x) for k, x in v["__defaultdict__"].items()}
                return collections.defaultdict(dict, items)
            if set(v) == {"__tuple__"}:
                return tuple(self.value(x) for x in v["__tuple__"])
            if set(v) == {"__set__"}:
                return {self.value(x) for x in v["__set__"]}
            if set(v) == {"__numpy__", "value"}:
                return np.dtype(v["__numpy__"]).type(v["value"])
            return {k: self.value(x) for k, x in v.items()}
        if isinstance(v, list):
            return [self.value(x) for x in v]
        return v

    def module(self, node: dict):
        state = {k: self.value(v) for k, v in node["attrs"].items()}
        state["_parameters"] = {
            k: torch.nn.Parameter(t.clone(), requires_grad=False)
            for k, t in node["parameters"].items()
        }
        state["_buffers"] = {k: t.clone() for k, t in node["buffers"].items()}
        state["_modules"] = {k: self.module(c) for k, c in node["children"].items()}
        if node["persistent"]:
            version = self.fx["persistence_version"]
            recon = self.names.reconstruct()
            return _PersistentObj(recon, version, node["class"], state, self.source)
        return _Newobj(self.names.cls(node["module"], node["class"]), state)

    def snapshot(self) -> dict:
        out = {"training_set_kwargs": self.value(self.fx["training_set_kwargs"])}
        for name, node in self.fx["networks"].items():
            out[name] = self.module(node)
        return out


def official_pickle(
    monkeypatch, fixture, source=PLACEHOLDER_SOURCE, config_edits=(), kwargs_edits=()
) -> bytes:
    """The bytes of an official network pickle of the fixture's networks.

    config_edits: (dotted path in the experiment config, value); kwargs_edits: (network, dotted
    path in its constructor kwargs, value)."""
    config = _deep_copy(fixture["experiment_config"])
    for path, value in config_edits:
        _set(config, path, value)
    fx = dict(fixture, networks=dict(fixture["networks"]))
    for net, path, value in kwargs_edits:
        node = fx["networks"][net] = dict(fx["networks"][net])
        node["attrs"] = _deep_copy(node["attrs"])
        _set(node["attrs"]["_init_kwargs"], path, value)
    names = _OfficialNames(monkeypatch)
    return pickle.dumps(_Builder(names, fx, source, config).snapshot(), protocol=4)


def _set(d: dict, path: str, value) -> None:
    *parents, last = path.split(".")
    for p in parents:
        d = d[p]
        d = d.get("__easydict__", d)  # kwargs dicts are EasyDicts
    d[last] = value


def _deep_copy(x):
    if isinstance(x, dict):
        return {k: _deep_copy(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_deep_copy(v) for v in x]
    return x


def _globals(blob: bytes) -> set[tuple[str, str]]:
    seen = set()

    class Logging(svconvert._OfficialUnpickler):
        def find_class(self, module, name):
            seen.add((module.replace("numpy.core.", "numpy._core."), name))
            return super().find_class(module, name)

    Logging(io.BytesIO(blob)).load()
    return seen


@pytest.fixture
def official_pkl(monkeypatch, fixture, tmp_path):
    path = tmp_path / "network-snapshot-000000.pkl"
    path.write_bytes(official_pickle(monkeypatch, fixture))
    return path


@torch.no_grad()
def _svlib_outputs(G, D, x: dict) -> dict:
    c = x["c"] if x["c"].shape[1] else None
    d_c = x["d_c"] if x["d_c"].shape[1] else None
    psi = x["truncation_psi"]
    return {
        "frames": G(x["z"], x["t"], c=c, motion_z=x["motion_z"]),
        "frames_truncated": G(x["z"], x["t"], c=c, motion_z=x["motion_z"], truncation_psi=psi),
        "logits": D(x["d_frames"], x["d_t"], d_c),
    }


def _max_diff(a: dict, b: dict) -> dict:
    return {k: float((a[k] - b[k]).abs().max()) for k in b}


# ----------------------------------------------------------------------------------------------
# The conversion reproduces the official networks


def test_rebuilt_pickle_has_the_official_structure(monkeypatch, fixture):
    blob = official_pickle(monkeypatch, fixture)
    want = {(m.replace("numpy.core.", "numpy._core."), n) for m, n in fixture["globals"]}
    assert _globals(blob) == want  # the same globals as the pickle the official code wrote
    assert b"_reconstruct_persistent_obj" in blob and PLACEHOLDER_SOURCE.encode() in blob


def test_converted_checkpoint_reproduces_official_frames_and_logits(
    fixture, official_pkl, tmp_path
):
    out = convert_official(official_pkl, tmp_path / "tiny.pt")
    G, cfg = load_generator(out)
    D = Discriminator(cfg.D).eval()
    D.load_state_dict(load_checkpoint(out)["D"])
    x, ref = fixture["inputs"], fixture["outputs"]
    diff = _max_diff(_svlib_outputs(G, D, x), ref)
    assert max(diff.values()) <= 1e-4, diff
    assert ref["frames"].abs().max() > 1 and ref["logits"].abs().max() > 1e-2  # not all zeros
    # G_ema is the EMA generator: the training G of the same pickle gives other frames
    G_train, _ = load_generator(out, ema=False)
    with torch.no_grad():
        other = G_train(x["z"], x["t"], motion_z=x["motion_z"])
    assert (other - ref["frames"]).abs().max() > 1e-2


def test_contents_are_plain_data_with_interpolations_resolved(official_pkl, fixture):
    contents = read_official_pickle(official_pkl)
    assert set(contents) == {"training_set_kwargs", "G", "D", "G_ema", "augment_pipe"}
    G = contents["G_ema"]
    assert G.class_name == "Generator" and contents["augment_pipe"].class_name == "AugmentPipe"
    gcfg = G.kwargs["cfg"]
    spec = fixture["meta"]["spec"]
    # "${model.generator.time_enc.min_period_len}" and "${sampling}" -> their values
    assert gcfg["motion"]["motion_z_distance"] == spec["min_period"]
    assert gcfg["sampling"]["max_num_frames"] == spec["max_num_frames"]  # via ${dataset....}
    assert G.kwargs["mapping_kwargs"]["num_layers"] == spec["mapping_layers"]
    _, D, cfg = load_official(official_pkl)
    assert D is not None and D.cfg.num_frames == spec["num_frames"]
    assert (cfg.G.resolution, cfg.D.concat_res, cfg.D.max_time_gap) == (
        spec["resolution"],
        spec["concat_res"],
        spec["max_num_frames"],
    )


def test_module_source_in_the_pickle_is_never_run(monkeypatch, fixture, tmp_path):
    marker = tmp_path / "source-ran"
    source = f"open({str(marker)!r}, 'w').write('the module source ran')\n"
    blob = official_pickle(monkeypatch, fixture, source=source)
    assert source.encode() in blob
    path = tmp_path / "network-snapshot.pkl"
    path.write_bytes(blob)
    G, D, _ = load_official(path)
    diff = _max_diff(_svlib_outputs(G, D, fixture["inputs"]), fixture["outputs"])
    assert max(diff.values()) <= 1e-4
    assert not marker.exists()


# ----------------------------------------------------------------------------------------------
# What is refused, in one line


class _Call:
    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return (self.fn, self.args)


def _legacy_storage_bytes(main: bytes) -> bytes:
    """A legacy torch.save stream (as storages are pickled) whose main pickle is `main`."""
    head = pickle.dumps(svconvert._LEGACY_MAGIC, protocol=2)
    head += pickle.dumps(svconvert._LEGACY_PROTOCOL, protocol=2)
    head += pickle.dumps({"protocol_version": 1001, "little_endian": True}, protocol=2)
    return head + main


def _bad_pickles(marker: Path) -> dict[str, tuple[bytes, str]]:
    touch = f"touch {marker}"
    write = f"open({str(marker)!r}, 'w')"
    system = pickle.dumps({"G_ema": _Call(os.system, touch)})
    inner = pickle.dumps(_Call(os.system, touch), protocol=2)
    return {
        "os.system": (system, f"global {os.system.__module__}.system"),
        "eval": (pickle.dumps({"G_ema": _Call(eval, write)}), "global builtins.eval"),
        "exec": (pickle.dumps({"D": _Call(exec, write)}), "global builtins.exec"),
        # a class of the official code, named by reference: importing it would run its module
        "official class": (
            b"(dp0\nVG_ema\np1\nctraining.networks\nGenerator\np2\n(tRp3\ns.",
            "global training.networks.Generator",
        ),
        # state for an object that is not a stand-in (its __setstate__ would run on file data)
        "object state": (
            b"ccollections\nOrderedDict\n)R(dVx\nI1\nsb.",
            "object state for a OrderedDict",
        ),
        # a tensor storage whose bytes hide a call (the official loader would torch.load them)
        "storage bytes": (
            pickle.dumps(
                {"G": _Call(torch.storage._load_from_bytes, _legacy_storage_bytes(inner))}
            ),
            f"global {os.system.__module__}.system",
        ),
    }


@pytest.mark.parametrize("kind", list(_bad_pickles(Path("marker"))))
def test_code_in_the_pickle_is_refused_unexecuted(tmp_path, kind):
    marker = tmp_path / "it-ran"
    blob, refused = _bad_pickles(marker)[kind]
    path = tmp_path / "evil.pkl"
    path.write_bytes(blob)
    with pytest.raises(OfficialCheckpointError) as e:
        read_official_pickle(path)
    msg = str(e.value)
    assert "\n" not in msg and str(path) in msg and f"refused {refused}" in msg
    with pytest.raises(OfficialCheckpointError):
        convert_official(path, tmp_path / "out.pt")
    assert not marker.exists() and not (tmp_path / "out.pt").exists()


def test_truncated_and_non_pickle_files_give_one_line(monkeypatch, fixture, tmp_path):
    blob = official_pickle(monkeypatch, fixture)
    cases = {
        "half.pkl": blob[: len(blob) // 2],
        "no-stop.pkl": blob[:-1],
        "text.pkl": b"network snapshot, but as text\n",
        "zip.pkl": b"PK\x03\x04" + bytes(range(256)) * 4,
        "empty.pkl": b"",
    }
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(OfficialCheckpointError) as e:
            convert_official(path, tmp_path / "out.pt")
        msg = str(e.value)
        assert "\n" not in msg and str(path) in msg, msg
        assert "not a readable official network pickle" in msg or "refused global" in msg, msg
    assert not (tmp_path / "out.pt").exists()
    with pytest.raises(OfficialCheckpointError, match="not found"):
        read_official_pickle(tmp_path / "missing.pkl")


def test_destination_is_checked_before_reading(official_pkl, tmp_path):
    before = official_pkl.read_bytes()
    with pytest.raises(UsageError, match="is the source pickle"):
        convert_official(official_pkl, official_pkl)
    (tmp_path / "afile").write_text("a file where a folder is expected")
    with pytest.raises(UsageError, match="afile is a file"):
        convert_official(official_pkl, tmp_path / "afile" / "out.pt")
    assert official_pkl.read_bytes() == before


@pytest.mark.parametrize(
    "edit, field",
    [
        (("model.generator.use_noise", True), "G cfg.use_noise=True"),
        (("model.generator.motion.motion_z_distance", 4), "G cfg.motion.motion_z_distance=4"),
        (("model.generator.time_enc.cond_type", "concat_w"), "G cfg.time_enc.cond_type"),
        (("model.discriminator.dummy_c", True), "D cfg.dummy_c=True"),
        # reached through two interpolations: sampling.max_num_frames -> dataset.max_num_frames
        (("dataset.max_num_frames", 48), "D cfg.sampling.max_num_frames=48"),
        (("G_ema", "synthesis_kwargs.architecture", "resnet"), "G synthesis_kwargs.architecture"),
        (("G_ema", "mapping_kwargs.embed_features", 8), "G mapping_kwargs.embed_features=8"),
        (("D", "epilogue_kwargs.mbstd_group_size", None), "D epilogue_kwargs.mbstd_group_size"),
        (("D", "mapping_kwargs.lr_multiplier", 0.1), "D mapping_kwargs.lr_multiplier=0.1"),
    ],
)
def test_unrepresentable_config_is_refused_naming_the_field(
    monkeypatch, fixture, tmp_path, edit, field
):
    path = tmp_path / "odd.pkl"
    edits = dict(config_edits=[edit]) if len(edit) == 2 else dict(kwargs_edits=[edit])
    path.write_bytes(official_pickle(monkeypatch, fixture, **edits))
    with pytest.raises(OfficialCheckpointError) as e:
        convert_official(path, tmp_path / "out.pt")
    msg = str(e.value)
    assert "\n" not in msg and str(path) in msg and field in msg, msg
    assert "cannot be represented in svlib" in msg
    assert not (tmp_path / "out.pt").exists()


# ----------------------------------------------------------------------------------------------
# The command line


def _svlib(capsys, *args):
    """`python -m svlib ARGS` in this process: (status, stdout, stderr)."""
    from svlib.__main__ import main

    capsys.readouterr()
    rc = main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


def test_cli_convert_then_generate(capsys, official_pkl, tmp_path):
    out = tmp_path / "converted.pt"
    rc, stdout, stderr = _svlib(capsys, "convert", str(official_pkl), str(out))
    assert rc == 0, stderr
    assert str(out) in stdout and "G_ema" in stdout
    frames = tmp_path / "frames"
    rc, _, stderr = _svlib(capsys, "generate", "--ckpt", str(out), "--out", str(frames),
                           "--seconds", "0.2", "--fps", "10", "--device", "cpu")  # fmt: skip
    assert rc == 0, stderr
    assert len(list(frames.glob("*.png"))) == 2


def test_cli_refusal_is_one_line_with_status_2(capsys, tmp_path):
    marker = tmp_path / "it-ran"
    path = tmp_path / "evil.pkl"
    path.write_bytes(_bad_pickles(marker)["os.system"][0])
    rc, _, stderr = _svlib(capsys, "convert", str(path), str(tmp_path / "out.pt"))
    assert rc == 2
    lines = stderr.strip().splitlines()
    assert (
        len(lines) == 1 and lines[0].startswith("svlib convert: error:") and "refused" in lines[0]
    )
    assert not marker.exists() and not (tmp_path / "out.pt").exists()


# ----------------------------------------------------------------------------------------------
# The fixture itself, from the official code (only where a checkout is named)


@pytest.mark.skipif(
    not os.environ.get("SVLIB_OFFICIAL_REPO"),
    reason="SVLIB_OFFICIAL_REPO (a stylegan-v checkout, omegaconf importable) is not set",
)
def test_fixture_tool_rebuilds_the_committed_fixture(fixture, tmp_path):
    import json
    import subprocess

    root = Path(__file__).resolve().parents[1]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
    }
    out, res = tmp_path / "fixture.pt", tmp_path / "result.json"
    tool = root / "tools" / "official_fixture.py"
    r = subprocess.run(
        [sys.executable, str(tool), "tiny", "--fixture", str(out), "--json", str(res)],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    assert max(json.loads(res.read_text())["max_abs_diff"].values()) <= 1e-4
    again = torch.load(out, weights_only=True)
    assert again["globals"] == fixture["globals"]
    for k, v in fixture["outputs"].items():
        assert torch.allclose(again["outputs"][k], v, atol=1e-6), k
