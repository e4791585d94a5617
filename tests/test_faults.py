"""Bad input and faults: each is refused with one line naming the culprit (exit status 2, no
traceback), and no stop, kill or bad folder loses a run.

The CLI runs in-process through `svlib.__main__.main`; only the signal tests start a process.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

import svlib
from svlib.__main__ import main
from svlib.checkpoint import CheckpointError, list_snapshots, load_checkpoint, save_checkpoint
from svlib.training import _StopOnSignal, train

DATA = "synthetic:shapes?n=8&length=24"
QUIET = dict(progress=False, sample_frames=2, num_preview=1)


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """A folder with an exported generator, junk files and a TorchScript module."""
    d = tmp_path_factory.mktemp("faults")
    cfg = svlib.get_preset("tiny")
    torch.manual_seed(0)
    G, _ = svlib.build_models(cfg)
    save_checkpoint(d / "g.pt", {"config": cfg.to_dict(), "G_ema": G.state_dict()})
    (d / "junk.pt").write_bytes(b"not a torch file")
    (d / "afile").write_text("a file where a folder is expected")
    torch.jit.script(torch.nn.Linear(2, 2)).save(str(d / "ts.pt"))
    return d


def _cli(argv, capsys):
    rc = main([str(a) for a in argv])
    return rc, capsys.readouterr()


T = ["train", "--preset", "tiny", "--data", DATA, "--steps", "1", "--out"]
G = ["generate", "--ckpt", "{w}/g.pt", "--seconds", "0.2"]
M = ["metrics", "--ckpt", "{w}/g.pt", "--data", DATA, "--num-real", "2", "--num-fake", "2"]
# (argv, text the one error line must contain); {w} is the work folder
BAD = {
    "steps negative": (T + ["{w}/r", "--steps", "-5"], "--steps"),
    "minutes negative": (T + ["{w}/r", "--minutes", "-1"], "--minutes"),
    "kimg negative": (T + ["{w}/r", "--kimg", "-1"], "--kimg"),
    "checkpoint-every 0": (T + ["{w}/r", "--checkpoint-every", "0"], "--checkpoint-every"),
    "sample-every 0": (T + ["{w}/r", "--sample-every", "0"], "--sample-every"),
    "batch 0": (T + ["{w}/r", "--batch", "0"], "--batch"),
    "gamma negative": (T + ["{w}/r", "--gamma", "-1"], "--gamma"),
    "augment-p 2": (T + ["{w}/r", "--augment-p", "2"], "--augment-p"),
    "lr negative": (T + ["{w}/r", "--lr", "-1"], "--lr"),
    "device unknown": (T + ["{w}/r", "--device", "gpu9"], "--device 'gpu9'"),
    "out under a file": (T + ["{w}/afile/run"], "afile is a file"),
    "force with resume": (T + ["{w}/r", "--force", "--resume"], "--force"),
    "resume from exported": (T + ["{w}/r", "--resume", "{w}/g.pt"], "exported"),
    "resume from junk": (T + ["{w}/r", "--resume", "{w}/junk.pt"], "junk.pt"),
    "synthetic bad value": (
        ["train", "--preset", "tiny", "--data", "synthetic:shapes?n=abc", "--out", "{w}/r"],
        "synthetic:shapes?n=abc",
    ),
    "generate gif": (G + ["--out", "{w}/a.gif"], ".gif is not a video format"),
    "generate seconds": (G + ["--out", "{w}/a.mp4", "--seconds", "-1"], "--seconds"),
    "generate fps": (G + ["--out", "{w}/a.mp4", "--fps", "0"], "--fps"),
    "generate num-videos": (G + ["--out", "{w}/a.mp4", "--num-videos", "0"], "--num-videos"),
    "generate unwritable": (G + ["--out", "{w}/afile/a.mp4"], "afile is a file"),
    "generate empty folder": (
        ["generate", "--ckpt", "{w}", "--out", "{w}/a.mp4"],
        "no readable checkpoint",
    ),
    "metrics unwritable out": (
        M + ["--metrics", "params16", "--out", "{w}/afile/m.json"],
        "afile is a file",
    ),
    "metrics num-real": (M + ["--metrics", "params16", "--num-real", "0"], "--num-real"),
    "metrics unknown": (M + ["--metrics", "nope"], "unknown metrics"),
    "metrics torchscript": (M + ["--metrics", "fvd16", "--i3d", "{w}/ts.pt"], "TorchScript"),
    "metrics broken i3d": (M + ["--metrics", "fvd16", "--i3d", "{w}/junk.pt"], "junk.pt"),
    "metrics broken inception": (
        M + ["--metrics", "fid", "--inception", "{w}/junk.pt"],
        "junk.pt",
    ),
    "metrics no inception": (M + ["--metrics", "fid"], "--inception PATH"),
    "prepare max-videos": (
        ["prepare", "{w}", "{w}/d", "--resolution", "16", "--max-videos", "0"],
        "--max-videos",
    ),
    "export onto itself": (["export", "{w}/g.pt", "{w}/g.pt"], "is the source checkpoint"),
    "convert not torchscript": (["convert-i3d", "{w}/g.pt", "{w}/o.pt"], "not a TorchScript"),
    "unknown option": (T + ["{w}/r", "--stepz", "3"], "--stepz"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_one_named_line(case, work, capsys):
    argv, culprit = BAD[case]
    rc, cap = _cli([a.replace("{w}", str(work)) for a in argv], capsys)
    lines = cap.err.strip().splitlines()
    assert rc == 2 and len(lines) == 1, cap.err
    assert "error:" in lines[0] and culprit in lines[0], lines[0]
    assert "Traceback" not in cap.err + cap.out


def test_python_api_raises_the_same_errors(work):
    cfg = svlib.get_preset("tiny", {"train.checkpoint_every": 0})
    with pytest.raises(ValueError, match="checkpoint-every"):
        train(cfg, DATA, work / "api", **QUIET)
    with pytest.raises(ValueError, match="gif"):
        svlib.generate.generate_to_file(work / "g.pt", work / "x.gif")
    G, _ = svlib.load_generator(work / "g.pt")  # 16² frames
    wrong = svlib.open_dataset(DATA, resolution=32)
    with pytest.raises(ValueError, match="resolution 32 but the generator makes 16"):
        svlib.metrics.calc_metrics(G, wrong, ["params16"], max_real=2, num_gen=2)
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        svlib.metrics.load_i3d(str(work / "nope.pt"))


def test_run_folder_holds_one_run(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--preset", "tiny", "--data", DATA, "--out", out, "--steps", "2"]
    assert _cli(args, capsys)[0] == 0
    before = load_checkpoint(out / "checkpoint-0000002.pt")["G"]
    rc, cap = _cli(args[:-1] + ["3", "--seed", "7"], capsys)  # another run into the same folder
    assert rc == 2 and "already holds a run" in cap.err and "--resume" in cap.err
    after = load_checkpoint(out / "checkpoint-0000002.pt")["G"]
    assert all(torch.equal(before[k], after[k]) for k in before)  # nothing was overwritten
    assert _cli(args[:-1] + ["3", "--resume"], capsys)[0] == 0
    assert [p.name for p in list_snapshots(out)][-1] == "checkpoint-0000003.pt"
    assert _cli(args + ["--force", "--seed", "7"], capsys)[0] == 0  # explicit start-over
    assert [p.name for p in list_snapshots(out)] == ["checkpoint-0000002.pt"]
    assert json.loads((out / "config.json").read_text())["train"]["seed"] == 7
    # the run folder is a stable name for its newest checkpoint
    rc, cap = _cli(
        ["generate", "--ckpt", out, "--out", tmp_path / "v.mp4", "--seconds", "0.2"], capsys
    )
    assert rc == 0 and (tmp_path / "v.mp4").stat().st_size > 0


def test_resume_trims_the_log_and_removes_temporaries(tmp_path):
    cfg = svlib.get_preset("tiny", {"train.checkpoint_every": 2})
    train(cfg, DATA, tmp_path, steps=5, **QUIET)
    (tmp_path / "checkpoint-0000005.pt").unlink()  # as if killed after step 5's log line
    (tmp_path / "checkpoint-0000004.pt").unlink()
    stale = tmp_path / "checkpoint-0000006.pt.x1y2.tmp"  # a kill during a checkpoint write
    stale.write_bytes(b"half")
    with open(tmp_path / "log.jsonl", "a") as f:
        f.write('{"step": 6, "loss_G"')  # a kill mid-line
    train(cfg, DATA, tmp_path, steps=6, resume=True, **QUIET)
    steps = [json.loads(s)["step"] for s in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6] and not stale.exists()


def test_resume_without_a_readable_checkpoint_stops(tmp_path):
    cfg = svlib.get_preset("tiny")
    train(cfg, DATA, tmp_path, steps=2, **QUIET)
    for p in list_snapshots(tmp_path):
        p.write_bytes(p.read_bytes()[:100])
    with pytest.warns(UserWarning), pytest.raises(CheckpointError, match="none of the 1"):
        train(cfg, DATA, tmp_path, steps=3, resume=True, **QUIET)


def test_second_ctrl_c_aborts_at_once():
    with _StopOnSignal(1, torch.device("cpu")) as stop:
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.requested()  # the first asks for a checkpoint and a clean stop
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)  # the handler runs between bytecodes; never reached
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_writes_a_checkpoint_that_resumes_exactly(tmp_path, sig):
    # the same number of threads as the in-process runs below: CPU kernels may sum in another
    # order with another thread count, and bit-exactness is promised for the same set-up
    threads = str(torch.get_num_threads())
    out, env = tmp_path / "run", {**os.environ, "OMP_NUM_THREADS": threads}
    args = ["train", "--preset", "tiny", "--data", DATA, "--out", str(out), "--steps", "100000"]
    p = subprocess.Popen(
        [sys.executable, "-m", "svlib", *args], stderr=subprocess.PIPE, text=True, env=env
    )
    log = out / "log.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and (not log.exists() or len(log.read_text().splitlines()) < 2):
        time.sleep(0.05)
    p.send_signal(sig)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 128 + sig and "Traceback" not in err, err[-2000:]
    assert "continue with --resume" in err
    (stopped,) = list_snapshots(out)
    step = load_checkpoint(stopped)["state"]["step"]
    assert step >= 2
    cfg = svlib.get_preset("tiny")
    train(cfg, DATA, out, steps=step + 1, resume=True, **QUIET)
    train(cfg, DATA, tmp_path / "ref", steps=step + 1, **QUIET)
    a = load_checkpoint(out / f"checkpoint-{step + 1:07d}.pt")
    b = load_checkpoint(tmp_path / "ref" / f"checkpoint-{step + 1:07d}.pt")
    for name in ("G", "D", "G_ema"):
        assert all(torch.equal(a[name][k], b[name][k]) for k in a[name]), name


def test_prepare_failure_leaves_no_dataset_that_trains(tmp_path, capsys):
    from svlib.video_io import write_video

    src = tmp_path / "raw"
    frames = torch.randint(0, 255, (8, 16, 16, 3), dtype=torch.uint8).numpy()
    write_video(src / "good.mp4", frames, fps=8)
    (src / "broken.mp4").write_bytes((src / "good.mp4").read_bytes()[:300])
    rc, cap = _cli(["prepare", src, tmp_path / "d", "--resolution", "16"], capsys)
    assert rc == 2 and "broken" in cap.err.strip().splitlines()[-1]
    args = ["train", "--preset", "tiny", "--data", tmp_path / "d", "--out", tmp_path / "r"]
    rc, cap = _cli(args, capsys)
    assert rc == 2 and "incomplete" in cap.err
