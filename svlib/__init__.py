"""svlib: StyleGAN-V (continuous-time video GAN) in compact pure PyTorch.

cfg = svlib.get_preset("cpu")                 # paper256 | paper1024 | colab | cpu
G, D = svlib.build_models(cfg)
frames = G(z, t)                               # [B, F, 3, H, W] for real-valued t [B, F]
svlib.train(cfg, "synthetic:shapes", "runs/demo")
"""

from .checkpoint import load_generator
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
from .datasets import ClipDataset, open_dataset
from .discriminator import Discriminator
from .generate import (
    content_motion_grid,
    edit_content,
    generate_frames,
    interpolate_content,
    upsample_fps,
)
from .generator import Generator
from .models import build_models, count_params
from .training import train
from .utils import default_device, profile, seed_all

__version__ = "0.1.0"

__all__ = [
    "PRESETS",
    "ClipDataset",
    "Config",
    "Discriminator",
    "DiscriminatorConfig",
    "Generator",
    "GeneratorConfig",
    "MotionConfig",
    "SamplingConfig",
    "TrainConfig",
    "build_models",
    "content_motion_grid",
    "count_params",
    "default_device",
    "edit_content",
    "generate_frames",
    "get_preset",
    "interpolate_content",
    "load_generator",
    "open_dataset",
    "profile",
    "seed_all",
    "train",
    "upsample_fps",
]
