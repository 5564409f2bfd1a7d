"""Curriculum decisions, learning-rate schedules, optimiser groups and gradient clipping."""

from __future__ import annotations

import math

import pytest
import torch

from maggie.training import (
    Curriculum,
    CurriculumConfig,
    OneCycleCosine,
    OptimConfig,
    ScheduleConfig,
    WarmupCosine,
    build_optimizer,
    build_scheduler,
)
from maggie.training.optim import clip_gradients


def test_curriculum_phases_with_a_fixed_generator() -> None:
    cur = Curriculum.from_config(CurriculumConfig())  # 3000 / 9000 / 0.5
    gen = torch.Generator().manual_seed(0)
    # Warm-up: always GT, and the generator is not touched.
    before = gen.get_state()
    assert all(cur.use_gt_band(s, generator=gen) for s in (0, 1, 1500, 2999))
    assert torch.equal(gen.get_state(), before)
    # Mixed phase: one draw per decision, GT iff the draw is below 0.5.
    replay = torch.Generator().manual_seed(0)
    decisions = []
    for step in range(3000, 9000, 10):
        expected = bool(torch.rand((), generator=replay) < 0.5)
        decision = cur.use_gt_band(step, generator=gen)
        assert decision == expected
        decisions.append(decision)
    assert 0.42 < sum(decisions) / len(decisions) < 0.58
    # After 9000: never GT and no draws.
    before = gen.get_state()
    assert not any(cur.use_gt_band(s, generator=gen) for s in (9000, 9001, 52000))
    assert torch.equal(gen.get_state(), before)


def test_curriculum_empty_guidance_and_band_alpha() -> None:
    cur = Curriculum(gt_band_steps=10, mixed_band_steps=10)
    gen = torch.Generator().manual_seed(0)
    alpha = torch.rand(1, 1, 2, 8, 8)
    empty = torch.zeros(1, 1, 2, 1, 1)
    some = torch.ones(1, 1, 2, 1, 1)
    # Empty guidance for the whole batch means A8 = 0, so the band must come from GT.
    assert cur.band_alpha(100, alpha, generator=gen, masks=empty) is alpha
    assert cur.band_alpha(100, alpha, generator=gen, masks=some) is None
    assert cur.band_alpha(5, alpha, generator=gen, masks=some) is alpha


def test_curriculum_post_hoc_empty_coarse_alpha() -> None:
    class _Out:
        alpha_os8 = torch.zeros(1, 1, 2, 8, 8)

    assert Curriculum.coarse_alpha_is_empty(_Out())  # type: ignore[arg-type]
    _Out.alpha_os8 = _Out.alpha_os8.clone()
    _Out.alpha_os8[0, 0, 1, 3, 3] = 1e-6
    assert not Curriculum.coarse_alpha_is_empty(_Out())  # type: ignore[arg-type]


def test_curriculum_rejects_bad_settings() -> None:
    with pytest.raises(ValueError):
        Curriculum(gt_band_steps=10, mixed_band_steps=5)
    with pytest.raises(ValueError):
        Curriculum(mixed_band_prob=1.5)


def _lrs(schedule: ScheduleConfig, *, total: int, lr: float) -> list[float]:
    param = torch.nn.Parameter(torch.zeros(1))
    opt = build_optimizer([param], OptimConfig(lr=lr))
    sched = build_scheduler(opt, schedule, total_steps=total, peak_lr=lr)
    out = []
    for _ in range(total):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def test_onecycle_reference_image_recipe_values() -> None:
    lr = OneCycleCosine(total_steps=52000, warmup_steps=1000)
    peak = 1.5e-4
    assert peak * lr(0) == pytest.approx(6e-6, rel=1e-12)  # 1.5e-4 / 25
    assert peak * lr(999) == pytest.approx(1.5e-4, rel=1e-12)  # end of the warm-up
    assert peak * lr(1000) == pytest.approx(1.5e-4, rel=1e-8)  # cosine starts, 1/51000 in
    assert peak * lr(51999) == pytest.approx(6e-10, rel=1e-9)  # 6e-6 / 1e4
    # Half-way through the warm-up the half cosine is at the mean of 6e-6 and 1.5e-4.
    assert peak * OneCycleCosine(total_steps=52000, warmup_steps=1001)(500) == pytest.approx(7.8e-5, rel=1e-9)
    video = OneCycleCosine(total_steps=10000, warmup_steps=1000)
    assert 5e-5 * video(0) == pytest.approx(2e-6) and 5e-5 * video(9999) == pytest.approx(2e-10)


def test_onecycle_matches_torch_onecycle() -> None:
    total, warmup, lr = 60, 12, 1e-3
    ours = _lrs(ScheduleConfig(warmup_steps=warmup), total=total, lr=lr)
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.AdamW([param], lr=lr)
    ref = torch.optim.lr_scheduler.OneCycleLR(
        opt,
        max_lr=lr,
        total_steps=total,
        pct_start=warmup / total,
        anneal_strategy="cos",
        cycle_momentum=False,
    )
    theirs = []
    for _ in range(total):
        theirs.append(opt.param_groups[0]["lr"])
        opt.step()
        ref.step()
    assert ours == pytest.approx(theirs, rel=1e-9)


def test_warmup_cosine_values() -> None:
    f = WarmupCosine(total_steps=11, warmup_steps=2, min_ratio=0.1)
    # linear warm-up (s+1)/2: 0.5, 1; then cosine from 1 at step 2 to 0.1 at step 10.
    assert [f(0), f(1), f(2)] == [0.5, 1.0, 1.0]
    assert f(6) == pytest.approx(0.1 + 0.9 * (1 + math.cos(math.pi * 0.5)) / 2)
    assert f(10) == pytest.approx(0.1)
    lrs = _lrs(ScheduleConfig(name="warmup_cosine", warmup_steps=2, min_lr=1e-5), total=11, lr=1e-4)
    assert lrs[0] == pytest.approx(5e-5) and lrs[-1] == pytest.approx(1e-5)


def test_scheduler_rejects_bad_lengths() -> None:
    opt = build_optimizer([torch.nn.Parameter(torch.zeros(1))], OptimConfig())
    with pytest.raises(ValueError):
        build_scheduler(opt, ScheduleConfig(warmup_steps=10), total_steps=5, peak_lr=1e-4)


def test_adamw_decays_every_trainable_parameter() -> None:
    norm = torch.nn.BatchNorm1d(2)
    frozen = torch.nn.Parameter(torch.ones(1), requires_grad=False)
    opt = build_optimizer([*norm.parameters(), frozen], OptimConfig())
    assert len(opt.param_groups) == 1
    group = opt.param_groups[0]
    assert group["weight_decay"] == 0.01 and group["lr"] == 1.5e-4
    assert len(group["params"]) == 2  # BN weight and bias both decayed; the frozen one left out


def test_clip_gradients_global_norm() -> None:
    a = torch.nn.Parameter(torch.zeros(2))
    b = torch.nn.Parameter(torch.zeros(1))
    a.grad = torch.tensor([3.0, 0.0])
    b.grad = torch.tensor([4.0])
    # global norm sqrt(9 + 16) = 5, clipped to 0.01 → every gradient scaled by ~0.01 / 5
    norm = clip_gradients([a, b], 0.01)
    assert norm.item() == pytest.approx(5.0)
    assert torch.linalg.vector_norm(torch.cat([a.grad, b.grad])).item() == pytest.approx(0.01, rel=1e-4)
    assert clip_gradients([a, b], None).item() == pytest.approx(0.01, rel=1e-4)
