"""Spectral normalisation with the semantics the released MaGGIe checkpoints were trained with.

The wrapped convolution's weight is stored as ``weight_bar`` with the power-iteration vectors
``weight_u``/``weight_v`` next to it (state-dict keys ``<name>.module.weight_bar`` etc.). Every
forward call runs one power iteration starting from the stored ``u``:
``v = normalize(Wᵀu)``, ``u = normalize(W v)``, ``σ = u·(W v)``, and uses ``W / σ``, where ``W`` is
``weight_bar`` viewed as ``(dim0, -1)`` and normalize divides by ``norm + 1e-12``.

In training the new ``u``/``v`` are written back (standard spectral norm). The reference also
writes them back at inference, which makes a model's output depend on how many calls it has
served; by default we do not (``stateful_eval=False``), so identical inputs give identical
outputs. With converged real checkpoints the two agree to float noise.

A module that the reference calls several times within one forward pass (the video model's
temporal-sparsity predictor, once per frame pair) sees ``u`` advance between those calls.
:func:`chained_power_iterations` reproduces that inside one forward pass without making the
model stateful across passes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["SpectralNorm", "spectral_sigma", "chained_power_iterations"]


def _normalize(x: torch.Tensor) -> torch.Tensor:
    return x / (x.norm() + 1e-12)


def spectral_sigma(weight: torch.Tensor, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One power iteration from ``u``: returns ``(sigma, new_u, new_v)``.

    ``sigma`` carries gradients to ``weight``; ``new_u``/``new_v`` do not.
    """
    w = weight.reshape(weight.shape[0], -1)
    with torch.no_grad():
        v = _normalize(torch.mv(w.t(), u))
        u_new = _normalize(torch.mv(w, v))
    sigma = torch.dot(u_new, torch.mv(w, v))
    return sigma, u_new, v


class SpectralNorm(nn.Module):
    """Wrap a bias-free ``nn.Conv2d`` or ``nn.ConvTranspose2d`` with spectral normalisation.

    Args:
        module: the convolution; its ``weight`` parameter becomes ``module.weight_bar``.
        stateful_eval: also update ``u``/``v`` in eval mode, exactly like the reference.
    """

    def __init__(self, module: nn.Conv2d | nn.ConvTranspose2d, *, stateful_eval: bool = False) -> None:
        super().__init__()
        if module.bias is not None:
            raise ValueError("SpectralNorm here wraps bias-free convolutions only")
        self.module = module
        self.stateful_eval = stateful_eval
        weight = module.weight
        del module._parameters["weight"]
        height = weight.shape[0]
        width = weight[0].numel()
        module.register_parameter("weight_bar", nn.Parameter(weight.detach().clone()))
        module.register_buffer("weight_u", _normalize(torch.randn(height)))
        module.register_buffer("weight_v", _normalize(torch.randn(width)))
        self._chain_u: torch.Tensor | None = None

    def normalized_weight(self) -> torch.Tensor:
        m = self.module
        sigma, u, v = spectral_sigma(m.weight_bar, m.weight_u if self._chain_u is None else self._chain_u)
        if self._chain_u is not None:
            self._chain_u = u
        if self.training or self.stateful_eval:
            with torch.no_grad():
                m.weight_u.copy_(u)
                m.weight_v.copy_(v)
        return m.weight_bar / sigma

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = self.module
        w = self.normalized_weight()
        if isinstance(m, nn.ConvTranspose2d):
            return F.conv_transpose2d(x, w, None, m.stride, m.padding, m.output_padding, m.groups, m.dilation)
        return F.conv2d(x, w, None, m.stride, m.padding, m.dilation, m.groups)


@contextmanager
def chained_power_iterations(module: nn.Module) -> Iterator[None]:
    """Within the block, each call of a :class:`SpectralNorm` inside ``module`` continues the
    power iteration from the ``u`` of its previous call, also in (non-stateful) eval mode."""
    norms = [m for m in module.modules() if isinstance(m, SpectralNorm)]
    for m in norms:
        m._chain_u = m.module.weight_u.detach().clone()
    try:
        yield
    finally:
        for m in norms:
            m._chain_u = None
