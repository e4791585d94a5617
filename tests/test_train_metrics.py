"""Metrics while training (`train.metrics`): log lines, best.pt, exact resume, and `svlib plot`;
with the stand-in detector (no weights needed)."""

import json

import numpy as np
import pytest
import torch
from metric_stand_ins import StatsDetector
from PIL import Image

import svlib
import svlib.metrics.monitor as monitor
from svlib.__main__ import main
from svlib.checkpoint import load_checkpoint
from svlib.checks import UsageError
from svlib.metrics import calc_metrics
from svlib.training import train
from svlib.viz import plot_log, read_log

DATA = "synthetic:shapes?n=16&length=48"
KW = dict(progress=False, sample_frames=4, num_preview=2)


@pytest.fixture
def detector(monkeypatch, tmp_path):
    det = StatsDetector()
    monkeypatch.setattr(monitor, "load_i3d", lambda path=None, **kw: det)
    monkeypatch.setenv("SVLIB_CACHE_DIR", str(tmp_path / "cache"))
    return det


def _cfg(**train):
    over = {"train.log_every": 3, "train.checkpoint_every": 2, "train.metrics_n": 4}
    return svlib.get_preset("tiny", {**over, **{f"train.{k}": v for k, v in train.items()}})


def _log(run):
    return [json.loads(s) for s in (run / "log.jsonl").read_text().splitlines()]


def _weights(path):
    ck = load_checkpoint(path)
    return {f"{m}.{k}": v for m in ("G", "D", "G_ema") for k, v in ck[m].items()}


def test_metrics_logged_best_kept_weights_untouched(tmp_path, detector):
    a, plain = tmp_path / "a", tmp_path / "plain"
    cfg = _cfg(metrics=("fvd16", "kvd16"), metrics_every=2)
    res = train(cfg, DATA, a, steps=6, **KW)
    train(_cfg(), DATA, plain, steps=6, **KW)
    # the evaluations draw nothing from the training streams: the same weights as without them
    wa, wp = _weights(a / "checkpoint-0000006.pt"), _weights(plain / "checkpoint-0000006.pt")
    assert all(torch.equal(wa[k], wp[k]) for k in wp)
    log = _log(a)
    # log_every 3 and metrics_every 2: the metric steps get a line of their own
    assert [r["step"] for r in log] == [2, 3, 4, 6]
    measured = [r for r in log if "fvd16" in r]
    assert [r["step"] for r in measured] == [2, 4, 6]
    assert all(np.isfinite([r["fvd16"], r["kvd16"], r["metrics_sec"]]).all() for r in measured)
    assert all(k in r for r in log for k in ("loss_G", "loss_D", "augment_p"))  # readers' keys
    assert detector.clips == 4 + 3 * 4  # the real clips once, 4 generated clips per evaluation
    fvd = {r["step"]: r["fvd16"] for r in measured}
    best_step = min(fvd, key=fvd.get)
    best = load_checkpoint(a / "best.pt")
    assert best["best"] == {"metric": "fvd16", "n": 4, "value": fvd[best_step], "step": best_step}
    assert res["best"] == best["best"] and res["fvd16"] == fvd[6]
    assert load_checkpoint(a / "checkpoint-0000006.pt")["best"] == best["best"]
    snap = _weights(a / f"checkpoint-{best_step:07d}.pt")
    assert all(torch.equal(v, snap[k]) for k, v in _weights(a / "best.pt").items())
    assert best["state"]["step"] == best_step and "opt_G" in best and "opt_D" in best
    # the logged value is what the metrics API computes on best.pt's G_ema with the same N
    G, _ = svlib.load_generator(a / "best.pt")
    again = calc_metrics(
        G, DATA, ["fvd16"], max_real=4, num_gen=4, detector=StatsDetector(), progress=False
    )
    assert again["fvd16"]["value"] == pytest.approx(fvd[best_step], rel=1e-9)


def test_resume_with_metrics_is_exact(tmp_path, detector):
    full, split = tmp_path / "full", tmp_path / "split"
    cfg = _cfg(metrics=("fvd16",), metrics_every=2)
    train(cfg, DATA, full, steps=4, **KW)
    train(cfg, DATA, split, steps=2, **KW)
    train(cfg, DATA, split, steps=4, resume=True, **KW)
    for name in ("checkpoint-0000004.pt", "best.pt"):
        wf, ws = _weights(full / name), _weights(split / name)
        assert all(torch.equal(wf[k], ws[k]) for k in wf), name
    assert load_checkpoint(full / "best.pt")["best"] == load_checkpoint(split / "best.pt")["best"]
    pick = lambda log: [(r["step"], r["fvd16"]) for r in log if "fvd16" in r]
    assert pick(_log(full)) == pick(_log(split)) and len(pick(_log(full))) == 2


