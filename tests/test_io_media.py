"""Reading images, video files and frame folders (maggie.io.media)."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from PIL import Image

from maggie.errors import InputError, MaggieError
from maggie.io import list_images, natural_key, open_video, read_image

av = pytest.importorskip("av")

H, W, T = 48, 64, 5


def _picture(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (H, W, 3), dtype=np.uint8)


def _write_video(path, frames, *, codec="png", pix_fmt="rgb24", fps=25):
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], pix_fmt
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def test_natural_order():
    names = ["f10.png", "f2.png", "f1.png", "F3.png"]
    assert sorted(names, key=natural_key) == ["f1.png", "f2.png", "F3.png", "f10.png"]


def test_rgb_png_round_trip(tmp_path):
    picture = _picture()
    Image.fromarray(picture).save(tmp_path / "a.png")
    out = read_image(tmp_path / "a.png")
    assert out.dtype == np.uint8 and out.shape == (H, W, 3)
    np.testing.assert_array_equal(out, picture)


@pytest.mark.parametrize(
    "mode, make",
    [
        ("L", lambda p: Image.fromarray(p[..., 0])),
        ("RGBA", lambda p: Image.fromarray(np.dstack([p, np.full((H, W), 7, np.uint8)]))),
        ("P", lambda p: Image.fromarray(p).convert("P")),
        ("1", lambda p: Image.fromarray(p[..., 0] > 127)),
    ],
)
def test_modes_become_rgb(tmp_path, mode, make):
    image = make(_picture())
    assert image.mode == mode
    image.save(tmp_path / "m.png")
    out = read_image(tmp_path / "m.png")
    assert out.shape == (H, W, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, np.asarray(image.convert("RGB")))


def test_sixteen_bit_gray_is_scaled_not_clipped(tmp_path):
    values = np.linspace(0, 65535, H * W).reshape(H, W).astype(np.uint16)
    Image.fromarray(values).save(tmp_path / "g16.png")
    out = read_image(tmp_path / "g16.png")
    np.testing.assert_array_equal(out[..., 0], np.rint(values / 257.0).astype(np.uint8))
    assert out[..., 0].max() == 255 and out[..., 0].min() == 0


def test_exif_orientation_is_applied(tmp_path):
    picture = _picture()
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    Image.fromarray(picture).save(tmp_path / "rot.png", exif=exif)
    out = read_image(tmp_path / "rot.png")
    np.testing.assert_array_equal(out, np.rot90(picture, k=-1))


def test_list_images_folder_sorted_and_single_file(tmp_path):
    for name in ["b10.png", "b2.jpg", "notes.txt", "b1.png"]:
        if name.endswith(".txt"):
            (tmp_path / name).write_text("x")
        else:
            Image.fromarray(_picture()).save(tmp_path / name)
    assert [p.name for p in list_images(tmp_path)] == ["b1.png", "b2.jpg", "b10.png"]
    assert list_images(tmp_path / "b2.jpg") == [tmp_path / "b2.jpg"]


def test_image_errors_name_the_file(tmp_path):
    (tmp_path / "fake.png").write_bytes(b"not a png at all")
    with pytest.raises(InputError, match=r"fake\.png: not an image file Pillow can read"):
        read_image(tmp_path / "fake.png")
    with pytest.raises(InputError, match=r"missing\.jpg: no such file"):
        read_image(tmp_path / "missing.jpg")
    data = tmp_path / "full.png"
    Image.fromarray(_picture()).save(data)
    (tmp_path / "cut.png").write_bytes(data.read_bytes()[:200])
    with pytest.raises(InputError, match=r"cut\.png: cannot read image"):
        read_image(tmp_path / "cut.png")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"empty: folder contains no images"):
        list_images(tmp_path / "empty")
    with pytest.raises(InputError, match=r"nowhere: no such file or folder"):
        list_images(tmp_path / "nowhere")


def test_video_file_streams_exact_frames(tmp_path):
    frames = [_picture(i) for i in range(T)]
    _write_video(tmp_path / "clip.mov", frames, fps=12)
    video = open_video(tmp_path / "clip.mov")
    info = video.info
    assert (info.width, info.height, info.frame_count, info.fps) == (W, H, T, 12.0)
    assert info.frame_stems is None and info.size == (H, W)
    iterator = iter(video)
    first = next(iterator)  # frames come one at a time, not as one array
    np.testing.assert_array_equal(first, frames[0])
    rest = list(iterator)
    assert len(rest) == T - 1
    for got, want in zip(rest, frames[1:], strict=True):
        np.testing.assert_array_equal(got, want)


def test_h264_mp4_metadata_and_decode(tmp_path):
    frames = [_picture(i) for i in range(T)]
    _write_video(tmp_path / "clip.mp4", frames, codec="libx264", pix_fmt="yuv420p", fps=30)
    video = open_video(tmp_path / "clip.mp4")
    assert video.info.fps == 30.0 and video.info.frame_count == T
    decoded = list(video)
    assert len(decoded) == T and all(f.shape == (H, W, 3) and f.dtype == np.uint8 for f in decoded)


def test_frame_folder(tmp_path):
    frames = [_picture(i) for i in range(3)]
    for i, frame in enumerate(frames):
        Image.fromarray(frame).save(tmp_path / f"f{i + 8}.png")
    video = open_video(tmp_path, fps=10)
    assert video.info.frame_stems == ("f8", "f9", "f10")
    assert video.info.fps == 10.0 and video.info.frame_count == 3
    for got, want in zip(video, frames, strict=True):
        np.testing.assert_array_equal(got, want)
    assert open_video(tmp_path).info.fps == 25.0


def test_video_errors_name_the_file(tmp_path):
    (tmp_path / "broken.mp4").write_bytes(b"\x00" * 100)
    with pytest.raises(InputError, match=r"broken\.mp4: not a video file FFmpeg can read"):
        open_video(tmp_path / "broken.mp4")
    Image.fromarray(_picture()).save(tmp_path / "still.png")
    with pytest.raises(InputError, match=r"nope\.mp4: no such file or folder"):
        open_video(tmp_path / "nope.mp4")
    frames = tmp_path / "frames"
    frames.mkdir()
    Image.fromarray(_picture()).save(frames / "0.png")
    Image.fromarray(_picture()[:40]).save(frames / "1.png")
    with pytest.raises(InputError, match=r"1\.png: frame is 64x40 but the first frame of .*frames is 64x48"):
        list(open_video(frames))


def test_truncated_video_fails_with_file_name(tmp_path):
    frames = [_picture(i) for i in range(T)]
    _write_video(tmp_path / "clip.mp4", frames, codec="libx264", pix_fmt="yuv420p")
    data = (tmp_path / "clip.mp4").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"cut\.mp4"):
        list(open_video(tmp_path / "cut.mp4"))


def test_video_without_pyav_names_the_extra(tmp_path, monkeypatch):
    _write_video(tmp_path / "clip.mov", [_picture()])
    Image.fromarray(_picture()).save(tmp_path / "0.png")
    monkeypatch.setitem(sys.modules, "av", None)  # makes `import av` fail
    with pytest.raises(
        MaggieError,
        match=r"the optional package 'av' is needed for reading and writing videos: "
        r"pip install 'maggie\[video\]'",
    ):
        open_video(tmp_path / "clip.mov")
    assert len(list(open_video(tmp_path))) == 1  # frame folders need no PyAV
