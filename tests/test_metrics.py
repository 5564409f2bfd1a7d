"""Metrics against the golden fixtures (tests/fixtures/metrics, spec in their README) in both conventions."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pytest

from maggie import metrics
from maggie.errors import MaggieError
from maggie.metrics import CONVENTIONS, REFERENCE, MetricAccumulator, Tally, VideoScorer, slice_tallies

FIXTURES = Path(__file__).parent / "fixtures" / "metrics"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text())
CASES = EXPECTED["cases"]
IMAGE_CASES = [c for c, info in CASES.items() if info["kind"] == "image"]
VIDEO_CASES = [c for c, info in CASES.items() if info["kind"] == "video"]
# The README's tolerance: |x - ref| <= rtol·|ref| + atol, rtol 3e-5 for Grad (float32 reference).
ATOL, RTOL, RTOL_GRAD = 1e-9, 1e-5, 3e-5
FIXTURE_KEY = {"reference": "official", "conventional": "conventional"}


@functools.lru_cache(maxsize=1)
def arrays() -> dict[str, np.ndarray]:
    with np.load(FIXTURES / "cases.npz") as z:
        return {k: z[k] for k in z.files}


def case(name: str) -> tuple[np.ndarray, np.ndarray]:
    return arrays()[f"{name}__pred"], arrays()[f"{name}__gt"]


@functools.cache
def case_tallies(name: str, convention: str) -> dict[str, Tally]:
    """Each case is scored once per convention; several tests read the result."""
    pred, gt = case(name)
    if CASES[name]["kind"] == "image":
        return slice_tallies(pred, gt, metrics.trimap(gt), convention)
    scorer = VideoScorer(len(pred), convention)
    flow = arrays()[f"{name}__flow"]
    for t in range(len(pred)):
        scorer.add_frame(pred[t], gt[t], flow[t - 1] if t else None)
    return scorer.tallies()


def assert_close(value: float, ref: float | None, metric: str, rtol: float | None = None) -> None:
    if ref is None:
        assert np.isnan(value), f"{metric}: expected undefined, got {value}"
        return
    if ref == 0:
        assert value == 0, f"{metric}: expected an exact 0, got {value}"
        return
    rtol = rtol if rtol is not None else (RTOL_GRAD if metric.startswith("Grad") else RTOL)
    assert abs(value - ref) <= rtol * abs(ref) + ATOL, f"{metric}: {value} vs {ref}"


@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize("name", list(CASES))
def test_case_values(name: str, convention: str) -> None:
    tallies = case_tallies(name, convention)
    expected = CASES[name][FIXTURE_KEY[convention]]
    assert set(expected) == set(metrics.metric_names(convention, CASES[name]["kind"]))
    for metric, ref in expected.items():
        assert_close(tallies[metric].value(convention), ref, metric)
        assert ref is None or ref == arrays()[f"{name}__{FIXTURE_KEY[convention]}__{metric}"]


@pytest.mark.parametrize("name", list(CASES))
def test_reference_values_are_the_float64_formulas(name: str) -> None:
    # Maps are promoted to float64 before any arithmetic, so the reference convention equals the
    # fixture's independent float64 evaluation of the reference formulas almost to the last bit.
    tallies = case_tallies(name, REFERENCE)
    for metric, ref in CASES[name]["official_f64_rederived"].items():
        assert_close(tallies[metric].value(REFERENCE), ref, metric, rtol=1e-12)


@pytest.mark.parametrize("name", list(CASES))
def test_reference_score_and_count(name: str) -> None:
    tallies = case_tallies(name, REFERENCE)
    for metric, (score, count) in CASES[name]["official_score_count"].items():
        assert tallies[metric].count == count
        assert_close(tallies[metric].score, score, metric)


def test_public_entry_points_match_fixtures() -> None:
    pred, gt = case("img_soft_64x80")
    for convention in CONVENTIONS:
        got = metrics.image_metrics(pred, gt, convention)
        for metric, ref in CASES["img_soft_64x80"][FIXTURE_KEY[convention]].items():
            assert_close(got[metric], ref, metric)
    pred, gt = case("vid_square_64x64")
    flow = arrays()["vid_square_64x64__flow"]
    for convention in CONVENTIONS:
        got = metrics.video_metrics(pred, gt, convention, flow=flow)
        assert list(got) == list(metrics.metric_names(convention, "video"))
        for metric, ref in CASES["vid_square_64x64"][FIXTURE_KEY[convention]].items():
            assert_close(got[metric], ref, metric)


@pytest.mark.parametrize("name", list(CASES))
def test_trimap(name: str) -> None:
    tri = metrics.trimap(arrays()[f"{name}__gt"])
    np.testing.assert_array_equal(tri, arrays()[f"{name}__trimap"])
    counts = {str(v): int((tri == v).sum()) for v in (0, 1, 2)}
    assert counts == CASES[name]["trimap_counts"]


_REGION = {
    "MAD": None,
    "MSE": None,
    "SAD": None,
    "Grad": None,
    "Conn": None,
    "MAD_fg": 2,
    "MAD_unk": 1,
    "MAD_bg": 0,
    "MSE_unk": 1,
    "SAD_unk": 1,
    "Grad_unk": 1,
    "Conn_unk": 1,
}
_FUNCTION = {
    "MAD": metrics.mad,
    "MSE": metrics.mse,
    "SAD": metrics.sad,
    "Grad": metrics.grad,
    "Conn": metrics.conn,
}


@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize("name", list(CASES))
def test_per_slice_functions(name: str, convention: str) -> None:
    """The public per-slice functions give the fixture's ``[frame][instance]`` values."""
    pred, gt = case(name)
    if pred.ndim == 3:
        pred, gt = pred[None], gt[None]
    tri = arrays()[f"{name}__trimap"].reshape(gt.shape)
    per_slice = CASES[name][f"{FIXTURE_KEY[convention]}_per_slice"]
    for metric, table in per_slice.items():
        function = _FUNCTION[metric.split("_")[0]]
        region = None if _REGION[metric] is None else tri == _REGION[metric]
        for t, refs in enumerate(table):
            got = function(pred[t], gt[t], None if region is None else region[t], convention=convention)
            assert got.shape == (pred.shape[1],)
            for value, ref in zip(got, refs, strict=True):
                assert_close(float(value), ref, metric)


