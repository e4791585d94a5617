"""svlib: StyleGAN-V (continuous-time video GAN) in compact pure PyTorch.

cfg = svlib.get_preset("cpu")          # paper256 | paper1024 | colab | cpu | tiny
G, D = svlib.build_models(cfg)
frames = G(z, t)                        # [B, F, 3, H, W] for real-valued t [B, F]
svlib.train(cfg, "synthetic:shapes", "runs/demo")

The module map and the path of one training step through the code: svlib/README.md.
"""

from .checkpoint import load_generator
from .config import (
    PRESETS,
    AugmentConfig,
    Config,
    DiscriminatorConfig,
    GeneratorConfig,
    MotionConfig,
    SamplingConfig,
    TrainConfig,
    apply_overrides,
    get_preset,
    resolve_auto,
)
from .data import (
    ClipDataset,
    StepBatches,
    VideoDataset,
    make_synthetic,
    open_dataset,
    prepare_dataset,
)
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
from .training import TrainingState, train, train_step
from .utils import default_device, profile, seed_all

__version__ = "0.1.0"

__all__ = [
    "PRESETS",
    "AugmentConfig",
    "ClipDataset",
    "Config",
    "Discriminator",
    "DiscriminatorConfig",
    "Generator",
    "GeneratorConfig",
    "MotionConfig",
    "SamplingConfig",
    "StepBatches",
    "TrainConfig",
    "TrainingState",
    "VideoDataset",
    "apply_overrides",
    "build_models",
    "content_motion_grid",
    "count_params",
    "default_device",
    "edit_content",
    "generate_frames",
    "get_preset",
    "interpolate_content",
    "load_generator",
    "make_synthetic",
    "open_dataset",
    "prepare_dataset",
    "profile",
    "resolve_auto",
    "seed_all",
    "train",
    "train_step",
    "upsample_fps",
]
