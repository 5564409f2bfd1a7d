"""Sparse convolution on sets of active pixels, in pure PyTorch (no spconv, any device).

MaGGIe refines its coarse mattes only inside a thin uncertainty band. The released model does
this with spconv; this module computes the same layers with gather → matrix multiply, so time
and memory grow with the number of active pixels, not with the image area:

* :class:`ActiveSites` — the active pixels of a ``(batch, H, W)`` grid at one scale, in
  row-major order, with neighbour tables built lazily from an index grid. ``coarsen()`` gives
  the next scale's set, a 3×3 / stride-2 / pad-1 max-pool of this one (what a strided sparse
  convolution produces).
* :class:`SparseMap` — features ``(M, C)`` on an :class:`ActiveSites`.
* :class:`DenseMap` / :class:`DenseSites` — the same computation on dense ``(batch, C, H, W)``
  tensors that are zero outside a mask. Slower, but simple: used to check the sparse path and
  for export.

Layers (weights in spconv's KRSC layout ``(C_out, kh, kw, C_in)``, as stored in the checkpoints):

* :class:`SubMConv2d` — submanifold convolution: output only at the input's active sites.
  A 3×3 one is an ordinary cross-correlation over active neighbours. A 1×1 one computes
  ``x @ W.reshape(C_in, C_out)``: spconv's 1×1 fast path reinterprets the KRSC memory instead
  of transposing it, and the released weights were trained that way.
* :class:`SparseInverseConv2d` — the transposed 3×3 / stride-2 convolution from a coarse set
  to the finer set it was pooled from.
* :class:`SparseBatchNorm` — batch norm over active sites only.
* :class:`MapActivation` — an element-wise activation applied to the features.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "ActiveSites",
    "DenseSites",
    "SparseMap",
    "DenseMap",
    "FeatureMap",
    "Sites",
    "build_pyramid",
    "SubMConv2d",
    "SparseInverseConv2d",
    "SparseBatchNorm",
    "MapActivation",
    "gather_frames",
    "concat",
    "multiply",
    "pointwise",
    "to_dense",
]

# Limit on gathered elements per chunk, so the im2col buffer stays near 64 MB.
_GATHER_CHUNK_ELEMENTS = 1 << 24
_OFFSETS = torch.tensor([(ky, kx) for ky in range(3) for kx in range(3)], dtype=torch.long)


class ActiveSites:
    """Active pixels ``(b, y, x)`` of a ``(batch, H, W)`` boolean mask, in row-major order.

    Neighbour tables come from an int32 index grid (4 bytes per pixel and slice, built once per
    scale, less than the float alpha maps the model returns): constant-time lookups. Features
    and all convolution arithmetic live on the active sites only.

    Args:
        mask: ``(batch, H, W)`` bool.
    """

    def __init__(self, mask: torch.Tensor) -> None:
        self.mask = mask
        self.batch, self.height, self.width = mask.shape
        self.coords = torch.nonzero(mask).contiguous()
        self.finer: ActiveSites | None = None
        self._grid: torch.Tensor | None = None
        self._neighbours: torch.Tensor | None = None
        self._sources: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] | None = None

    def __len__(self) -> int:
        return int(self.coords.shape[0])

    def coarsen(self) -> ActiveSites:
        """The set produced by a 3×3, stride-2, padding-1 sparse convolution (a max-pool)."""
        pooled = F.max_pool2d(self.mask[:, None].to(torch.float32), kernel_size=3, stride=2, padding=1)
        coarse = ActiveSites(pooled[:, 0] > 0)
        coarse.finer = self
        return coarse

    def _index_grid(self) -> torch.Tensor:
        """``(batch, H + 2, W + 2)`` site index of every pixel, ``len(self)`` where inactive
        (including a one-pixel frame, so 3×3 lookups never leave the grid)."""
        if self._grid is None:
            m = len(self)
            device = self.mask.device
            grid = torch.full((self.batch, self.height + 2, self.width + 2), m, dtype=torch.int32, device=device)
            c = self.coords
            grid[c[:, 0], c[:, 1] + 1, c[:, 2] + 1] = torch.arange(m, dtype=torch.int32, device=device)
            self._grid = grid
        return self._grid

    def _flat_index(self, b: torch.Tensor, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return (b * (self.height + 2) + y + 1) * (self.width + 2) + x + 1

    def neighbour_table(self) -> torch.Tensor:
        """``(M, 9)`` index of the 3×3 neighbours (row-major kernel order), ``M`` if inactive."""
        if self._neighbours is None:
            grid = self._index_grid().reshape(-1)
            c = self.coords
            centre = self._flat_index(c[:, 0], c[:, 1], c[:, 2])
            offsets = (_OFFSETS[:, 0] - 1) * (self.width + 2) + (_OFFSETS[:, 1] - 1)
            # Tables are int64: index_select gathers faster with 64-bit indices.
            self._neighbours = grid[centre[:, None] + offsets.to(centre.device)[None, :]].long()
        return self._neighbours

    def source_groups(self) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """How the transposed convolution to the finer set gathers from this set.

        Finer row ``y`` receives coarse row ``Y`` through kernel row ``ky = y - 2Y + 1``, so an
        even ``y`` only uses ``ky = 1`` and an odd one ``ky ∈ {0, 2}`` (same for columns). The
        finer sites are split by row/column parity into four groups with 1, 2, 2 and 4 taps;
        each group is ``(finer site indices, kernel tap indices, (sites, taps) source table)``
        with ``len(self)`` marking an absent source.
        """
        if self.finer is None:
            raise ValueError("this level has no finer level to up-sample to")
        if self._sources is None:
            grid = self._index_grid().reshape(-1)
            fine = self.finer.coords
            device = fine.device
            parity = (fine[:, 1] % 2) * 2 + fine[:, 2] % 2
            groups = []
            for py in (0, 1):
                for px in (0, 1):
                    rows = torch.nonzero(parity == py * 2 + px).squeeze(1)
                    ky = torch.tensor([1] if py == 0 else [0, 2], device=device)
                    kx = torch.tensor([1] if px == 0 else [0, 2], device=device)
                    taps = (ky[:, None] * 3 + kx[None, :]).reshape(-1)
                    sel = fine[rows]
                    # Coarse rows (y + 1 - ky) / 2 may be -1 or H: the grid's frame holds "absent".
                    yc = torch.div(sel[:, 1:2] + 1 - taps // 3, 2, rounding_mode="floor")
                    xc = torch.div(sel[:, 2:3] + 1 - taps % 3, 2, rounding_mode="floor")
                    groups.append((rows, taps, grid[self._flat_index(sel[:, 0:1], yc, xc)].long()))
            self._sources = groups
        return self._sources


class DenseSites:
    """The dense counterpart of :class:`ActiveSites`: a ``(batch, 1, H, W)`` float 0/1 mask."""

    def __init__(self, mask: torch.Tensor) -> None:
        self.mask = mask
        self.batch, _, self.height, self.width = mask.shape
        self.finer: DenseSites | None = None

    def coarsen(self) -> DenseSites:
        coarse = DenseSites(F.max_pool2d(self.mask, kernel_size=3, stride=2, padding=1))
        coarse.finer = self
        return coarse

    def __len__(self) -> int:
        return int(self.mask.sum().item())


Sites = ActiveSites | DenseSites


@dataclass
class SparseMap:
    """Features ``(M, C)`` at the sites of ``sites``."""

    features: torch.Tensor
    sites: ActiveSites


@dataclass
class DenseMap:
    """Features ``(batch, C, H, W)``, zero outside ``sites.mask``."""

    features: torch.Tensor
    sites: DenseSites


FeatureMap = SparseMap | DenseMap


def build_pyramid(mask: torch.Tensor, levels: int, *, dense: bool = False) -> list[Sites]:
    """Active sets for scales 1, 1/2, …, 1/2^(levels-1) of a ``(batch, H, W)`` bool mask."""
    first: Sites = DenseSites(mask[:, None].float()) if dense else ActiveSites(mask)
    pyramid = [first]
    for _ in range(levels - 1):
        pyramid.append(pyramid[-1].coarsen())
    return pyramid


def _gather_matmul(features: torch.Tensor, table: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``out[i] = Σ_k features[table[i, k]] @ weight[k]`` with index ``len(features)`` = zeros.

    ``weight`` is ``(K·C_in, C_out)``. With fewer output than input channels it is cheaper to
    multiply first and gather the ``C_out``-wide products; otherwise the ``C_in``-wide inputs
    are gathered (im2col) and multiplied once, in chunks that bound the gathered buffer.
    """
    m_out, k = table.shape
    c_in = features.shape[1]
    c_out = weight.shape[1]
    if c_out < c_in:
        products = features @ weight.view(k, c_in, c_out).permute(1, 0, 2).reshape(c_in, k * c_out)
        products = torch.cat((products.view(-1, c_out), products.new_zeros(k, c_out)), dim=0)
        # Row (site, tap) of the products; an absent site reads the zero rows at the end.
        flat = table * k + torch.arange(k, device=table.device)
        return torch.index_select(products, 0, flat.reshape(-1)).view(m_out, k, c_out).sum(dim=1)
    padded = torch.cat((features, features.new_zeros(1, c_in)), dim=0)
    chunk = max(1, _GATHER_CHUNK_ELEMENTS // max(1, k * c_in))
    if m_out <= chunk:
        return torch.index_select(padded, 0, table.reshape(-1)).view(m_out, k * c_in) @ weight
    outs = []
    for start in range(0, m_out, chunk):
        idx = table[start : start + chunk]
        outs.append(torch.index_select(padded, 0, idx.reshape(-1)).view(idx.shape[0], k * c_in) @ weight)
    return torch.cat(outs, dim=0)


def _dense_bias(x: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    return x if bias is None else x + bias.view(1, -1, 1, 1)


class SubMConv2d(nn.Module):
    """Submanifold convolution, kernel 1 or 3, weight ``(C_out, k, k, C_in)`` (KRSC).

    Args:
        in_channels, out_channels: feature sizes.
        kernel_size: 1 or 3. A 1×1 layer reinterprets the weight memory as ``(C_in, C_out)``.
        bias: add a learned bias.
    """

    def __init__(self, in_channels: int, out_channels: int, *, kernel_size: int, bias: bool) -> None:
        super().__init__()
        if kernel_size not in (1, 3):
            raise ValueError(f"kernel_size must be 1 or 3, got {kernel_size}")
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel_size
        k = kernel_size
        bound = (1.0 / (in_channels * k * k)) ** 0.5
        self.weight = nn.Parameter(torch.empty(out_channels, k, k, in_channels).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None

    def forward(self, x: FeatureMap) -> FeatureMap:
        if self.kernel_size == 1:
            matrix = self.weight.reshape(self.in_channels, self.out_channels)
            if isinstance(x, SparseMap):
                out = x.features @ matrix
                return SparseMap(out if self.bias is None else out + self.bias, x.sites)
            out = torch.einsum("bihw,io->bohw", x.features, matrix)
            return DenseMap(_dense_bias(out, self.bias) * x.sites.mask, x.sites)
        if isinstance(x, SparseMap):
            matrix = self.weight.reshape(self.out_channels, -1).t()
            out = _gather_matmul(x.features, x.sites.neighbour_table(), matrix)
            return SparseMap(out if self.bias is None else out + self.bias, x.sites)
        out = F.conv2d(x.features, self.weight.permute(0, 3, 1, 2), self.bias, padding=1)
        return DenseMap(out * x.sites.mask, x.sites)


class SparseInverseConv2d(nn.Module):
    """Transposed 3×3 stride-2 convolution from a coarse set to its finer set (no bias).

    The output sites are exactly the finer set the input's sites were pooled from.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        bound = (4.0 / (in_channels * 9)) ** 0.5
        self.weight = nn.Parameter(torch.empty(out_channels, 3, 3, in_channels).uniform_(-bound, bound))

    def forward(self, x: FeatureMap) -> FeatureMap:
        finer = x.sites.finer
        if finer is None:
            raise ValueError("SparseInverseConv2d needs sites with a finer level")
        if isinstance(x, SparseMap):
            taps_weight = self.weight.reshape(self.out_channels, 9, self.in_channels)
            out = x.features.new_zeros(len(finer), self.out_channels)
            for rows, taps, table in x.sites.source_groups():
                if len(rows):
                    matrix = taps_weight[:, taps].reshape(self.out_channels, -1).t()
                    out = out.index_copy(0, rows, _gather_matmul(x.features, table, matrix))
            return SparseMap(out, finer)
        out = F.conv_transpose2d(x.features, self.weight.permute(3, 0, 1, 2), stride=2, padding=1, output_padding=1)
        return DenseMap(out * finer.mask, finer)


class SparseBatchNorm(nn.BatchNorm1d):
    """Batch norm over the active sites only (statistics in training, affine map in eval)."""

    def forward(self, x: FeatureMap) -> FeatureMap:  # type: ignore[override]
        if isinstance(x, SparseMap):
            return SparseMap(super().forward(x.features), x.sites)
        feats = x.features
        b, c, h, w = feats.shape
        flat = feats.permute(0, 2, 3, 1).reshape(-1, c)
        idx = torch.nonzero(x.sites.mask.reshape(-1)).squeeze(1)
        out = torch.zeros_like(flat).index_copy(0, idx, super().forward(flat.index_select(0, idx)))
        return DenseMap(out.reshape(b, h, w, c).permute(0, 3, 1, 2), x.sites)


def pointwise(x: FeatureMap, fn: Callable[[torch.Tensor], torch.Tensor]) -> FeatureMap:
    """Apply ``fn`` to the channels-last features ``(..., C)`` of every active site."""
    if isinstance(x, SparseMap):
        return SparseMap(fn(x.features), x.sites)
    out = fn(x.features.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
    return DenseMap(out * x.sites.mask, x.sites)


class MapActivation(nn.Module):
    """Apply an element-wise activation module to a feature map's features."""

    def __init__(self, activation: nn.Module) -> None:
        super().__init__()
        self.activation = activation

    def forward(self, x: FeatureMap) -> FeatureMap:
        return pointwise(x, self.activation)


def gather_frames(sites: Sites, dense: torch.Tensor, frame_of_batch: torch.Tensor) -> FeatureMap:
    """Sample per-frame dense features ``(F, C, H, W)`` at the sites; site batch ``b`` reads
    frame ``frame_of_batch[b]``."""
    if isinstance(sites, ActiveSites):
        c = sites.coords
        frames = frame_of_batch[c[:, 0]]
        return SparseMap(dense[frames, :, c[:, 1], c[:, 2]], sites)
    return DenseMap(dense[frame_of_batch] * sites.mask, sites)


def concat(first: FeatureMap, second: FeatureMap) -> FeatureMap:
    """Channel-wise concatenation of two maps on the same sites."""
    if first.sites is not second.sites:
        raise ValueError("can only concatenate maps on the same sites")
    if isinstance(first, SparseMap):
        return SparseMap(torch.cat((first.features, second.features), dim=1), first.sites)
    return DenseMap(torch.cat((first.features, second.features), dim=1), first.sites)


def multiply(first: FeatureMap, second: FeatureMap) -> FeatureMap:
    """Element-wise product of two maps on the same sites."""
    if first.sites is not second.sites:
        raise ValueError("can only multiply maps on the same sites")
    if isinstance(first, SparseMap):
        return SparseMap(first.features * second.features, first.sites)
    return DenseMap(first.features * second.features, first.sites)


def to_dense(x: FeatureMap, fill: float) -> torch.Tensor:
    """``(batch, C, H, W)`` tensor with the features at active sites and ``fill`` elsewhere."""
    if isinstance(x, DenseMap):
        mask = x.sites.mask
        return x.features * mask + fill * (1 - mask)
    s = x.sites
    c = x.features.shape[1]
    out = x.features.new_full((s.batch, s.height, s.width, c), fill)
    out = out.index_put((s.coords[:, 0], s.coords[:, 1], s.coords[:, 2]), x.features)
    return out.permute(0, 3, 1, 2)