@pytest.mark.parametrize("name", VIDEO_CASES)
def test_conventional_temporal_per_instance(name: str) -> None:
    pred, gt = case(name)
    flow = arrays()[f"{name}__flow"]
    refs = CASES[name]["conventional_temporal_per_instance"]
    got = {
        "dtSSD": metrics.dtssd(pred, gt, convention="conventional"),
        "MESSDdt": metrics.messddt(pred, gt, flow, convention="conventional"),
    }
    for metric, values in refs.items():
        for value, ref in zip(got[metric], values, strict=True):
            assert_close(float(value), ref, metric)


@pytest.mark.parametrize("name", VIDEO_CASES)
def test_reference_calls_replay(name: str) -> None:
    """Each reference metric call, scored on its own, adds the fixture's score and count."""
    pred, gt = case(name)
    flow = arrays()[f"{name}__flow"]
    tri = metrics.trimap(gt)
    plain, temporal = metrics.reference_calls(len(pred))
    calls = CASES[name]["official_calls"]
    assert len(plain) == len(calls)
    assert len(temporal) == sum(c["prev_frames"] is not None for c in calls)
    temporal_iter = iter(temporal)
    for frames, call in zip(plain, calls, strict=True):
        got = slice_tallies(
            pred[frames].reshape(-1, *gt.shape[2:]),
            gt[frames].reshape(-1, *gt.shape[2:]),
            tri[frames].reshape(-1, *gt.shape[2:]),
            REFERENCE,
        )
        if call["prev_frames"] is not None:
            window = next(temporal_iter)
            pair_flows = flow[window[0] : window[-1]]
            got["dtSSD"] = Tally.of(metrics.dtssd(pred[window], gt[window]), REFERENCE)
            got["MESSDdt"] = Tally.of(metrics.messddt(pred[window], gt[window], pair_flows), REFERENCE)
        assert set(got) == set(call["score"])
        for metric, score in call["score"].items():
            assert got[metric].count == call["count"][metric]
            assert_close(got[metric].score, score, metric)


