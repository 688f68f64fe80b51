"""The benchmark's CNN (paper appendix D; Grover et al. 2019; Petersen et al. 2021/2022): one scalar
score per 4-digit image."""

from __future__ import annotations

import torch
from torch import nn


class ScoreCNN(nn.Module):
    """conv 5x5 -> 32, ReLU, max-pool 2; conv 5x5 -> 64, ReLU, max-pool 2; FC 64, ReLU; FC -> 1."""

    def __init__(self, digits: int = 4) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 5, padding=2)
        self.conv2 = nn.Conv2d(32, 64, 5, padding=2)
        self.fc1 = nn.Linear(64 * 7 * 7 * digits, 64)
        self.fc2 = nn.Linear(64, 1)
        self.pool = nn.MaxPool2d(2)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(..., 1, 28, 28*digits) -> (...) scores."""
        lead = images.shape[:-3]
        x = images.reshape((-1,) + tuple(images.shape[-3:]))
        x = self.pool(torch.relu(self.conv1(x)))
        x = self.pool(torch.relu(self.conv2(x)))
        x = torch.relu(self.fc1(x.flatten(1)))
        return self.fc2(x).reshape(lead)
