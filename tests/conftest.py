"""Shared test fixtures: golden cases and models with the fixtures' deterministic weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import maggie
from maggie.weights import FIXTURE_MULTIPLIERS, synthetic_reference_weights

# One thread: the golden outputs were computed single-threaded (other thread counts change the
# float summation order, which the ×32 token gain of the fixture weights amplifies), results are
# reproducible, and small tensors run faster without threading overhead.
torch.set_num_threads(1)

FIXTURES = Path(__file__).parent / "fixtures"
OFFICIAL = FIXTURES / "official"


def load_case(name: str) -> dict[str, np.ndarray]:
    with np.load(OFFICIAL / f"{name}.npz") as z:
        return {k: z[k] for k in z.files}


def fixture_model(kind: str, seed: int = 3) -> maggie.models.MaGGIe:
    """The released architecture with the golden fixtures' weights, in eval mode."""
    model = maggie.build_model(f"maggie-{kind}")
    maggie.load_reference_weights(model, synthetic_reference_weights(model, seed=seed, multipliers=FIXTURE_MULTIPLIERS))
    return model.eval()


@pytest.fixture(scope="session")
def image_model() -> maggie.models.MaGGIe:
    return fixture_model("image")


@pytest.fixture(scope="session")
def video_model() -> maggie.models.MaGGIe:
    return fixture_model("video")


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
