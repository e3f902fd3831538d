"""Fake inputs for model-level tests and benchmarks."""

import torch
from mmaction.structures import ActionDataSample


def fake_batch(
    batch: int, frames: int, size: int, num_classes: int, seed: int = 0
) -> dict:
    """A training batch as the dataloader gives it: uint8 clips + labels.

    Labels are ``seed, seed + 1, ...`` modulo ``num_classes``.
    """
    g = torch.Generator().manual_seed(seed)
    inputs = [
        torch.randint(
            0, 256, (frames, 3, size, size), generator=g, dtype=torch.uint8
        )
        for _ in range(batch)
    ]
    samples = [
        ActionDataSample().set_gt_label((seed + i) % num_classes)
        for i in range(batch)
    ]
    return dict(inputs=inputs, data_samples=samples)
