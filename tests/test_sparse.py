"""Pure-PyTorch sparse convolution = dense masked convolution, forward and backward."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from maggie.models.refinement import SparseRefiner
from maggie.ops.sparse import (
    ActiveSites,
    DenseMap,
    DenseSites,
    SparseBatchNorm,
    SparseInverseConv2d,
    SparseMap,
    SubMConv2d,
    build_pyramid,
    to_dense,
)


def _random_mask(b: int, h: int, w: int, p: float, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, h, w, generator=g) < p


def _pair(mask: torch.Tensor, channels: int, seed: int) -> tuple[SparseMap, DenseMap, torch.Tensor]:
    """The same random features as a sparse map and as a masked dense map (sharing a leaf)."""
    g = torch.Generator().manual_seed(seed)
    dense = torch.randn(mask.shape[0], channels, *mask.shape[1:], generator=g) * mask[:, None]
    leaf = dense.clone().requires_grad_(True)
    sites = ActiveSites(mask)
    c = sites.coords
    sparse = SparseMap(leaf[c[:, 0], :, c[:, 1], c[:, 2]], sites)
    return sparse, DenseMap(leaf * mask[:, None].float(), DenseSites(mask[:, None].float())), leaf


def _grad_of(fn, leaf: torch.Tensor, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    out = fn()
    g = torch.Generator().manual_seed(99)
    (out * torch.randn(out.shape, generator=g)).sum().backward()
    # With no active site nothing reaches the inputs: their gradient is zero.
    grads = tuple(torch.zeros_like(t) if t.grad is None else t.grad.clone() for t in (leaf, weight))
    leaf.grad, weight.grad = None, None
    return out.detach(), grads


@pytest.mark.parametrize("kernel_size", [1, 3])
@pytest.mark.parametrize("density", [0.0, 0.05, 0.4, 1.0])
def test_submanifold_conv_equals_dense_masked_conv(kernel_size: int, density: float) -> None:
    mask = _random_mask(3, 16, 24, density, seed=1)
    conv = SubMConv2d(5, 7, kernel_size=kernel_size, bias=True)
    sparse, dense, leaf = _pair(mask, 5, seed=2)
    out_s, (gx_s, gw_s) = _grad_of(lambda: to_dense(conv(sparse), 0.0), leaf, conv.weight)
    sparse, dense, leaf = _pair(mask, 5, seed=2)
    out_d, (gx_d, gw_d) = _grad_of(lambda: to_dense(conv(dense), 0.0), leaf, conv.weight)
    torch.testing.assert_close(out_s, out_d, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(gx_s, gx_d, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(gw_s, gw_d, atol=1e-4, rtol=1e-5)


def test_submanifold_conv_is_a_cross_correlation_over_active_neighbours() -> None:
    mask = torch.zeros(1, 5, 5, dtype=torch.bool)
    mask[0, 2, 2] = mask[0, 1, 2] = True
    conv = SubMConv2d(1, 1, kernel_size=3, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.arange(9.0).view(1, 3, 3, 1))
    sites = ActiveSites(mask)
    out = conv(SparseMap(torch.tensor([[10.0], [1.0]]), sites))  # (1,2) holds 10, (2,2) holds 1
    # Site (1,2): own value ×w[1,1]=4 plus (2,2) below ×w[2,1]=7 → 40 + 7 = 47.
    # Site (2,2): own ×4 plus (1,2) above ×w[0,1]=1 → 4 + 10 = 14.
    assert out.features.flatten().tolist() == [47.0, 14.0]


def test_one_by_one_conv_reinterprets_the_weight_memory() -> None:
    conv = SubMConv2d(2, 3, kernel_size=1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.arange(6.0).view(3, 1, 1, 2))
    sites = ActiveSites(torch.ones(1, 1, 1, dtype=torch.bool))
    out = conv(SparseMap(torch.tensor([[1.0, 10.0]]), sites))
    # memory 0..5 read as a (C_in=2, C_out=3) matrix [[0,1,2],[3,4,5]]: [1,10] @ it = [30, 41, 52]
    # (a transpose of the KRSC (3, 2) matrix would give [10, 32, 54]).
    assert out.features.flatten().tolist() == [30.0, 41.0, 52.0]


def test_coarsen_is_a_strided_max_pool() -> None:
    mask = _random_mask(2, 32, 48, 0.03, seed=3)
    pyramid = build_pyramid(mask, 4)
    expected = mask[:, None].float()
    for level in pyramid[1:]:
        expected = F.max_pool2d(expected, 3, stride=2, padding=1)
        ours = torch.zeros_like(expected[:, 0], dtype=torch.bool)
        c = level.coords
        ours[c[:, 0], c[:, 1], c[:, 2]] = True
        assert torch.equal(ours, expected[:, 0] > 0)
        assert (level.height, level.width) == tuple(expected.shape[-2:])


@pytest.mark.parametrize("density", [0.02, 0.3])
def test_inverse_conv_equals_masked_transposed_conv(density: float) -> None:
    mask = _random_mask(2, 16, 16, density, seed=4)
    fine = ActiveSites(mask)
    coarse = fine.coarsen()
    coarse_mask = torch.zeros(2, 8, 8, dtype=torch.bool)
    coarse_mask[coarse.coords[:, 0], coarse.coords[:, 1], coarse.coords[:, 2]] = True
    conv = SparseInverseConv2d(4, 6)
    g = torch.Generator().manual_seed(5)
    dense_in = (torch.randn(2, 4, 8, 8, generator=g) * coarse_mask[:, None]).requires_grad_(True)
    c = coarse.coords
    out_s = to_dense(conv(SparseMap(dense_in[c[:, 0], :, c[:, 1], c[:, 2]], coarse)), 0.0)
    out_s.sum().backward()
    grad_s = dense_in.grad.clone()
    dense_in.grad = None
    expected = F.conv_transpose2d(dense_in, conv.weight.permute(3, 0, 1, 2), stride=2, padding=1, output_padding=1)
    expected = expected * mask[:, None]
    expected.sum().backward()
    torch.testing.assert_close(out_s, expected.detach(), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(grad_s * coarse_mask[:, None], dense_in.grad * coarse_mask[:, None])


def test_batch_norm_uses_active_sites_only() -> None:
    mask = _random_mask(2, 8, 8, 0.3, seed=6)
    bn = SparseBatchNorm(3).train()
    sparse, dense, _ = _pair(mask, 3, seed=7)
    out = bn(sparse).features
    torch.testing.assert_close(out.mean(0), torch.zeros(3), atol=1e-5, rtol=0)
    bn_dense = SparseBatchNorm(3).train()
    torch.testing.assert_close(to_dense(bn(sparse), 0.0), to_dense(bn_dense(dense), 0.0), atol=1e-5, rtol=1e-5)


def test_empty_active_set() -> None:
    mask = torch.zeros(2, 16, 16, dtype=torch.bool)
    pyramid = build_pyramid(mask, 4)
    assert all(len(level) == 0 for level in pyramid)
    conv = SubMConv2d(3, 2, kernel_size=3, bias=True)
    out = conv(SparseMap(torch.zeros(0, 3), pyramid[0]))
    assert out.features.shape == (0, 2)
    assert torch.equal(to_dense(out, -99.0), torch.full((2, 2, 16, 16), -99.0))


@pytest.mark.parametrize("training", [False, True])
def test_sparse_refiner_equals_dense_refiner(training: bool) -> None:
    torch.manual_seed(0)
    refiner = SparseRefiner(feature_dim=8, quarter_channels=6, full_channels=4, dropout=0.0).train(training)
    b, t, n, h, w = 1, 2, 3, 64, 64
    features = torch.randn(b * t, 8, h // 8, w // 8, requires_grad=True)
    kernels = torch.randn(b, 10, 8)
    shortcuts = (
        torch.randn(b * t, 4, h, w),
        torch.randn(b * t, 4, h // 2, w // 2),
        torch.randn(b * t, 6, h // 4, w // 4),
    )
    band = torch.zeros(b, t, n, h, w, dtype=torch.bool)
    band[..., 20:30, 10:50] = True
    band[0, 1, 2] = False
    band[0, 0, 1, 40:44, 40:44] = True
    outs, grads = [], []
    for dense in (False, True):
        l4, l1 = refiner(features, kernels, shortcuts, band, dense=dense)
        (l4.tanh().sum() + l1.tanh().sum()).backward()
        outs.append((l4.detach(), l1.detach()))
        grads.append(features.grad.clone())
        features.grad = None
    torch.testing.assert_close(outs[0][0], outs[1][0], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(outs[0][1], outs[1][1], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(grads[0], grads[1], atol=1e-4, rtol=1e-4)
    assert torch.all(outs[0][1][~band] == -99.0)
