"""Slot scattering, transition band and temporal-sparsity targets on hand-made examples."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from maggie.data.targets import (
    alpha_edges,
    random_slots,
    scatter_to_slots,
    sparsity_target,
    transition_target,
    within_distance,
)


def test_random_slots_are_distinct_and_seeded():
    slots = random_slots(4, 10, np.random.default_rng(0))
    assert len(set(slots.tolist())) == 4 and slots.max() < 10
    assert np.array_equal(slots, random_slots(4, 10, np.random.default_rng(0)))
    seen = {tuple(random_slots(2, 10, np.random.default_rng(s)).tolist()) for s in range(20)}
    assert len(seen) > 10  # not tied to a fixed position
    with pytest.raises(ValueError):
        random_slots(11, 10, np.random.default_rng(0))


def test_scatter_to_slots_places_instances_and_zero_fills():
    x = torch.arange(2 * 3 * 2 * 2, dtype=torch.float32).reshape(2, 3, 2, 2) + 1
    out = scatter_to_slots(x, [7, 0, 4], 10)
    assert out.shape == (2, 10, 2, 2)
    assert torch.equal(out[:, 7], x[:, 0]) and torch.equal(out[:, 0], x[:, 1]) and torch.equal(out[:, 4], x[:, 2])
    empty = [k for k in range(10) if k not in (7, 0, 4)]
    assert out[:, empty].abs().sum() == 0
    assert scatter_to_slots(torch.zeros(1, 0, 2, 2), [], 10).shape == (1, 10, 2, 2)


def test_alpha_edges_and_distance_band():
    alpha = torch.zeros(1, 1, 9, 20)
    alpha[..., 10:] = 1.0  # hard vertical edge between columns 9 and 10
    edges = alpha_edges(alpha)[0, 0]
    assert torch.equal(edges[4].nonzero().flatten(), torch.tensor([9, 10]))
    assert not alpha_edges(alpha + 1e-4).logical_xor(alpha_edges(alpha)).any()  # 8-bit levels only
    point = torch.zeros(7, 7, dtype=torch.bool)
    point[3, 3] = True
    assert torch.equal(within_distance(point, 2), F.pad(torch.ones(5, 5, dtype=torch.bool), (1, 1, 1, 1)))
    assert within_distance(torch.zeros(2, 5, 5, dtype=torch.bool), 3).sum() == 0


def test_transition_band_of_a_step_edge():
    alpha = torch.zeros(1, 1, 9, 20)
    alpha[..., 10:] = 1.0
    band = transition_target(alpha, radius=2)[0, 0]
    assert band.dtype == torch.float32
    assert all(torch.equal(row.nonzero().flatten(), torch.arange(7, 13)) for row in band)
    ramp = torch.linspace(0, 1, 20).expand(1, 1, 9, 20)  # soft alpha: a wide transition
    assert transition_target(ramp, radius=0).min() == 1
    assert transition_target(torch.full((1, 1, 6, 6), 0.5), radius=3).sum() == 0  # uniform: none
    assert transition_target(torch.zeros(1, 1, 6, 6), radius=3).sum() == 0


def test_sparsity_marks_changes_and_first_frame():
    alpha = torch.zeros(3, 2, 16, 16)
    alpha[:, 0, 4:8, 4:8] = 1.0
    alpha[1:, 0, 4:8, 8:10] = 1.0  # instance 0 grows at frame 1
    alpha[2, 1, 12, 12] = 0.01  # below the threshold 5/255
    alpha[2, 1, 0, 0] = 0.5  # instance 1 appears at frame 2
    s = sparsity_target(alpha, threshold=5 / 255, radius=1)
    assert s.shape == (3, 1, 16, 16)
    assert s[0].min() == 1  # frame 0: everything
    assert torch.equal(s[1, 0].nonzero().min(0).values, torch.tensor([3, 7]))  # change grown by 1 px
    assert torch.equal(s[1, 0].nonzero().max(0).values, torch.tensor([8, 10]))
    assert s[1, 0].sum() == 6 * 4
    assert s[2, 0, :2, :2].sum() == 4 and s[2, 0].sum() == 4  # only the new instance's pixel
