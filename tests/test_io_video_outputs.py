"""Alpha videos, preview videos, streaming writers and resume detection (maggie.io.video_writer, resume)."""

from __future__ import annotations

import numpy as np
import pytest

from maggie.errors import InputError
from maggie.io import (
    VideoOutputs,
    completed_frames,
    composite_preview,
    open_alpha_video,
    open_preview_video,
    open_video,
    open_video_masks,
    read_alpha,
    read_alpha_frame,
    read_alpha_video,
    resolve_overlaps,
    resume_from,
    write_alpha_png,
    write_cutout_png,
    write_label_map,
)

av = pytest.importorskip("av")

H, W, T = 48, 64, 5


def _alphas(height: int = H, width: int = W) -> list[np.ndarray]:
    """Smooth ramps plus hard edges and noise, different in every frame."""
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[:height, :width].astype(np.float32)
    frames = []
    for t in range(T):
        alpha = (xx / (width - 1) + 0.1 * t) % 1.0
        alpha[: height // 4] = rng.random((height // 4, width))
        alpha[-3:] = 1.0
        alpha[:, :2] = 0.0
        frames.append(alpha.astype(np.float32))
    return frames


def _rgb(t: int, height: int = H, width: int = W) -> np.ndarray:
    return np.random.default_rng(t).integers(0, 256, (height, width, 3), dtype=np.uint8)


@pytest.mark.parametrize(
    "suffix, codec, tolerance",
    [(".mov", "prores", 2 / 1023), (".webm", "vp9", 1 / 255 + 0.5 / 255)],
)
@pytest.mark.parametrize("size", [(H, W), (47, 63)])
def test_alpha_video_round_trip(tmp_path, suffix, codec, tolerance, size):
    alphas = _alphas(*size)
    path = tmp_path / f"alpha_00{suffix}"
    with open_alpha_video(path, fps=25, size=size) as writer:
        for t, alpha in enumerate(alphas):
            writer.write(alpha, _rgb(t, *size) if t % 2 else None)
    assert writer.frames_written == T and sorted(p.name for p in tmp_path.iterdir()) == [path.name]
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == codec
    back = list(read_alpha_video(path))
    assert len(back) == T
    for got, want in zip(back, alphas, strict=True):
        assert got.dtype == np.float32 and got.shape == size
        assert np.abs(got - want).max() <= tolerance


def test_preview_mp4_and_odd_size(tmp_path):
    path = tmp_path / "preview.mp4"
    with open_preview_video(path, fps=30, size=(47, 63)) as writer:
        for t in range(T):
            writer.write(np.full((47, 63, 3), 40 * t, np.uint8))
    video = open_video(path)
    assert (video.info.width, video.info.height) == (64, 48)  # padded to even for 4:2:0
    assert video.info.fps == 30.0 and video.info.frame_count == T
    frames = list(video)
    assert abs(int(frames[4][10, 10, 0]) - 160) <= 3
    with pytest.raises(InputError, match=r"preview\.mp4: video has no alpha channel \(pixel format yuv420p\)"):
        list(read_alpha_video(path))


def test_preview_encoding_is_repeatable_in_one_process(tmp_path):
    """The same frames give the same .mp4 bytes, whatever the process did before (a resumed job
    rebuilds its preview after other work; x264's macroblock tree read stale memory on small
    frames and made such previews differ)."""
    yy, xx = np.mgrid[:H, :W]
    frames = [
        np.stack([(xx * 4 + 9 * t) % 256, (yy * 5 + 3 * t) % 256, ((xx + yy) * 2 * (t + 1)) % 256], axis=-1).astype(
            np.uint8
        )
        for t in range(7)
    ]
    rng = np.random.default_rng(0)
    encoded = set()
    for attempt in range(8):
        churn = [bytearray(rng.bytes(int(n))) for n in rng.integers(1, 200_000, size=40)]
        path = tmp_path / f"p{attempt}.mp4"
        with open_preview_video(path, fps=25, size=(H, W)) as writer:
            for frame in frames:
                writer.write(frame)
        del churn
        encoded.add(path.read_bytes())
    assert len(encoded) == 1


def test_writer_exception_removes_temp_file_and_keeps_old_output(tmp_path):
    path = tmp_path / "alpha_00.mov"
    path.write_bytes(b"previous run")
    with pytest.raises(RuntimeError, match="model crashed"):
        with open_alpha_video(path, fps=25, size=(H, W)) as writer:
            writer.write(_alphas()[0])
            assert len(list(tmp_path.iterdir())) == 2  # the temporary file exists meanwhile
            raise RuntimeError("model crashed")
    assert path.read_bytes() == b"previous run" and [p.name for p in tmp_path.iterdir()] == [path.name]
    with pytest.raises(KeyboardInterrupt):
        with open_preview_video(tmp_path / "p.mp4", fps=25, size=(H, W)) as writer:
            writer.write(_rgb(0))
            raise KeyboardInterrupt
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_writer_input_checks(tmp_path):
    with pytest.raises(InputError, match=r"alpha\.mp4: alpha videos are \.mov \(ProRes 4444\) or \.webm \(VP9\)"):
        open_alpha_video(tmp_path / "alpha.mp4", fps=25, size=(H, W))
    with pytest.raises(InputError, match=r"p\.mov: preview videos are \.mp4"):
        open_preview_video(tmp_path / "p.mov", fps=25, size=(H, W))
    with pytest.raises(ValueError, match=r"a\.webm: alpha has shape \(10, 10\), the video needs \(48, 64\)"):
        with open_alpha_video(tmp_path / "a.webm", fps=25, size=(H, W)) as writer:
            writer.write(np.zeros((10, 10)))
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "junk.webm").write_bytes(b"junk")
    with pytest.raises(InputError, match=r"junk\.webm: cannot read video"):
        list(read_alpha_video(tmp_path / "junk.webm"))


