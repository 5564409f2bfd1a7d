"""``VideoMatter``: streaming per-instance video matting of any length in bounded memory.

Default windowing (the reference evaluation's, so outputs match it frame for frame): 3-frame
windows with stride 1. Window ``s`` covers frames ``s, s+1, s+2``; its middle frame is fused
with the previous window's fused middle frame (``prev_alpha``). Frames 0 and 1 come from window
0, frame ``k`` (2 ≤ k ≤ T-2) from the middle of window ``k-1``, and the last frame from the
third output of the last window. Every frame goes through the network three times.

With ``carry_state=True`` the Conv-GRU hidden state also flows from window to window (the
paper's §3.2 description; the released evaluation restarts it from zeros in every window).

The per-frame stages (mask embedding, encoder, ASPP, decoder trunk) see one frame at a time, so
each frame is encoded once and its features are reused by the three windows that contain it;
only the clip-level stages run per window. The result is the same as running every window
from scratch.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import InputError
from ..models import MaGGIe
from ..types import FrameFeatures, TemporalState
from .preprocess import Geometry, as_masks, as_rgb_u8, prepare_image, prepare_masks, resolve_device, restore_alpha

__all__ = ["VideoMatter"]

WINDOW = 3


@dataclass
class _Frame:
    masks: torch.Tensor  # (N, H', W') network masks
    present: np.ndarray  # (N,) bool: the instance's mask is non-empty on this frame
    features: list[FrameFeatures]  # per instance group, computed once for all its windows


class VideoMatter:
    """Predict temporally consistent per-instance alpha mattes for a video, frame by frame.

    Args:
        model: a MaGGIe video model with weights loaded (``build_model("maggie-video")``).
        device: ``"cpu"``, ``"cuda"``, … or ``"auto"``.
        short_side: network input short side; None keeps the original size (padded to 64).
        carry_state: carry the Conv-GRU hidden state across windows.
        band_kernel: override the uncertainty-band kernel.

    Instances are identified by their index in the per-frame mask stacks, which must keep the
    same length over the whole video; an instance absent from a frame has an empty mask there
    and gets an all-zero alpha on that frame. More than 10 instances run in groups of 10.
    """

    def __init__(
        self,
        model: MaGGIe,
        *,
        device: str | torch.device = "cpu",
        short_side: int | None = 576,
        carry_state: bool = False,
        band_kernel: int | None = None,
    ) -> None:
        if not model.is_video:
            raise ValueError("VideoMatter needs a video model: build_model('maggie-video')")
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.short_side = short_side
        self.carry_state = carry_state
        self.band_kernel = band_kernel

    @torch.inference_mode()
    def stream(self, frames: Iterable[np.ndarray], masks: Iterable[np.ndarray]) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(frame_index, alphas)`` in order, ``alphas`` ``N×H×W`` float32.

        Args:
            frames: ``H×W×3`` uint8 RGB frames (any iterable, consumed lazily).
            masks: per frame, ``N×H×W`` instance masks with a fixed ``N``.

        Only the current window (three frames) is held in memory.
        """
        geometry: Geometry | None = None
        count: int | None = None
        window: deque[_Frame] = deque(maxlen=WINDOW)
        states: list[TemporalState] = []
        pending: np.ndarray | None = None
        index = -1
        mask_iter = iter(masks)
        for index, frame in enumerate(frames):
            try:
                frame_masks = next(mask_iter)
            except StopIteration:
                raise InputError(f"masks: no masks for frame {index} (fewer mask frames than video frames)") from None
            rgb = as_rgb_u8(frame, name=f"frame {index}")
            if geometry is None:
                geometry = Geometry.for_size(*rgb.shape[:2], self.short_side)
            elif rgb.shape[:2] != geometry.original:
                first = "×".join(str(v) for v in geometry.original)
                raise InputError(f"frame {index}: size {rgb.shape[0]}×{rgb.shape[1]} differs from frame 0's {first}")
            inst = as_masks(frame_masks, rgb.shape[:2], name=f"masks of frame {index}")
            if count is None:
                count = inst.shape[0]
                groups = range(0, count, self.model.config.max_instances)
                states = [TemporalState() for _ in groups]
            elif inst.shape[0] != count:
                raise InputError(f"masks of frame {index}: {inst.shape[0]} instances, but frame 0 has {count}")
            window.append(self._encode(rgb, inst, geometry))
            if len(window) < WINDOW:
                continue
            alpha = self._run(list(window), states)
            start = index - (WINDOW - 1)
            if start == 0:
                yield 0, self._finish(alpha[0], window[0], geometry)
            yield start + 1, self._finish(alpha[1], window[1], geometry)
            pending = alpha[2]
        if index < 0:
            return
        if len(window) < WINDOW:
            alpha = self._run(list(window), states)
            for i, f in enumerate(window):
                yield i, self._finish(alpha[i], f, geometry)
            return
        yield index, self._finish(pending, window[-1], geometry)

    def _encode(self, rgb: np.ndarray, masks: np.ndarray, geometry: Geometry) -> _Frame:
        image = prepare_image(rgb, geometry).to(self.device)[None, None]
        net_masks = prepare_masks(masks, geometry, downscale=False).to(self.device)
        slots = self.model.config.max_instances
        features = [
            self.model.encode(image, net_masks[None, None, start : start + slots])
            for start in range(0, net_masks.shape[0], slots)
        ]
        return _Frame(net_masks, masks.reshape(masks.shape[0], -1).any(axis=1), features)

    def _run(self, window: list[_Frame], states: list[TemporalState]) -> torch.Tensor:
        """Run one window for every instance group; returns fused alphas ``(T, N, H', W')``."""
        masks = torch.stack([f.masks for f in window])
        slots = self.model.config.max_instances
        parts = []
        for g, start in enumerate(range(0, masks.shape[1], slots)):
            group = masks[:, start : start + slots]
            if not group.any():
                parts.append(torch.zeros_like(group))
                states[g] = TemporalState()
                continue
            features = FrameFeatures.concat([f.features[g] for f in window])
            out = self.model.decode(features, group[None], state=states[g], band_kernel=self.band_kernel)
            hidden = out.hidden[:, 0] if self.carry_state and out.hidden is not None else None
            states[g] = TemporalState(hidden=hidden, prev_alpha=out.alpha[:, 1] if len(window) == WINDOW else None)
            parts.append(out.alpha[0])
        return torch.cat(parts, dim=1)

    @staticmethod
    def _finish(alpha: torch.Tensor, frame: _Frame, geometry: Geometry) -> np.ndarray:
        out = restore_alpha(alpha, geometry)
        out[~frame.present] = 0.0
        return out
