"""Score one image or video and aggregate a data set the way each convention does.

A metric's running state is a :class:`Tally` ``(score, count)``. In the reference convention
``score`` is the sum of the per-slice (or per temporal call and instance) values and the reported
value is ``score / (count + 1e-6)``; every slice counts, including all-zero ground truths and
empty trimap regions (which score 0). In the conventional convention ``score`` sums the *defined*
per-slice values, ``count`` counts them and the value is their mean (NaN if none is defined).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..errors import InputError, MaggieError
from .common import REFERENCE, Convention, as_maps, check_convention, trimap
from .image import conn_error_map, diff, grad_error_map, region_mean, region_sum
from .temporal import dtssd, dtssd_pair_error, messddt, messddt_pair_error, pair_flow

__all__ = [
    "Tally",
    "metric_names",
    "slice_tallies",
    "reference_calls",
    "VideoScorer",
    "MetricAccumulator",
    "image_metrics",
    "video_metrics",
]

Kind = Literal["image", "video"]

_SLICE_METRICS = ("MAD", "MSE", "SAD", "Grad", "Conn", "MAD_fg", "MAD_unk", "MAD_bg")
_UNKNOWN_METRICS = ("MSE_unk", "SAD_unk", "Grad_unk", "Conn_unk")
_TEMPORAL_METRICS = ("dtSSD", "MESSDdt")


def metric_names(convention: Convention, kind: Kind) -> tuple[str, ...]:
    """Names of the metrics reported for a convention and a sample kind, in report order."""
    names = _SLICE_METRICS
    if check_convention(convention) != REFERENCE:
        names += _UNKNOWN_METRICS
    if kind == "video":
        names += _TEMPORAL_METRICS
    elif kind != "image":
        raise MaggieError(f"unknown sample kind {kind!r}; expected 'image' or 'video'")
    return names


@dataclass
class Tally:
    """Running ``score`` and ``count`` of one metric."""

    score: float = 0.0
    count: float = 0.0

    def value(self, convention: Convention) -> float:
        """The reported value: ``score / (count + 1e-6)`` (reference) or the mean (conventional)."""
        if convention == REFERENCE:
            return self.score / (self.count + 1e-6)
        return self.score / self.count if self.count else math.nan

    @classmethod
    def of(cls, values: np.ndarray, convention: Convention) -> Tally:
        """Tally per-slice values; the conventional convention leaves undefined (NaN) ones out."""
        v = np.asarray(values, dtype=np.float64).ravel()
        if convention != REFERENCE:
            v = v[~np.isnan(v)]
        return cls(float(v.sum()), float(v.size))


def _merge(into: dict[str, Tally], new: Mapping[str, Tally]) -> None:
    for name, tally in new.items():
        total = into.setdefault(name, Tally())
        total.score += tally.score
        total.count += tally.count


def slice_tallies(pred: np.ndarray, gt: np.ndarray, tri: np.ndarray, convention: Convention) -> dict[str, Tally]:
    """Non-temporal tallies of one metric call over a stack of slices ``(K, H, W)``.

    ``tri`` is the reference trimap of ``gt``. In the reference convention the Grad normalisation
    spans the whole stack, so the stack must be exactly what one reference call sees (an image's
    instances, or the frames × instances of one video window).
    """
    convention = check_convention(convention)
    p, g = as_maps(pred, gt, convention)
    tri = np.asarray(tri)
    if tri.shape != p.shape:
        raise InputError(f"trimap shape {tri.shape} differs from map shape {p.shape}")
    abs_err, sq_err = np.abs(diff(p, g)), np.square(diff(p, g))
    grad_err = grad_error_map(p, g, convention=convention)
    conn_err = conn_error_map(p, g, convention=convention)
    fg, unk, bg = tri == 2, tri == 1, tri == 0
    values = {
        "MAD": region_mean(abs_err, None, convention),
        "MSE": region_mean(sq_err, None, convention),
        "SAD": 1e-3 * region_sum(abs_err, None),
        "Grad": 1e-3 * region_sum(grad_err, None),
        "Conn": 1e-3 * region_sum(conn_err, None),
        "MAD_fg": region_mean(abs_err, fg, convention),
        "MAD_unk": region_mean(abs_err, unk, convention),
        "MAD_bg": region_mean(abs_err, bg, convention),
    }
    if convention != REFERENCE:
        values |= {
            "MSE_unk": region_mean(sq_err, unk, convention),
            "SAD_unk": 1e-3 * region_sum(abs_err, unk),
            "Grad_unk": 1e-3 * region_sum(grad_err, unk),
            "Conn_unk": 1e-3 * region_sum(conn_err, unk),
        }
    return {name: Tally.of(v, convention) for name, v in values.items()}


@dataclass
class _Frame:
    pred: np.ndarray  # (N, H, W)
    gt: np.ndarray  # (N, H, W)
    trimap: np.ndarray  # (N, H, W)
    flow_in: np.ndarray | None  # (N, H, W, 2) from the previous frame's ground truth; None for frame 0


def reference_calls(num_frames: int) -> tuple[list[list[int]], list[list[int]]]:
    """Frame indices of the reference loop's metric calls on a ``num_frames``-frame video.

    The reference scores 3-frame windows with overlap 2: non-temporal calls ``[0], [1], …, [T-4]``
    then ``[T-3, T-2, T-1]`` in one call; temporal calls (dtSSD, MESSDdt) ``[0, 1], …, [T-5, T-4]``
    then ``[T-4, …, T-1]`` in one call. Returns ``(non_temporal, temporal)``.

    The reference cannot evaluate ``T = 4`` and scores no temporal metric for ``T = 3``; here the
    rule is extended: the last call covers frames ``max(T-3, 0) … T-1`` and its temporal call starts
    one frame earlier (``T = 4``: ``[0], [1, 2, 3]`` and ``[0, 1, 2, 3]``; ``T <= 3``: one call with
    all frames, temporal if ``T >= 2``).
    """
    last_start = max(num_frames - 3, 0)
    plain = [[t] for t in range(last_start)] + [list(range(last_start, num_frames))]
    temporal = [[t - 1, t] for t in range(1, last_start)]
    if num_frames >= 2:
        temporal.append(list(range(max(last_start - 1, 0), num_frames)))
    return plain, temporal


class VideoScorer:
    """Scores one video frame by frame, holding at most four frames in memory.

    Reference convention: replays the reference loop's metric calls (:func:`reference_calls`), each
    as soon as its last frame arrives. Conventional convention: every frame is scored on its own and
    dtSSD / MESSDdt average over all ``T - 1`` pairs of each instance.
    """

    def __init__(self, num_frames: int, convention: Convention = REFERENCE) -> None:
        if num_frames < 1:
            raise InputError(f"a video needs at least one frame, got {num_frames}")
        self.num_frames = int(num_frames)
        self.convention = check_convention(convention)
        self._plain, self._temporal = reference_calls(self.num_frames)
        self._frames: dict[int, _Frame] = {}
        self._tallies: dict[str, Tally] = {}
        self._pair_sums: dict[str, np.ndarray] = {}
        self._seen = 0

    def add_frame(self, pred: np.ndarray, gt: np.ndarray, flow: np.ndarray | None = None) -> None:
        """Add the next frame: ``pred`` and ``gt`` ``(N, H, W)`` in [0, 1].

        ``flow``: int ``(N, H, W, 2)`` ground-truth flow from the previous frame to this one; it is
        computed with Farneback (OpenCV) when ``None``. Ignored for the first frame.
        """
        t = self._seen
        if t >= self.num_frames:
            raise MaggieError(f"video has only {self.num_frames} frames; got one more")
        p, g = as_maps(pred, gt, self.convention, ndim=3)
        prev = self._frames.get(t - 1)
        if prev is not None and prev.pred.shape != p.shape:
            raise InputError(f"frame {t} has shape {p.shape}, the previous one {prev.pred.shape}")
        flow_in = None
        if prev is not None:
            flow_in = pair_flow(prev.gt, g, convention=self.convention) if flow is None else np.asarray(flow)
            if flow_in.shape != (*p.shape, 2):
                raise InputError(f"flow of frame {t} has shape {flow_in.shape}, expected {(*p.shape, 2)}")
        frame = _Frame(p, g, trimap(g), flow_in)
        self._frames[t] = frame
        self._seen = t + 1
        if self.convention == REFERENCE:
            for call in self._plain:
                if call[-1] == t:
                    self._score_call([self._frames[i] for i in call])
            for call in self._temporal:
                if call[-1] == t:
                    self._score_temporal_call([self._frames[i] for i in call])
        else:
            self._add_conventional(frame, prev)
        # No call reaches back more than three frames.
        self._frames.pop(t - 3, None)

    def _score_call(self, frames: list[_Frame]) -> None:
        stack = [np.concatenate([getattr(f, key) for f in frames]) for key in ("pred", "gt", "trimap")]
        _merge(self._tallies, slice_tallies(*stack, REFERENCE))

    def _score_temporal_call(self, frames: list[_Frame]) -> None:
        p = np.stack([f.pred for f in frames])
        g = np.stack([f.gt for f in frames])
        flow = np.stack([f.flow_in for f in frames[1:]])
        _merge(
            self._tallies,
            {
                "dtSSD": Tally.of(dtssd(p, g, convention=REFERENCE), REFERENCE),
                "MESSDdt": Tally.of(messddt(p, g, flow, convention=REFERENCE), REFERENCE),
            },
        )

    def _add_conventional(self, frame: _Frame, prev: _Frame | None) -> None:
        _merge(self._tallies, slice_tallies(frame.pred, frame.gt, frame.trimap, self.convention))
        if prev is None:
            return
        hw = frame.pred.shape[-1] * frame.pred.shape[-2]
        dt = np.sqrt(dtssd_pair_error(prev.pred, prev.gt, frame.pred, frame.gt) / hw)
        err0 = np.square(prev.pred - prev.gt)
        err1 = np.square(frame.pred - frame.gt)
        warp = messddt_pair_error(err0, err1, frame.flow_in)
        for name, value in (("dtSSD", dt), ("MESSDdt", warp)):
            self._pair_sums[name] = self._pair_sums.get(name, 0.0) + value

    def tallies(self) -> dict[str, Tally]:
        """Tallies of the whole video; every frame must have been added."""
        if self._seen != self.num_frames:
            raise MaggieError(f"video scored after {self._seen} of {self.num_frames} frames")
        out = {name: Tally(t.score, t.count) for name, t in self._tallies.items()}
        # A one-frame video has no temporal call: the reference reports an untouched metric as 0.
        for name in _TEMPORAL_METRICS:
            out.setdefault(name, Tally())
        if self.convention != REFERENCE:
            pairs = self.num_frames - 1
            n = self._frames[self.num_frames - 1].pred.shape[0]
            scale = {"dtSSD": 1e2, "MESSDdt": 1e4}
            for name in _TEMPORAL_METRICS:
                values = scale[name] * self._pair_sums[name] / pairs if pairs else np.full(n, np.nan)
                out[name] = Tally.of(values, self.convention)
        return out


class MetricAccumulator:
    """Aggregates metrics over a data set of images (``kind="image"``) or videos (``kind="video"``).

    Reference convention: one running ``(score, count)`` per metric over all samples, exactly as
    the reference metric objects accumulate them; conventional: the mean over all defined slices
    (dtSSD / MESSDdt: over all (video, instance) pairs). :attr:`rows` keeps each sample's own
    values (the sample evaluated on its own).
    """

    def __init__(self, convention: Convention = REFERENCE, kind: Kind = "image") -> None:
        self.convention = check_convention(convention)
        self.kind = kind
        self.names = metric_names(self.convention, kind)
        self.totals: dict[str, Tally] = {name: Tally() for name in self.names}
        self.rows: list[dict[str, object]] = []

    def add(self, tallies: Mapping[str, Tally], name: str | None = None) -> dict[str, float]:
        """Add one scored sample; returns its own values (also appended to :attr:`rows`)."""
        missing = set(self.names) - set(tallies)
        if missing:
            raise MaggieError(f"sample {name!r} lacks metrics {sorted(missing)} for a {self.kind} accumulator")
        values = {m: tallies[m].value(self.convention) for m in self.names}
        _merge(self.totals, {m: tallies[m] for m in self.names})
        self.rows.append({"name": name if name is not None else str(len(self.rows)), **values})
        return values

    def add_image(self, pred: np.ndarray, gt: np.ndarray, name: str | None = None) -> dict[str, float]:
        """Score an image's ``(N, H, W)`` prediction against its ground truth and add it."""
        if self.kind != "image":
            raise MaggieError("add_image on a video accumulator")
        return self.add(_image_tallies(pred, gt, self.convention), name)

    def add_video(
        self, pred: np.ndarray, gt: np.ndarray, flow: np.ndarray | None = None, name: str | None = None
    ) -> dict[str, float]:
        """Score a video's ``(T, N, H, W)`` prediction (``flow`` as in :func:`video_metrics`) and add it."""
        if self.kind != "video":
            raise MaggieError("add_video on an image accumulator")
        return self.add(_video_tallies(pred, gt, flow, self.convention), name)

    def summary(self) -> dict[str, float]:
        """Data-set values of every metric."""
        return {name: self.totals[name].value(self.convention) for name in self.names}


