"""Image mask formats, overlap resolution and erode/dilate (maggie.io.masks, coco, mask_files)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from maggie.errors import InputError
from maggie.io import (
    adjust_masks,
    batch_mask_source,
    decode_rle,
    read_label_map,
    read_masks,
    resolve_overlaps,
    write_label_map,
)
from maggie.io.coco import decode_rle_counts, rasterize_polygons
from maggie.ops.morphology import ellipse_kernel

H, W = 48, 64


def _boxes(count: int = 3) -> np.ndarray:
    """``count`` disjoint rectangles, instance i in columns 20i..20i+9."""
    masks = np.zeros((count, H, W), dtype=bool)
    for i in range(count):
        masks[i, 5 + i : 30 + i, (20 * i) % 60 : (20 * i) % 60 + 10] = True
    return masks


def _encode_rle(mask: np.ndarray, compress: bool) -> dict:
    """Our own COCO RLE encoder, the inverse of the rule in maggie.io.coco's docstring."""
    flat = mask.T.reshape(-1).astype(np.int8)
    change = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    runs = list(np.diff(bounds))
    if flat[0]:
        runs = [0, *runs]
    runs = [int(r) for r in runs]
    if not compress:
        return {"size": list(mask.shape), "counts": runs}
    chars = []
    for i, run in enumerate(runs):
        x = run - runs[i - 2] if i > 2 else run
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = x != -1 if c & 0x10 else x != 0
            chars.append(chr((c | 0x20 if more else c) + 48))
    return {"size": list(mask.shape), "counts": "".join(chars)}


# ---------------------------------------------------------------- per-instance folder


def test_folder_of_binary_pngs(tmp_path):
    masks = _boxes(3)
    for i, name in enumerate(["2", "10", "1b"]):
        Image.fromarray(masks[i].astype(np.uint8) * 255).save(tmp_path / f"{name}.png")
    result = read_masks(tmp_path, image_size=(H, W))
    assert result.ids == ("1b", "2", "10")
    np.testing.assert_array_equal(result.masks, masks[[2, 0, 1]])
    assert result.masks.dtype == bool and result.masks.shape == (3, H, W)


def test_binary_png_threshold_and_zero_one_files(tmp_path):
    gray = np.zeros((H, W), np.uint8)
    gray[:, :10], gray[:, 10:20], gray[:, 20:30] = 127, 128, 255
    Image.fromarray(gray).save(tmp_path / "a.png")
    Image.fromarray(_boxes(1)[0].astype(np.uint8)).save(tmp_path / "b.png")  # 0/1 values
    sixteen = gray.astype(np.uint16) * 257
    Image.fromarray(sixteen).save(tmp_path / "c.png")
    rgba = np.zeros((H, W, 4), np.uint8)
    rgba[..., 3] = gray
    Image.fromarray(rgba).save(tmp_path / "d.png")
    result = read_masks(tmp_path)
    expected = np.zeros((H, W), bool)
    expected[:, 10:30] = True
    np.testing.assert_array_equal(result.masks[0], expected)
    np.testing.assert_array_equal(result.masks[1], _boxes(1)[0])
    np.testing.assert_array_equal(result.masks[2], expected)
    np.testing.assert_array_equal(result.masks[3], expected)


# ---------------------------------------------------------------- label maps


@pytest.mark.parametrize("kind", ["L", "I;16", "P"])
def test_label_map_formats(tmp_path, kind):
    masks = _boxes(3)
    ids = [3, 300, 7] if kind == "I;16" else [3, 200, 7]
    labels = np.zeros((H, W), np.uint16 if kind == "I;16" else np.uint8)
    for mask, value in zip(masks, ids, strict=True):
        labels[mask] = value
    if kind == "P":  # DAVIS-style: the palette index is the ID, the colours are arbitrary
        image = Image.new("P", (W, H))
        image.putdata(labels.reshape(-1).tolist())
        image.putpalette([v for i in range(256) for v in (i, 255 - i, 0)])
    else:
        image = Image.fromarray(labels)
    assert image.mode == kind
    image.save(tmp_path / "labels.png")
    result = read_masks(tmp_path / "labels.png", image_size=(H, W))
    order = np.argsort(ids)
    assert result.ids == tuple(str(ids[i]) for i in order)
    np.testing.assert_array_equal(result.masks, masks[order])


