"""The training step without host synchronisations: times checked once on the CPU batch, the
statistics kept as device tensors until they are logged, and the same numbers either way."""

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

import svlib
from svlib.data import StepBatches, open_dataset
from svlib.training import TrainingState, step_generator, train_step

DATA = "synthetic:shapes?n=16&length=48"


def _batches(cfg, steps):
    ds = StepBatches(open_dataset(DATA, resolution=16), cfg, cfg.train.batch_size)
    return [ds[s] for s in steps]


class _ScalarReads(TorchDispatchMode):
    """Counts the reads of a tensor value into Python (`.item()`, `bool()`, `float()`, `.tolist()`
    all end in aten._local_scalar_dense) once the network work has begun (the first matrix product
    or convolution): on an accelerator each such read waits for every queued kernel. Reads before
    that are of the host batch and the CPU random stream."""

    NETWORK_OPS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::convolution")

    def __init__(self):
        super().__init__()
        self.count, self.before, self.started = 0, 0, False

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.started = self.started or func._schema.name in self.NETWORK_OPS
        if func is torch.ops.aten._local_scalar_dense.default:
            if self.started:
                self.count += 1
            else:
                self.before += 1
        return func(*args, **(kwargs or {}))


def test_step_reads_no_value_back_when_stats_stay_tensors():
    # without augmentation (AugmentPipe reads p and the transform masks back: see its docs)
    cfg = svlib.get_preset("tiny", ["train.augment.mode=none"])
    state = TrainingState.create(cfg)
    batch = _batches(cfg, [0])[0]
    with _ScalarReads() as reads:
        stats = train_step(state, batch, step_generator(0, 0), sync_stats=False)
    assert reads.count == 0 and reads.before > 0  # the host checks did run
    assert set(stats) == {"loss_G", "loss_D", "D_real", "r1"}  # step 0 is an R1 step
    assert all(isinstance(v, torch.Tensor) and v.ndim == 0 for v in stats.values())
    assert not any(v.requires_grad for v in stats.values())
    # the module checks run as before when G and D are called directly (one read each)
    with _ScalarReads() as reads:
        state.D(torch.zeros(2, 3, 3, 16, 16), torch.tensor([[0.0, 1.0, 3.0]] * 2))
    assert reads.count + reads.before == 1


def test_tensor_stats_equal_float_stats():
    cfg = svlib.get_preset("tiny")
    a, b = TrainingState.create(cfg), TrainingState.create(cfg)
    for step, batch in enumerate(_batches(cfg, range(2))):
        sa = train_step(a, batch, step_generator(0, step))
        sb = train_step(b, batch, step_generator(0, step), sync_stats=False)
        assert all(isinstance(v, float) for v in sa.values())
        assert sa == {k: v.item() for k, v in sb.items()}


@pytest.mark.parametrize(
    "key,times,match",
    [
        ("t", [0.0, 2.0, 66.0], "max_time_gap"),  # real gap 64 >= max_time_gap 64
        ("t_fake", [0.0, 5.0, 3.0], "ascending"),
        ("t_fake", [-4.0, -2.0, 0.0], "finite and >= 0"),
        ("t_fake", [0.0, 1.0, float("nan")], "finite|ascending"),
    ],
)
def test_bad_times_are_refused_before_the_step(key, times, match):
    cfg = svlib.get_preset("tiny")
    state = TrainingState.create(cfg)
    batch = _batches(cfg, [0])[0]
    batch[key] = torch.tensor([times] * cfg.train.batch_size)
    before = [p.detach().clone() for p in state.D.parameters()]
    with pytest.raises(ValueError, match=match):
        train_step(state, batch, step_generator(0, 0))
    # refused before any update: nothing is lost
    assert state.step == 0
    assert all(torch.equal(p0, p) for p0, p in zip(before, state.D.parameters()))


def test_unknown_compile_mode_is_named():
    cfg = svlib.get_preset("tiny")
    cfg.train.compile_mode = "fastest"
    with pytest.raises(svlib.checks.UsageError, match="compile_mode"):
        TrainingState.create(cfg)
    with pytest.raises(ValueError, match="compile_mode"):
        svlib.get_preset("tiny", ["train.compile_mode=fastest"])


def test_compiled_step_keeps_one_motion_z_length():
    """Under compile every step pads motion_z to one length, so graphs are traced once, not once
    per new t_max (tracing only: the "eager" backend compiles nothing)."""
    import torch._dynamo
    from torch._dynamo.utils import counters

    from svlib.motion import motion_z_length

    cfg = svlib.get_preset("tiny", ["train.compile=true"])
    state = TrainingState.create(cfg)
    torch._dynamo.reset()
    state.G_fwd = torch.compile(state.G, backend="eager")
    state.D_fwd = torch.compile(state.D, backend="eager")
    batches = _batches(cfg, range(6))
    lengths = {motion_z_length(cfg.G.motion, float(b["t_fake"].max())) for b in batches}
    assert len(lengths) > 1  # without the padding, each new length would trace new graphs
    graphs = []
    for step, batch in enumerate(batches):
        train_step(state, batch, step_generator(0, step), sync_stats=False)
        graphs.append(counters["stats"]["unique_graphs"])
    # step 0 (an R1 step) traced every graph there is: G with and without grad, D frozen and not
    assert graphs[0] > 0 and graphs[0] == graphs[-1], graphs
