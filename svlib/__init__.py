"""svlib: StyleGAN-V (continuous-time video GAN) in compact pure PyTorch."""
from .config import (Config, DiscriminatorConfig, GeneratorConfig, MotionConfig, SamplingConfig,
                     TrainConfig, get_preset, PRESETS)
from .utils import default_device, profile, seed_all

__version__ = "0.1.0"