def test_label_map_write_read_round_trip_and_capacity(tmp_path):
    masks = np.zeros((300, 20, 15), bool)
    flat = masks.reshape(300, -1)
    flat[np.arange(300), np.arange(300)] = True
    path = write_label_map(masks, tmp_path / "many.png")
    assert Image.open(path).mode == "I;16"
    np.testing.assert_array_equal(read_masks(path).masks, masks)
    with pytest.raises(
        InputError,
        match=r"small\.png: 300 instances do not fit an 8-bit label map \(at most 255\); use bit_depth=16",
    ):
        write_label_map(masks, tmp_path / "small.png", bit_depth=8)
    assert not (tmp_path / "small.png").exists()
    with pytest.raises(ValueError, match="overlap"):
        write_label_map(np.ones((2, 4, 4), bool), tmp_path / "o.png")
    few = write_label_map(_boxes(3), tmp_path / "few.png")
    assert Image.open(few).mode == "L"
    np.testing.assert_array_equal(read_label_map(few)[_boxes(3)[1]], 2)


# ---------------------------------------------------------------- COCO


def test_rle_hand_computed_strings():
    assert decode_rle_counts("121") == [1, 2, 1]
    assert decode_rle_counts("1110") == [1, 1, 1, 1]
    assert decode_rle_counts("051M") == [0, 5, 1, 2]  # last run stored as delta -3
    mask = decode_rle({"size": [2, 4], "counts": "051M"})
    # column-major runs: 0 background, 5 set (columns 0-1 and the top of column 2),
    # 1 background (bottom of column 2), 2 set (column 3)
    np.testing.assert_array_equal(mask, [[1, 1, 1, 1], [1, 1, 0, 1]])


@pytest.mark.parametrize("compress", [True, False])
def test_rle_round_trip_random(compress):
    rng = np.random.default_rng(1)
    mask = rng.random((H, W)) < 0.3
    mask[:, :7] = True  # long runs need several 5-bit groups
    mask[0, 0] = True  # first run of background has length 0
    np.testing.assert_array_equal(decode_rle(_encode_rle(mask, compress)), mask)


def _coco(tmp_path, annotations, images=None, categories=None):
    data = {
        "images": images or [{"id": 7, "file_name": "sub/photo.jpg", "height": H, "width": W}],
        "annotations": annotations,
        "categories": categories or [{"id": 1, "name": "person"}, {"id": 2, "name": "dog"}],
    }
    path = tmp_path / "ann.json"
    path.write_text(json.dumps(data))
    return path


def test_coco_rle_and_polygons(tmp_path):
    masks = _boxes(3)
    square = [[10, 10, 20, 10, 20, 20, 10, 20]]
    annotations = [
        {"id": 11, "image_id": 7, "category_id": 1, "segmentation": _encode_rle(masks[0], True)},
        {"id": 12, "image_id": 7, "category_id": 1, "segmentation": _encode_rle(masks[1], False)},
        {"id": 13, "image_id": 7, "category_id": 2, "segmentation": square},
        {"id": 14, "image_id": 8, "category_id": 1, "segmentation": _encode_rle(masks[2], True)},
    ]
    path = _coco(
        tmp_path,
        annotations,
        images=[
            {"id": 7, "file_name": "sub/photo.jpg", "height": H, "width": W},
            {"id": 8, "file_name": "other.jpg", "height": H, "width": W},
        ],
    )
    result = read_masks(path, image_name="photo.jpg", image_size=(H, W))
    assert result.ids == ("11", "12", "13")
    np.testing.assert_array_equal(result.masks[:2], masks[:2])
    expected = np.zeros((H, W), bool)
    expected[10:20, 10:20] = True  # COCO pixel (i, j) covers [j, j+1) x [i, i+1)
    assert np.abs(result.masks[2] ^ expected).sum() <= 2 * 20  # edges may differ by one pixel
    assert result.masks[2][11:19, 11:19].all() and not result.masks[2][:9].any()
    assert read_masks(path, image_name="photo.png").ids == ("11", "12", "13")  # stem match
    assert read_masks(path, image_id=8).ids == ("14",)
    assert read_masks(path, image_name="photo.jpg", categories=["person"]).ids == ("11", "12")
    assert read_masks(path, image_name="photo.jpg", categories=[2]).ids == ("13",)