def test_resume_detection_and_container_rebuild(tmp_path):
    layout = VideoOutputs(tmp_path / "job", count=2)
    alphas = _alphas()
    # An interrupted run: frames 0-2 complete, frame 3 only for instance 0, a leftover temp file.
    for t in range(3):
        for i in range(2):
            write_alpha_png(alphas[t] * (i + 1) / 2, layout.alpha_frame(i, t), bit_depth=16)
    write_alpha_png(alphas[3], layout.alpha_frame(0, 3))
    leftover = layout.alpha_sequence(1) / ".000003.deadbeef.maggie-partial.png"
    leftover.write_bytes(b"half")
    assert layout.alpha_frame(1, 4).name == "000004.png"
    done = completed_frames(layout, frame_count=T, size=(H, W))
    assert done == {0, 1, 2} and resume_from(done) == 3 and not leftover.exists()
    # A corrupt or wrongly sized file does not count.
    data = layout.alpha_frame(1, 1).read_bytes()
    layout.alpha_frame(1, 1).write_bytes(data[: len(data) // 2])
    write_alpha_png(np.zeros((H, W + 1)), layout.alpha_frame(0, 2))
    assert completed_frames(layout, size=(H, W)) == {0}
    assert completed_frames(layout, frame_count=0) == frozenset()
    # Containers are re-encoded in full: done frames come back from the 16-bit sequence.
    stored = read_alpha_frame(layout, 0)
    assert stored.shape == (2, H, W) and np.abs(stored[1] - alphas[0]).max() <= 1 / 65535
    with open_alpha_video(layout.alpha_video(0, ".mov"), fps=25, size=(H, W)) as writer:
        for t in range(T):
            writer.write(read_alpha_frame(layout, t)[0] if t in {0} else alphas[t] / 2)
    assert len(list(read_alpha_video(layout.alpha_video(0, ".mov")))) == T


def test_resume_with_cutout_sequences(tmp_path):
    layout = VideoOutputs(tmp_path, count=1)
    alpha = _alphas()[0]
    for t in range(2):
        write_alpha_png(alpha, layout.alpha_frame(0, t))
    write_cutout_png(_rgb(0), alpha, layout.cutout_frame(0, 0), foreground=np.zeros((H, W, 3)))
    assert completed_frames(layout) == {0, 1}
    assert completed_frames(layout, kinds=("alpha", "cutout")) == {0}
    assert read_alpha(layout.cutout_frame(0, 0)).shape == (H, W)


def test_video_reader_streams_alpha_frames(tmp_path):
    path = tmp_path / "a.webm"
    with open_alpha_video(path, fps=25, size=(H, W)) as writer:
        for alpha in _alphas():
            writer.write(alpha)
    frames = read_alpha_video(path)
    first = next(frames)  # a generator: frames are decoded on demand
    assert first.shape == (H, W)
    assert sum(1 for _ in frames) == T - 1


def _fake_matting(frame: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Stand-in for the model: soft alphas that depend on the frame and the masks."""
    return masks.astype(np.float32) * (0.5 + frame[..., 0].astype(np.float32) / 510)


def _run_job(video_path, masks_dir, out, *, resume: bool, fail_at: int | None = None) -> None:
    """What `maggie video --resume` will do: stream, write PNG sequences, rebuild containers."""
    video = open_video(video_path)
    masks = open_video_masks(masks_dir, video.info)
    layout = VideoOutputs(out, count=len(masks.ids))
    done = completed_frames(layout, frame_count=video.info.frame_count) if resume else frozenset()
    size, fps = video.info.size, video.info.fps
    writers = [
        open_alpha_video(layout.alpha_video(i, suffix), fps=fps, size=size)
        for i in range(2)
        for suffix in (".mov", ".webm")
    ]
    writers.append(open_preview_video(layout.preview_video(), fps=fps, size=size))
    try:
        for index, (frame, frame_masks) in enumerate(zip(video, masks, strict=False)):
            if index == fail_at:
                raise RuntimeError("killed")
            if index in done:
                alphas = read_alpha_frame(layout, index)
            else:
                alphas = _fake_matting(frame, resolve_overlaps(frame_masks))
                for i, alpha in enumerate(alphas):
                    write_alpha_png(alpha, layout.alpha_frame(i, index), bit_depth=16)
            for k, writer in enumerate(writers[:-1]):
                writer.write(alphas[k // 2], frame)
            writers[-1].write(composite_preview(frame, alphas))
    except BaseException:
        for writer in writers:
            writer.abort()
        raise
    for writer in writers:
        writer.close()


def test_interrupted_video_job_resumes_and_rebuilds_containers(tmp_path):
    frames = [_rgb(t) for t in range(T)]
    with av.open(str(tmp_path / "in.mov"), "w") as container:
        stream = container.add_stream("png", rate=25)
        stream.width, stream.height, stream.pix_fmt = W, H, "rgb24"
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    truth = np.zeros((T, 2, H, W), bool)
    truth[:, 0, 5:30, 5:30] = True
    truth[:, 1, 20:40, 20:60] = True  # overlaps instance 0
    for t in range(T):
        write_label_map(resolve_overlaps(truth[t], "last"), tmp_path / "masks" / f"{t}.png")
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="killed"):
        _run_job(tmp_path / "in.mov", tmp_path / "masks", out, resume=False, fail_at=3)
    assert sorted(p.name for p in out.iterdir()) == ["alpha_00", "alpha_01"]  # no container, no temp
    assert completed_frames(VideoOutputs(out, 2)) == {0, 1, 2}
    _run_job(tmp_path / "in.mov", tmp_path / "masks", out, resume=True)
    layout = VideoOutputs(out, 2)
    assert completed_frames(layout) == set(range(T))
    for i in range(2):
        for suffix, tolerance in ((".mov", 2 / 1023), (".webm", 1.5 / 255)):
            back = np.stack(list(read_alpha_video(layout.alpha_video(i, suffix))))
            stored = np.stack([read_alpha_frame(layout, t)[i] for t in range(T)])
            assert back.shape == (T, H, W) and np.abs(back - stored).max() <= tolerance
    assert open_video(layout.preview_video()).info.frame_count == T
