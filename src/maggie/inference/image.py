"""``ImageMatter``: one image + one mask per person → one alpha matte per person."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from ..errors import InputError
from ..models import MaGGIe
from .preprocess import Geometry, as_masks, as_rgb_u8, prepare_image, prepare_masks, resolve_device, restore_alpha

__all__ = ["ImageMatter"]


class ImageMatter:
    """Predict per-instance alpha mattes for images, at the image's own resolution.

    By default this reproduces the reference evaluation: resize the short side to
    ``short_side``, pad to a multiple of 64, normalise, give the model the masks sampled at 1/8,
    and map the result back (see :mod:`maggie.inference.preprocess`).

    More instances than the model's slots (10) are run in groups of at most 10, in order; each
    group is a separate forward pass that does not see the other groups' masks. An instance
    whose mask is empty gets an all-zero alpha (it still occupies its slot in the forward pass,
    so the other instances are predicted exactly as the reference would).

    Args:
        model: a MaGGIe image model with weights loaded.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, … or ``"auto"``.
        short_side: network input short side; None keeps the original size (padded to 64).
        mask_downscale: sample the guidance masks at 1/8 like the reference evaluation; False
            gives the model full-resolution masks (the reference demo's choice).
        band_kernel: override the uncertainty-band kernel (default: the model's, 30).
    """

    def __init__(
        self,
        model: MaGGIe,
        *,
        device: str | torch.device = "cpu",
        short_side: int | None = 576,
        mask_downscale: bool = True,
        band_kernel: int | None = None,
    ) -> None:
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.short_side = short_side
        self.mask_downscale = mask_downscale
        self.band_kernel = band_kernel

    @torch.inference_mode()
    def predict(self, image: np.ndarray | Image.Image, masks: np.ndarray) -> np.ndarray:
        """Alpha mattes for one image.

        Args:
            image: ``H×W×3`` uint8 RGB array or a PIL image.
            masks: ``N×H×W`` instance masks (bool; 0/1 or 0/255 integers are accepted).

        Returns:
            ``N×H×W`` float32 alphas in [0, 1].
        """
        rgb = as_rgb_u8(image)
        inst = as_masks(masks, rgb.shape[:2])
        present = inst.reshape(inst.shape[0], -1).any(axis=1)
        if not present.any():
            raise InputError("masks: every instance mask is empty")
        geometry = Geometry.for_size(*rgb.shape[:2], self.short_side)
        x = prepare_image(rgb, geometry).to(self.device)[None, None]
        m = prepare_masks(inst, geometry, downscale=self.mask_downscale).to(self.device)
        slots = self.model.config.max_instances
        parts = []
        for start in range(0, m.shape[0], slots):
            group = m[start : start + slots]
            if not present[start : start + slots].any():
                parts.append(torch.zeros(group.shape[0], *geometry.network, device=self.device))
                continue
            out = self.model(x, group[None, None], band_kernel=self.band_kernel)
            parts.append(out.alpha[0, 0])
        alpha = restore_alpha(torch.cat(parts), geometry)
        alpha[~present] = 0.0
        return alpha