def test_best_survives_resume(tmp_path, detector, monkeypatch):
    """A resumed run never replaces best.pt by a worse evaluation, even when best.pt is newer than
    the checkpoint it resumes from."""
    queue = []
    monkeypatch.setattr(
        monitor.TrainingMetrics, "timed", lambda self, G: ({"fvd16": queue.pop(0)}, 0.0)
    )
    run = tmp_path / "run"
    cfg = _cfg(metrics=("fvd16",), metrics_every=2, checkpoint_every=4)
    queue[:] = [5.0, 4.0, 1.0]  # steps 2, 4, 6
    train(cfg, DATA, run, steps=6, **KW)
    assert load_checkpoint(run / "best.pt")["best"]["step"] == 6
    best_bytes = (run / "best.pt").read_bytes()
    (run / "checkpoint-0000006.pt").unlink()  # killed after best.pt, before the step-6 snapshot
    queue[:] = [2.0, 1.5]  # steps 6 and 9: better than the step-4 checkpoint's best, not best.pt's
    cfg = _cfg(metrics=("fvd16",), metrics_every=3, checkpoint_every=4)
    train(cfg, DATA, run, steps=9, resume=True, **KW)
    assert (run / "best.pt").read_bytes() == best_bytes and not queue
    assert load_checkpoint(run / "checkpoint-0000009.pt")["best"] == {
        "metric": "fvd16",
        "n": 4,
        "value": 1.0,
        "step": 6,
    }
    queue[:] = [0.5]  # step 12: a new best
    train(cfg, DATA, run, steps=12, resume=True, **KW)
    assert load_checkpoint(run / "best.pt")["best"]["step"] == 12
    # another N measures something else: a warning, and best.pt follows the new protocol
    queue[:] = [3.0]
    with pytest.warns(UserWarning, match="metrics_n changed"):
        train(
            _cfg(metrics=("fvd16",), metrics_n=8, metrics_every=3),
            DATA,
            run,
            steps=15,
            resume=True,
            **KW,
        )
    assert load_checkpoint(run / "best.pt")["best"] == {
        "metric": "fvd16",
        "n": 8,
        "value": 3.0,
        "step": 15,
    }


def test_bad_metric_settings_are_refused(tmp_path, detector, capsys):
    with pytest.raises(UsageError, match="train.metrics"):
        train(_cfg(metrics=("fid",)), DATA, tmp_path / "a", steps=2, **KW)
    with pytest.raises(UsageError, match="metrics_every"):
        train(_cfg(metrics=("fvd16",), metrics_every=0), DATA, tmp_path / "b", steps=2, **KW)
    rc = main(
        ["train", "--preset", "tiny", "--data", DATA, "--out", str(tmp_path / "c")]
        + ["--steps", "2", "--metrics", "fvd17"]
    )
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "--metrics" in err and "fvd17" in err
    assert not (tmp_path / "c" / "log.jsonl").exists()


def test_plot_command(tmp_path, detector, capsys):
    pytest.importorskip("matplotlib")  # an optional dependency of svlib (the plotting extras)
    run = tmp_path / "run"
    train(_cfg(metrics=("fvd16",), metrics_every=2), DATA, run, steps=4, **KW)
    # the curves: the metric panel draws the logged values
    fvd = {r["step"]: r["fvd16"] for r in _log(run) if "fvd16" in r}
    line = plot_log(read_log(run)).axes[2].lines[0]
    assert line.get_label() == "fvd16" and list(line.get_ydata()) == [fvd[s] for s in (2, 4)]
    assert main(["plot", str(run)]) == 0
    assert capsys.readouterr().out.strip() == str(run / "curves.png")
    with Image.open(run / "curves.png") as im:
        assert im.size[0] > 2 * im.size[1] > 200  # one wide figure of four panels
    out = tmp_path / "figs" / "c.pdf"
    assert main(["plot", str(run / "log.jsonl"), "--out", str(out)]) == 0 and out.stat().st_size
    for bad in (tmp_path / "nothing", tmp_path):
        rc = main(["plot", str(bad)])
        err = capsys.readouterr().err
        assert rc == 2 and err.count("\n") == 1 and "no log.jsonl" in err and str(bad) in err
