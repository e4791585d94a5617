"""FID InceptionV3: builds, 2048-d features, loads its own state_dict.

It also refuses to run without weights.
"""

import pytest
import torch

from svlib.metrics.inception import FIDInceptionV3, load_inception


def test_untrained_builds_and_gives_2048_features():
    torch.manual_seed(0)
    net = load_inception(None, untrained=True)
    assert net.untrained and "UNTRAINED" in net.name
    x = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)  # any size: resized to 299 inside
    f = net(x)
    assert f.shape == (2, 2048) and torch.isfinite(f).all() and (f[0] != f[1]).any()
    assert (
        sum(p.numel() for p in net.parameters()) == 23_850_960
    )  # torchvision Inception3 (no aux) + 1008-way fc


def test_missing_weights_error_and_state_dict_load(tmp_path):
    with pytest.raises(FileNotFoundError, match="FID needs"):
        load_inception(None)
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        load_inception(str(tmp_path / "missing.pth"))
    sd = FIDInceptionV3().state_dict()
    assert "Mixed_7c.branch3x3dbl_3b.bn.running_var" in sd and sd["fc.weight"].shape == (1008, 2048)
    torch.save(sd, tmp_path / "w.pth")
    net = load_inception(str(tmp_path / "w.pth"))
    assert not net.untrained and "w.pth" in net.name