def test_reference_call_plan() -> None:
    # README: T = 5 -> non-temporal [0], [1], [2, 3, 4]; temporal [0, 1], [1, 2, 3, 4].
    assert metrics.reference_calls(5) == ([[0], [1], [2, 3, 4]], [[0, 1], [1, 2, 3, 4]])
    assert metrics.reference_calls(7) == (
        [[0], [1], [2], [3], [4, 5, 6]],
        [[0, 1], [1, 2], [2, 3], [3, 4, 5, 6]],
    )
    # Where the reference fails (T = 4) or scores no temporal metric (T <= 3): the documented extension.
    assert metrics.reference_calls(4) == ([[0], [1, 2, 3]], [[0, 1, 2, 3]])
    assert metrics.reference_calls(3) == ([[0, 1, 2]], [[0, 1, 2]])
    assert metrics.reference_calls(2) == ([[0, 1]], [[0, 1]])
    assert metrics.reference_calls(1) == ([[0]], [])


@pytest.mark.parametrize("kind", ["images", "videos"])
def test_reference_dataset_aggregate(kind: str) -> None:
    acc = MetricAccumulator(REFERENCE, kind=kind[:-1])
    for name in EXPECTED["aggregate"][f"{kind[:-1]}_case_order"]:
        acc.add(case_tallies(name, REFERENCE), name=name)
    summary = acc.summary()
    for metric, ref in EXPECTED["aggregate"][kind].items():
        assert acc.totals[metric].count == ref["count"]
        assert_close(acc.totals[metric].score, ref["score"], metric)
        assert_close(summary[metric], ref["average"], metric)
    assert [row["name"] for row in acc.rows] == EXPECTED["aggregate"][f"{kind[:-1]}_case_order"]


def test_accumulator_add_image_and_video() -> None:
    image_acc = MetricAccumulator(REFERENCE, kind="image")
    for name in ("img_hard_64x80", "img_soft_64x80"):
        row = image_acc.add_image(*case(name), name=name)
        assert_close(row["MAD"], CASES[name]["official"]["MAD"], "MAD")
    mad = sum(CASES[n]["official_score_count"]["MAD"][0] for n in ("img_hard_64x80", "img_soft_64x80"))
    assert_close(image_acc.summary()["MAD"], mad / (3 + 1e-6), "MAD")
    video_acc = MetricAccumulator("conventional", kind="video")
    row = video_acc.add_video(*case("vid_T7_48x72"), flow=arrays()["vid_T7_48x72__flow"])
    assert_close(row["dtSSD"], CASES["vid_T7_48x72"]["conventional"]["dtSSD"], "dtSSD")
    with pytest.raises(MaggieError):
        video_acc.add_image(*case("img_hard_64x80"))


def test_conventional_dataset_aggregate_is_mean_over_defined_slices() -> None:
    acc = MetricAccumulator("conventional", kind="image")
    for name in IMAGE_CASES:
        acc.add(case_tallies(name, "conventional"), name=name)
    for metric, value in acc.summary().items():
        slices = [
            v
            for name in IMAGE_CASES
            for frame in CASES[name]["conventional_per_slice"][metric]
            for v in frame
            if v is not None
        ]
        assert_close(value, float(np.mean(slices)), metric)


@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize("name", VIDEO_CASES)
def test_farneback_flow_equals_stored_flow(name: str, convention: str) -> None:
    pytest.importorskip("cv2", reason="OpenCV (maggie[eval]) computes the MESSDdt flow")
    flow = metrics.farneback_flow(arrays()[f"{name}__gt"], convention=convention)
    np.testing.assert_array_equal(flow, arrays()[f"{name}__flow"])


def test_video_metrics_without_flow_uses_farneback() -> None:
    pytest.importorskip("cv2", reason="OpenCV (maggie[eval]) computes the MESSDdt flow")
    got = metrics.video_metrics(*case("vid_square_64x64"))
    assert_close(got["MESSDdt"], CASES["vid_square_64x64"]["official"]["MESSDdt"], "MESSDdt")
