"""Backbones and data for the trainer: offline ImageNet weights, the registry, grouped splits that never leak."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from flightpaths.errors import InputError, WeightsUnavailableError
from flightpaths.train import backbones
from flightpaths.train.backbones import available_backbones, backbone_spec, build_backbone, register_backbone
from flightpaths.train.data import group_from_name, prepare_array, read_image, scan_dataset, split_dataset


def test_offline_efficientnet_weights_are_imagenet_trained() -> None:
    from sklearn.datasets import load_sample_images
    from timm.data import ImageNetInfo

    model = backbones.efficientnet_lite0_classifier()  # strict load, sha256 checked
    info = ImageNetInfo()
    photos = load_sample_images().images  # a Chinese temple and a flower, shipped with scikit-learn
    x = torch.stack([torch.from_numpy(prepare_array(p, 224)).permute(2, 0, 1).float() / 127.5 - 1 for p in photos])
    with torch.no_grad():
        probs = model(x).softmax(1)
    top5 = [{info.index_to_description(int(i)) for i in row.topk(5).indices} for row in probs]
    assert top5[0] & {"bell cote, bell cot", "monastery", "palace", "boathouse", "pagoda, pagoda", "church, church building"}
    assert "daisy" in top5[1]
    random = __import__("timm").create_model("tf_efficientnet_lite0", pretrained=False, num_classes=1000).eval()
    with torch.no_grad():
        random_entropy = -(random(x).softmax(1) * random(x).log_softmax(1)).sum(1)
    entropy = -(probs * probs.clamp_min(1e-12).log()).sum(1)
    assert (entropy < random_entropy).all() and entropy.mean() < random_entropy.mean() - 1.0


def test_body_features_come_from_the_pretrained_weights() -> None:
    pre = build_backbone("efficientnet_lite0")
    rnd = build_backbone("efficientnet_lite0", weights="none")
    assert pre.pretrained and not rnd.pretrained
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        a, b = pre.body.eval()(x), rnd.body.eval()(x)
    assert a.shape == (2, 1280, 2, 2) and not torch.allclose(a, b)
    assert len(pre.body) == 3  # three layer groups


def test_registry_refuses_duplicates_and_lists_choices() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_backbone("efficientnet_lite0", input_size=224, mean=(0.5,) * 3, std=(0.5,) * 3)(lambda w: None)
    with pytest.raises(ValueError, match="choose from .*efficientnet_lite0.*resnet18"):
        backbone_spec("vgg99")
    assert {"efficientnet_lite0", "resnet18", "resnet34", "resnet50"} <= set(available_backbones())
    assert backbone_spec("timm:mobilenetv3_small_050").name == "timm:mobilenetv3_small_050"


def test_missing_torchvision_weights_say_what_to_pass(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def offline(*args: object, **kwargs: object) -> None:
        raise OSError("network is unreachable")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(WeightsUnavailableError, match=r"--weights PATH.*resnet18-f37072fd\.pth|resnet18-f37072fd\.pth.*--weights PATH"):
        build_backbone("resnet18")
    import torchvision
    from safetensors.torch import save_file

    save_file(torchvision.models.resnet18().state_dict(), str(tmp_path / "r18.safetensors"))
    built = build_backbone("resnet18", weights=tmp_path / "r18.safetensors")
    assert built.n_features == 512 and built.pretrained
    with pytest.raises(WeightsUnavailableError, match="not found"):
        build_backbone("resnet18", weights=tmp_path / "absent.pth")


def test_rgba_and_odd_sizes_become_square_rgb(tmp_path: Path) -> None:
    rgba = np.zeros((30, 60, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = 255
    rgba[:, :10, 3] = 0  # transparent strip -> black
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    img = read_image(tmp_path / "a.png", 32)
    assert img.shape == (32, 32, 3) and img.dtype == np.uint8
    assert img[16, 16, 0] > 150 and img[0, 16].max() == 0  # padded top is black


def test_group_keys_from_names() -> None:
    assert group_from_name("N917PD2019-03-25_01_10_14.png", "object") == "N917PD 2019-03-25"
    assert group_from_name("N917PD2019-03-25_01_10_14.png", "file") == "N917PD2019-03-25_01_10_14"
    assert group_from_name("whatever.png", "object") == "whatever"


def _folder(root: Path, n_groups: int = 10, per_group: int = 3) -> Path:
    rng = np.random.default_rng(0)
    for g in range(n_groups):
        cls = "circling" if g % 2 else "not_circling"
        (root / cls).mkdir(parents=True, exist_ok=True)
        for k in range(per_group):
            arr = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
            Image.fromarray(arr).save(root / cls / f"ac{g:02d}_1_20240101T10{k:02d}00_300s.png")
    # byte-identical copies of one image under other objects' names (as in the quartz folder)
    src = root / "circling" / "ac01_1_20240101T100000_300s.png"
    shutil.copy(src, root / "circling" / "ac03_1_20240101T105900_300s.png")
    shutil.copy(src, root / "circling" / "ac05_1_20240101T105900_300s.png")
    return root


@pytest.mark.parametrize("seed", range(6))
def test_grouped_split_never_leaks(tmp_path: Path, seed: int) -> None:
    data = scan_dataset(_folder(tmp_path), group_by="object")
    split = split_dataset(data, valid_frac=0.25, seed=seed)
    assert not set(split.train) & set(split.valid)
    left_out = len(data) - len(split.train) - len(split.valid)  # validation copies of training images
    assert left_out == 0 or any(f"{left_out} validation image(s) left out" in n for n in split.notes)
    objects = [g.split(":")[1].split("_")[0] for g in data.groups]
    assert not {objects[i] for i in split.train} & {objects[i] for i in split.valid}
    digests = [hashlib.sha256(p.read_bytes()).hexdigest() for p in data.paths]
    assert not {digests[i] for i in split.train} & {digests[i] for i in split.valid}
    for k in range(len(data.classes)):  # stratified: every class on both sides
        assert (data.labels[split.train] == k).any() and (data.labels[split.valid] == k).any()
    assert split.duplicate_sets == 1


def test_split_needs_two_groups_per_class(tmp_path: Path) -> None:
    data = scan_dataset(_folder(tmp_path, n_groups=3), group_by="object")
    with pytest.raises(InputError, match="only 1 group"):
        split_dataset(data)


def test_explicit_valid_folder(tmp_path: Path) -> None:
    for side in ("train", "valid"):
        _folder(tmp_path / side)
    data = scan_dataset(tmp_path)
    split = split_dataset(data)
    assert split.method == "explicit valid/ folder"
    assert {data.paths[i].parts[-3] for i in split.valid} == {"valid"}
    assert any("appear in both" in n for n in split.notes)  # the same names on both sides are reported


def test_bad_dataset_messages(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="need at least two"):
        scan_dataset(tmp_path)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    Image.new("RGB", (4, 4)).save(tmp_path / "a" / "x.png")
    with pytest.raises(InputError, match="b hold no images"):
        scan_dataset(tmp_path)


@pytest.mark.realdata
def test_quartz_folder_split_keeps_duplicates_together(shared_data: Path) -> None:
    root = shared_data / "images" / "quartz-choppers"
    data = scan_dataset(root, group_by="object")
    assert data.classes == ("circling", "not_circling") and len(data) == 183
    split = split_dataset(data, seed=0)
    digests = [hashlib.sha256(p.read_bytes()).hexdigest() for p in data.paths]
    assert len(set(digests)) < len(digests)  # the folder does hold repeated maps
    assert not {digests[i] for i in split.train} & {digests[i] for i in split.valid}
    assert split.duplicate_sets > 0


def test_public_names_are_explicit_and_sorted() -> None:
    import importlib

    for name in ("backbones", "bundle", "data", "engine", "lr_find", "metrics", "model", "predict"):
        module = importlib.import_module(f"flightpaths.train.{name}")
        assert module.__all__ == sorted(module.__all__), name
        assert all(hasattr(module, n) for n in module.__all__), name