def _image_tallies(pred: np.ndarray, gt: np.ndarray, convention: Convention) -> dict[str, Tally]:
    p, g = as_maps(pred, gt, convention, ndim=3)
    return slice_tallies(p, g, trimap(g), convention)


def _video_tallies(
    pred: np.ndarray, gt: np.ndarray, flow: np.ndarray | None, convention: Convention
) -> dict[str, Tally]:
    p, g = as_maps(pred, gt, convention, ndim=4)
    if flow is not None and np.shape(flow) != (len(p) - 1, *p.shape[1:], 2):
        raise InputError(f"flow shape {np.shape(flow)} does not fit {p.shape}")
    scorer = VideoScorer(len(p), convention)
    for t in range(len(p)):
        scorer.add_frame(p[t], g[t], None if flow is None or t == 0 else flow[t - 1])
    return scorer.tallies()


def image_metrics(pred: np.ndarray, gt: np.ndarray, convention: Convention = REFERENCE) -> dict[str, float]:
    """All image metrics of one image: ``pred`` and ``gt`` ``(N, H, W)`` in [0, 1], one map per instance.

    Returns ``{name: value}`` for :func:`metric_names` ``(convention, "image")``; the prediction is
    scored as given (the reference loop's snapping is :func:`maggie.metrics.snap`).
    """
    convention = check_convention(convention)
    tallies = _image_tallies(pred, gt, convention)
    return {name: tallies[name].value(convention) for name in metric_names(convention, "image")}


def video_metrics(
    pred: np.ndarray, gt: np.ndarray, convention: Convention = REFERENCE, flow: np.ndarray | None = None
) -> dict[str, float]:
    """All video metrics of one video: ``pred`` and ``gt`` ``(T, N, H, W)`` in [0, 1].

    ``flow``: int ``(T-1, N, H, W, 2)`` ground-truth flow for MESSDdt (Farneback via OpenCV when
    ``None``). The reference convention replays the reference's window structure (:class:`VideoScorer`).
    """
    convention = check_convention(convention)
    tallies = _video_tallies(pred, gt, flow, convention)
    return {name: tallies[name].value(convention) for name in metric_names(convention, "video")}