def test_polygon_rasterizer_is_reasonable():
    mask = rasterize_polygons([[0, 0, 8, 0, 8, 4, 0, 4]], (6, 10))
    assert mask[:4, :8].all() and not mask[5:].any() and not mask[:, 9:].any()


def test_coco_single_image_and_annotation_list(tmp_path):
    rle = _encode_rle(_boxes(1)[0], True)
    sa1b = tmp_path / "sa.json"
    sa1b.write_text(
        json.dumps(
            {
                "image": {"image_id": 1, "height": H, "width": W},
                "annotations": [{"id": 5, "segmentation": rle}],
            }
        )
    )
    assert read_masks(sa1b).ids == ("5",)
    results = tmp_path / "results.json"
    results.write_text(json.dumps([{"image_id": 3, "segmentation": rle}, {"image_id": 4, "segmentation": rle}]))
    assert read_masks(results, mask_format="coco", image_id=4).ids == ("1",)


def test_coco_errors(tmp_path):
    rle = _encode_rle(_boxes(1)[0], True)
    path = _coco(tmp_path, [{"id": 1, "image_id": 7, "category_id": 1, "segmentation": rle}])
    with pytest.raises(InputError, match=r"ann\.json: no image entry with file_name 'x\.jpg'"):
        read_masks(path, image_name="x.jpg")
    with pytest.raises(InputError, match=r"ann\.json: unknown category 'cat' \(categories: dog, person\)"):
        read_masks(path, categories=["cat"])
    with pytest.raises(InputError, match=r"ann\.json: no annotations for this image in the chosen categories"):
        read_masks(path, categories=["dog"])
    with pytest.raises(InputError, match=r"ann\.json: image entry is 64x48 but the image is 32x48"):
        read_masks(path, image_size=(48, 32))
    bad = _coco(tmp_path, [{"id": 9, "image_id": 7, "segmentation": {"size": [H, W], "counts": [1, 2]}}])
    with pytest.raises(
        InputError,
        match=r"ann\.json: annotation 9: bad segmentation "
        r"\(RLE run lengths cover 3 pixels, but its size 64x48 has 3072\)",
    ):
        read_masks(bad)
    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(InputError, match=r"junk\.json: not a readable JSON file"):
        read_masks(tmp_path / "junk.json")
    (tmp_path / "other.json").write_text(json.dumps({"info": {}}))
    with pytest.raises(InputError, match=r"other\.json: not a COCO annotation file"):
        read_masks(tmp_path / "other.json")


# ---------------------------------------------------------------- validation and batches


def test_mask_validation_errors(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    Image.fromarray(_boxes(1)[0].astype(np.uint8) * 255).save(folder / "00.png")
    with pytest.raises(
        InputError, match=r"00\.png: mask is 64x48 but the image photo\.jpg is 32x24 \(width x height\)"
    ):
        read_masks(folder, image_size=(24, 32), image_name="photo.jpg")
    Image.fromarray(np.zeros((H, W), np.uint8)).save(folder / "01.png")
    with pytest.raises(InputError, match=r"01\.png: instance mask is empty"):
        read_masks(folder)
    (folder / "01.png").unlink()
    Image.fromarray(np.full((H, W - 1), 255, np.uint8)).save(folder / "02.png")
    with pytest.raises(InputError, match=r"02\.png: mask is 63x48 but the first mask 00\.png is 64x48"):
        read_masks(folder)
    Image.fromarray(np.zeros((H, W), np.uint8)).save(tmp_path / "zero.png")
    with pytest.raises(InputError, match=r"zero\.png: label map has no instances"):
        read_masks(tmp_path / "zero.png")
    Image.fromarray(np.zeros((H, W, 3), np.uint8)).save(tmp_path / "rgb.png")
    with pytest.raises(InputError, match=r"rgb\.png: a label map must have one channel"):
        read_masks(tmp_path / "rgb.png")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"empty: mask folder contains no images"):
        read_masks(tmp_path / "empty")
    with pytest.raises(InputError, match=r"missing: no such mask file or folder"):
        read_masks(tmp_path / "missing")
    with pytest.raises(InputError, match=r"m: mask_format='label' needs a file"):
        read_masks(folder, mask_format="label")
    with pytest.raises(InputError, match=r"m: unknown mask_format 'png'"):
        read_masks(folder, mask_format="png")
    (tmp_path / "bad.png").write_bytes(b"garbage")
    with pytest.raises(InputError, match=r"bad\.png: not an image file Pillow can read"):
        read_masks(tmp_path / "bad.png")


