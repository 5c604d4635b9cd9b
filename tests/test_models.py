"""Model zoo: the papers' parameter counts, layouts and the generic builders."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lib.nets import models


def _dense(*widths: int) -> int:
    """Parameters of a fully connected net with biases: sum of (n_in + 1) n_out."""
    return sum((a + 1) * b for a, b in zip(widths[:-1], widths[1:], strict=True))


# Published counts: paper1.md section 1.3 (E1, E4, E5, E6, E7) and paper2.md section 2.2 (VGG-16).
@pytest.mark.parametrize(
    ("name", "shape", "classes", "count"),
    [
        ("logistic", (1, 28, 28), 10, 7_850),
        ("mlp", (1, 28, 28), 10, 9_960),
        ("mlp_deep", (1, 28, 28), 10, 20_060),
        ("lenet_small", (3, 32, 32), 10, 19_217),
        ("bike_mlp", (13,), 1, 16_601),
        ("vgg16", (3, 32, 32), 10, 15_245_130),
        ("vgg16", (3, 32, 32), 100, 15_291_300),
    ],
)
def test_published_parameter_counts(name: str, shape: tuple, classes: int, count: int) -> None:
    assert models.num_params(models.build(name, input_shape=shape, num_classes=classes)) == count


def test_counts_follow_layer_arithmetic() -> None:
    # LeNet-small on 1x28x28: 28 -conv5-> 24 -pool-> 12 -conv5-> 8 -pool-> 4, so 16*4*4 = 256 features
    conv = (1 * 25 + 1) * 6 + (6 * 25 + 1) * 16
    assert models.num_params(models.build("lenet_small", (1, 28, 28), 10)) == conv + _dense(256, 35, 50, 10)
    assert models.num_params(models.build("mlp", (40,), 10, width=2.0)) == _dense(40, 20, 200, 10)
    assert models.num_params(models.mlp([64, 32, 10], "tanh")) == _dense(64, 32, 10)


def test_mlp_layout() -> None:
    net = models.mlp([5, 7, 3], activation="tanh")
    assert [type(m) for m in net] == [nn.Flatten, nn.Linear, nn.Tanh, nn.Linear]
    assert net(torch.zeros(4, 5)).shape == (4, 3)
    assert models.build("mlp", (1, 28, 28))[:-1](torch.zeros(2, 1, 28, 28)).shape == (2, 100)  # penultimate


def test_vgg16_layout_and_init() -> None:
    torch.manual_seed(0)
    net = models.build("vgg16", (3, 32, 32), 10)
    convs = [m for m in net if isinstance(m, nn.Conv2d)]
    assert len(convs) == 13 and sum(isinstance(m, nn.MaxPool2d) for m in net) == 5
    assert not any(isinstance(m, nn.BatchNorm2d) for m in net.modules())
    assert sum(isinstance(m, nn.Dropout) for m in net) == 2
    assert [m.out_features for m in net if isinstance(m, nn.Linear)] == [512, 512, 10]
    # N(0, 2 / (9 * 512)) on the last conv: 2.4 M draws, so the sample std is within ~0.05 % of it
    w = convs[-1].weight.detach()
    assert w.std().item() == pytest.approx((2 / (9 * 512)) ** 0.5, rel=5e-3)
    assert float(convs[-1].bias.detach().abs().max()) == 0.0


def test_vgg16_small_width_runs() -> None:
    net = models.build("vgg16", (3, 32, 32), 100, width=1 / 16)
    assert [m.out_channels for m in net if isinstance(m, nn.Conv2d)][:3] == [4, 4, 8]
    assert net.eval()(torch.zeros(2, 3, 32, 32)).shape == (2, 100)


@pytest.mark.parametrize("blocks", [1, 2])
def test_resnet_small_depth(blocks: int) -> None:
    net = models.build("resnet_small", (3, 32, 32), 10, width=0.5, blocks_per_stage=blocks)
    convs3 = [m for m in net.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    assert len(convs3) + len(linears) == 6 * blocks + 2  # He et al. (2016), CIFAR ResNets
    assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_mlp_widths_counts_and_errors() -> None:
    net = models.build("mlp_widths", (1, 8, 8), 10, widths=[4, 32])
    assert [m.out_features for m in net if isinstance(m, nn.Linear)] == [4, 32, 10]
    assert models.num_params(net) == _dense(64, 4, 32, 10)
    with pytest.raises(ValueError, match="widths"):
        models.build("mlp_widths", (10,))
    with pytest.raises(ValueError, match="positive integers"):
        models.build("mlp_widths", (10,), widths=[3, 0])


def test_resnet_fixup_initialisation() -> None:
    """Fixup (Zhang, Dauphin & Ma 2019, section 3): every block starts as its shortcut (last branch conv zero),
    the first branch conv is He-normal scaled by L^(-1/2) for L blocks."""
    torch.manual_seed(0)
    net = models.build("resnet_small", (1, 32, 32), 10, width=2.0, blocks_per_stage=2)
    blocks = [m for m in net if isinstance(m, models._BasicBlock)]
    x = torch.relu(torch.randn(3, 32, 32, 32))
    assert torch.equal(blocks[1](x), x)  # an identity-shortcut block is the identity on non-negative inputs
    for block in blocks:
        first, last = block.branch[0], block.branch[2]
        assert not last.weight.detach().any() and not last.bias.detach().any()
        w = first.weight.detach().double()
        target = (2.0 / (w[0].numel())) / len(blocks)  # He: 2 / fan_in, Fixup: times L^(-1)
        # relative standard error of a sample variance of n Gaussian draws: sqrt(2 / n); allow 5 of them
        assert abs(float(w.var()) / target - 1) < 5 * (2 / w.numel()) ** 0.5


def test_residual_block_adds_identity() -> None:
    block = models._BasicBlock(4, 4, 1)
    for p in block.branch.parameters():
        nn.init.zeros_(p)
    x = torch.randn(2, 4, 6, 6, generator=torch.Generator().manual_seed(0))
    assert torch.equal(block(x), torch.relu(x))


def test_bad_requests_name_the_problem() -> None:
    with pytest.raises(ValueError, match="unknown model"):
        models.build("alexnet")
    with pytest.raises(ValueError, match="activation"):
        models.mlp([3, 2], activation="swishy")
    with pytest.raises(ValueError, match="too small"):
        models.build("lenet_small", (1, 8, 8))
    with pytest.raises(ValueError, match="multiples of 32"):
        models.build("vgg16", (3, 28, 28))
    with pytest.raises(ValueError, match="width"):
        models.build("mlp", (10,), width=0.0)
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        models.build("lenet_small", (40,))
    with pytest.raises(ValueError, match="num_classes"):
        models.build("mlp", (10,), num_classes=0)
