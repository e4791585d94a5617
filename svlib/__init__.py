"""svlib: StyleGAN-V (continuous-time video GAN) in compact pure PyTorch.

cfg = svlib.get_preset("cpu")                 # paper256 | paper1024 | colab | cpu
G, D = svlib.build_models(cfg)
frames = G(z, t)                               # [B, F, 3, H, W] for real-valued t [B, F]
svlib.train(cfg, "synthetic:shapes", "runs/demo")
"""

from .config import (
    PRESETS,
    Config,
    DiscriminatorConfig,
    GeneratorConfig,
    MotionConfig,
    SamplingConfig,
    TrainConfig,
    get_preset,
)
from .discriminator import Discriminator
from .generator import Generator
from .models import build_models, count_params
from .training import train
from .utils import default_device, profile, seed_all

__version__ = "0.1.0"


def __getattr__(name):
    # Heavier entry points load on first use, so `import svlib` stays quick.
    if name in (
        "generate_frames",
        "content_motion_grid",
        "interpolate_content",
        "edit_content",
        "upsample_fps",
    ):
        from . import generate

        return getattr(generate, name)
    if name in ("open_dataset", "ClipDataset"):
        from . import data

        return getattr(data, name)
    if name == "load_generator":
        from .checkpoint import load_generator

        return load_generator
    raise AttributeError(f"module 'svlib' has no attribute {name!r}")
