"""The metric registry: every registered name dispatches; unknown names get the list."""

import numpy as np
import pytest
from metric_stand_ins import StatsDetector, TinyGenerator, TinyInception, dots

import svlib.metrics as metrics
from svlib.metrics.registry import METRICS, calc_metrics, register_metric


def test_every_registered_metric_dispatches():
    real, det = dots(4, length=130), StatsDetector()  # fvd128 and params128 need 128 frames
    kw = dict(max_real=4, num_gen=4, batch_size=4, progress=False, device="cpu", seed=0)
    res = calc_metrics(
        TinyGenerator(),
        real,
        list(METRICS),
        detector=det,
        inception=TinyInception(),
        fid_num_gen=32,
        fid_max_real=64,
        drift_length=128,  # continuity reads t up to 101.1
        **kw,
    )
    assert list(res) == list(METRICS)
    for name, r in res.items():
        assert r["metric"] == name and np.isfinite(r["value"]) and r["label"], name
        assert r["seconds"] >= 0
    assert det.clips == 3 * (4 + 4)  # one I3D pass per clip protocol, shared by FVD and KVD
    assert (res["fvd128"]["num_frames"], res["kvd128_sub8"]["stride"]) == (128, 8)
    assert res["fid"]["N_fake"] == 32 and res["drift"]["length"] == 128


def test_metric_list_is_the_registry():
    assert metrics.METRICS is METRICS
    assert {"fvd16", "kvd16", "fvd128_sub8", "fid", "params16", "drift", "continuity"} <= set(
        METRICS
    )
    assert all(m.description for m in METRICS.values())
    with pytest.raises(TypeError):
        METRICS["mine"] = None  # read-only: metrics are added with register_metric
    with pytest.raises(ValueError, match="registered twice"):
        register_metric("fvd16", "again")(lambda G, dataset, *, shared, **kw: {})


def test_unknown_metric_names_list_the_registry():
    with pytest.raises(ValueError, match="unknown metrics") as e:
        calc_metrics(TinyGenerator(), dots(2), ["fvd16", "fvd17"])
    assert "['fvd17']" in str(e.value) and all(name in str(e.value) for name in METRICS)
