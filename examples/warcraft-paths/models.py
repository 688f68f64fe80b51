"""The benchmark's cost network (Vlastelica et al. 2020; paper appendix D): the first block of
ResNet18 in plain torch (torchvision does not load beside this torch build) — conv 7x7/2 (3 -> 64),
batch norm, ReLU, max-pool 3x3/2, one residual stage of two basic blocks of 64 channels — then
adaptive max-pooling to the 12x12 grid, one output channel (a 1x1 convolution) and softplus, so
every predicted vertex cost is positive."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class BasicBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(x + y)


class CostNet(nn.Module):
    """``cost_init``: the head's bias starts at softplus^-1(cost_init), so the first predicted costs
    are about cost_init (3: the middle of the terrain costs 0.8 .. 9.2) rather than softplus(0) =
    0.69, which noise of scale gamma >= 1/3 pushed below the solver's clamp half the time."""

    def __init__(self, grid: int = 12, cost_init: float = 3.0) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = nn.Sequential(BasicBlock(64), BasicBlock(64))
        self.head = nn.Conv2d(64, 1, 1)
        with torch.no_grad():
            self.head.bias.fill_(float(torch.log(torch.expm1(torch.tensor(float(cost_init))))))
        self.grid = grid

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, 96, 96) float images -> (B, 12, 12) positive costs."""
        x = self.maxpool(F.relu(self.bn1(self.conv1(images))))
        x = self.layer1(x)
        x = F.adaptive_max_pool2d(x, (self.grid, self.grid))
        return F.softplus(self.head(x))[:, 0]