def test_batch_mask_source(tmp_path):
    (tmp_path / "a").mkdir()
    Image.fromarray(np.zeros((2, 2), np.uint8)).save(tmp_path / "b.png")
    assert batch_mask_source(tmp_path, "imgs/a.jpg") == tmp_path / "a"
    assert batch_mask_source(tmp_path, "imgs/b.jpg") == tmp_path / "b.png"
    with pytest.raises(InputError, match=r"no masks for image c\.jpg \(expected .*c/ or .*c\.png\)"):
        batch_mask_source(tmp_path, "imgs/c.jpg")
    with pytest.raises(InputError, match=r"no masks for image b\.jpg \(expected .*b/\)"):
        batch_mask_source(tmp_path, "imgs/b.jpg", mask_format="folder")
    (tmp_path / "all.json").write_text("{}")
    assert batch_mask_source(tmp_path / "all.json", "x.jpg") == tmp_path / "all.json"


# ---------------------------------------------------------------- overlaps and morphology


def test_resolve_overlaps_smaller_wins():
    masks = np.zeros((3, 10, 10), bool)
    masks[0, :, :] = True  # big, e.g. the adult behind
    masks[1, 2:5, 2:5] = True  # small, inside the big one
    masks[2, 3:8, 3:8] = True  # medium, overlaps both
    out = resolve_overlaps(masks)
    assert out.sum(axis=0).max() == 1 and (out.sum(axis=0) == 1).all()
    np.testing.assert_array_equal(out[1], masks[1])  # the smallest keeps everything
    np.testing.assert_array_equal(out[2], masks[2] & ~masks[1])
    np.testing.assert_array_equal(out[0], ~(masks[1] | masks[2]))


def test_resolve_overlaps_ties_and_order_rules():
    masks = np.zeros((2, 4, 4), bool)
    masks[0, :2] = True
    masks[1, 1:3] = True  # same area
    np.testing.assert_array_equal(resolve_overlaps(masks)[0], masks[0])  # tie: lower index
    np.testing.assert_array_equal(resolve_overlaps(masks, "first")[0], masks[0])
    last = resolve_overlaps(masks, "last")
    np.testing.assert_array_equal(last[1], masks[1])
    np.testing.assert_array_equal(last[0], masks[0] & ~masks[1])
    grown = masks.copy()
    grown[0, 3] = True  # now instance 0 is the larger one
    video = resolve_overlaps(np.stack([masks, grown]))  # leading frame axis: areas per frame
    assert video.shape == (2, 2, 4, 4)
    np.testing.assert_array_equal(video[0, 0], masks[0])
    np.testing.assert_array_equal(video[1, 1], masks[1])
    with pytest.raises(ValueError, match="unknown overlap rule 'biggest'"):
        resolve_overlaps(masks, "biggest")


def test_adjust_masks_elliptical():
    masks = np.zeros((2, 21, 21), bool)
    masks[0, 10, 10] = True
    masks[1, 5:16, 5:16] = True
    grown = adjust_masks(masks, dilate=3)
    np.testing.assert_array_equal(grown[0, 7:14, 7:14], ellipse_kernel(7))
    assert grown[0].sum() == ellipse_kernel(7).sum()
    shrunk = adjust_masks(masks, erode=2)
    assert not shrunk[0].any()
    np.testing.assert_array_equal(shrunk[1], ~adjust_masks(~masks[1:], dilate=2)[0])
    opened = adjust_masks(masks, erode=1, dilate=1)
    assert not opened[0].any() and opened[1, 5:16, 6:15].all()  # the speck goes, the square stays
    np.testing.assert_array_equal(adjust_masks(masks), masks)
    with pytest.raises(ValueError, match="radii >= 0"):
        adjust_masks(masks, erode=-1)
