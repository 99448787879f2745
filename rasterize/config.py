"""The render configuration: everything that affects pixels, frozen, versioned, JSON round-trip.

A CNN trained on one drawing fails on another, so the config travels with the images
(``render_config.json`` beside them) and with the model bundle. Two configs that compare
equal draw byte-identical images.

Why the defaults are what they are (recommended for circling detection, see
``NOTES-circling.md``):

- ``size=128``: enough to show a 60-point orbit with its crossings; resized cheaply to the
  CNN's input.
- ``frame="fit"`` with ``min_extent_m=1000``: fit framing keeps shape (fixed 6 km framing made
  long straight lines look alike), but a parked aircraft's 30 m of GPS jitter is drawn as a
  small blob in the middle of a 1 km frame instead of being blown up into an orbit-like
  scribble. Small orbits (a 300 m helicopter circle) still fill half the image.
- Three channels through FIXED ranges, never rescaled per image:

  * R = ``progress`` (time since window start / window length): start dim, end bright, so
    "came back to where it was" is visible as a bright stroke crossing a dim one.
  * G = ``speed`` 0-300 kt: parked/taxiing (near 0) versus airborne.
  * B = ``extent`` on a log scale, 100 m to 100 km: the scale cue. Fit framing removes size,
    this channel gives it back, so a 30 m jitter and a 3 km orbit never look the same.

  Every channel has a ``floor`` (0.25) so the lowest value is still drawn, never invisible.
- ``dot_radius=2``, ``dot_spacing=6``: a point whose neighbours are both at least 6 px
  away is also a disc (4 px across, the line is 1.5), so a 3-4-point window (60 s sampling)
  reads as points joined by lines, not a bare hook, while a densely sampled track stays a
  plain line (dots on every point of a dense track would thicken it and let the model tell
  sampling rates apart instead of shapes).
- ``gap_s=150`` drawn ``dim``: sparse 60 s tracks stay solid; real gaps (missing points) are
  shown but fainter, like the dashed segments reporters know from the Quartz maps.
- ``line_width=1.5``: thin enough that crossings stay distinct at 128 px, thick enough to
  survive resizing to 224 px with anti-aliasing.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CONFIG_VERSION",
    "Channel",
    "FRAMES",
    "GAP_STYLES",
    "RenderConfig",
    "VARIABLES",
    "default_channel",
]

#: Bump when a change to the drawing code or config fields changes pixels.
CONFIG_VERSION = 1

#: Per-point variables a channel can map, with their default fixed ranges (lo, hi, log).
VARIABLES: dict[str, tuple[float, float, bool]] = {
    "altitude": (0.0, 20000.0, False),  # ft
    "constant": (0.0, 1.0, False),  # always 1: plain white line
    "cumturn": (-720.0, 720.0, False),  # cumulative heading change, deg (signed)
    "extent": (100.0, 100000.0, True),  # the window's data extent in its units, log scale
    "progress": (0.0, 1.0, False),  # time since window start / window length
    "speed": (0.0, 300.0, False),  # kt (px/s for screen tracks)
    "time": (0.0, 300.0, False),  # seconds since window start
    "turn": (-6.0, 6.0, False),  # turn rate, deg/s (signed; 3 deg/s is a standard-rate turn)
}
FRAMES = ("fit", "scale")
GAP_STYLES = ("dashed", "dim", "omit", "solid")


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


def _finite(name: str, value: Any, *, positive: bool = False, nonneg: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    _check(ok, f"{name} must be a finite number, got {value!r}")
    if positive:
        _check(value > 0, f"{name} must be > 0, got {value!r}")
    if nonneg:
        _check(value >= 0, f"{name} must be >= 0, got {value!r}")


@dataclass(frozen=True)
class Channel:
    """One output channel: a per-point variable mapped through a fixed range to intensity.

    Intensity = ``floor + (1 - floor) * clip((v - lo) / (hi - lo), 0, 1)`` (with ``log10``
    of v, lo, hi when ``log``); a missing (NaN) value gets ``floor``.

    >>> Channel("speed", 0, 300).intensity(150.0)
    0.625
    """

    var: str = "constant"
    lo: float = 0.0
    hi: float = 1.0
    log: bool = False
    floor: float = 0.25

    def __post_init__(self) -> None:
        _check(self.var in VARIABLES, f"channel variable {self.var!r} is unknown; choose from {', '.join(sorted(VARIABLES))}")
        _finite(f"channel {self.var!r} lo", self.lo)
        _finite(f"channel {self.var!r} hi", self.hi)
        _check(self.hi > self.lo, f"channel {self.var!r}: hi ({self.hi}) must be greater than lo ({self.lo})")
        _check(isinstance(self.log, bool), f"channel {self.var!r}: log must be true or false, got {self.log!r}")
        if self.log:
            _check(self.lo > 0, f"channel {self.var!r}: a log range needs lo > 0, got {self.lo}")
        _finite(f"channel {self.var!r} floor", self.floor)
        _check(0 <= self.floor <= 1, f"channel {self.var!r}: floor must be within 0..1, got {self.floor}")

    def intensity(self, value: float) -> float:
        """The intensity (0..1) of one value; the vectorised form lives in the renderer."""
        if value != value:  # NaN
            return self.floor
        if self.log:
            lo, hi, v = math.log10(self.lo), math.log10(self.hi), math.log10(max(value, self.lo))
        else:
            lo, hi, v = self.lo, self.hi, value
        return self.floor + (1 - self.floor) * min(max((v - lo) / (hi - lo), 0.0), 1.0)


def default_channel(var: str) -> Channel:
    """A channel for *var* with its default fixed range.

    >>> default_channel("extent")
    Channel(var='extent', lo=100.0, hi=100000.0, log=True, floor=0.25)
    """
    if var not in VARIABLES:
        raise ValueError(f"colour variable {var!r} is unknown; choose from {', '.join(sorted(VARIABLES))}")
    lo, hi, log = VARIABLES[var]
    return Channel(var, lo, hi, log)


_DEFAULT_CHANNELS = (default_channel("progress"), default_channel("speed"), default_channel("extent"))
_DEFAULT_EVENTS = (
    ("left", (1.0, 1.0, 1.0)),
    ("middle", (0.0, 1.0, 0.0)),
    ("right", (1.0, 0.0, 1.0)),
)


@dataclass(frozen=True)
class RenderConfig:
    """Everything that affects pixels. Lengths in output pixels unless the name says units.

    ``*_m`` fields apply to tracks in metres, ``*_px`` fields to screen tracks in pixels.
    Colours (events, markers, background) are intensities 0..1; a colour's entries are used
    cyclically across the output channels (one entry = grey in every channel).

    >>> cfg = RenderConfig(size=64, frame="scale")
    >>> RenderConfig.from_json(cfg.to_json()) == cfg
    True
    >>> RenderConfig(size=3)
    Traceback (most recent call last):
    ...
    ValueError: size must be an integer from 4 to 4096, got 3
    """

    version: int = CONFIG_VERSION
    size: int = 128
    channels: tuple[Channel, ...] = _DEFAULT_CHANNELS
    background: tuple[float, ...] = (0.0,)
    line_width: float = 1.5
    dot_radius: float = 2.0
    dot_spacing: float = 6.0
    frame: str = "fit"
    padding: float = 0.06
    min_extent_m: float = 1000.0
    min_extent_px: float = 64.0
    scale_m: float = 50.0
    scale_px: float = 8.0
    max_extent: float = 1.0e8
    gap_s: float = 150.0
    gap_style: str = "dim"
    gap_alpha: float = 0.4
    dash_on: float = 3.0
    dash_off: float = 3.0
    event_radius: float = 2.5
    event_colors: tuple[tuple[str, tuple[float, ...]], ...] = _DEFAULT_EVENTS
    default_event_color: tuple[float, ...] = (1.0, 1.0, 0.0)
    markers: bool = False
    marker_radius: float = 2.5
    start_color: tuple[float, ...] = (0.0, 1.0, 0.0)
    end_color: tuple[float, ...] = (1.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        self._check_layout()
        self._check_numbers()
        self._check_colours()

    def _check_layout(self) -> None:
        """Version, size, channels, frame and gap style."""
        _check(
            isinstance(self.version, int) and self.version == CONFIG_VERSION,
            f"render config version {self.version!r} is not supported; this rasterize reads version {CONFIG_VERSION}",
        )
        size_ok = isinstance(self.size, int) and not isinstance(self.size, bool) and 4 <= self.size <= 4096
        _check(size_ok, f"size must be an integer from 4 to 4096, got {self.size!r}")
        _check(isinstance(self.channels, tuple) and len(self.channels) >= 1, "channels must be a non-empty tuple of Channel")
        for ch in self.channels:
            _check(isinstance(ch, Channel), f"channels must hold Channel objects, got {ch!r}")
        _check(self.frame in FRAMES, f"frame {self.frame!r} is unknown; choose from {', '.join(FRAMES)}")
        _check(self.gap_style in GAP_STYLES, f"gap_style {self.gap_style!r} is unknown; choose from {', '.join(GAP_STYLES)}")

    def _check_numbers(self) -> None:
        """Widths, radii, scales and fractions: finite and in range."""
        for name in ("line_width", "scale_m", "scale_px", "max_extent", "gap_s", "dash_on"):
            _finite(name, getattr(self, name), positive=True)
        for name in ("dot_radius", "dot_spacing", "min_extent_m", "min_extent_px", "event_radius", "marker_radius", "dash_off"):
            _finite(name, getattr(self, name), nonneg=True)
        _finite("padding", self.padding)
        _check(0 <= self.padding < 0.5, f"padding must be within 0..0.5 (a fraction of the size per side), got {self.padding}")
        _finite("gap_alpha", self.gap_alpha)
        _check(0 <= self.gap_alpha <= 1, f"gap_alpha must be within 0..1, got {self.gap_alpha}")
        _check(max(self.line_width, self.dot_radius, self.event_radius, self.marker_radius) <= 32, "line_width and radii must be at most 32 px")
        _check(isinstance(self.markers, bool), f"markers must be true or false, got {self.markers!r}")

    def _check_colours(self) -> None:
        """Every colour a non-empty tuple of intensities in 0..1; event colours put in canonical order."""
        colours = [("background", self.background), ("default_event_color", self.default_event_color)]
        colours += [("start_color", self.start_color), ("end_color", self.end_color)]
        _check(isinstance(self.event_colors, tuple), "event_colors must be a tuple of (kind, colour) pairs")
        for pair in self.event_colors:
            _check(isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], str),
                   f"event_colors entry {pair!r} is not a (kind, colour) pair")
            colours.append((f"event colour {pair[0]!r}", pair[1]))
        object.__setattr__(self, "event_colors", tuple(sorted(self.event_colors)))  # canonical order
        for name, colour in colours:
            _check(isinstance(colour, tuple) and len(colour) >= 1, f"{name} must be a non-empty tuple of intensities, got {colour!r}")
            for c in colour:
                _finite(name, c)
                _check(0 <= c <= 1, f"{name} intensities must be within 0..1, got {colour!r}")

    @property
    def n_channels(self) -> int:
        """Number of output channels (C in H x W x C)."""
        return len(self.channels)

    def colour(self, colour: tuple[float, ...]) -> tuple[float, ...]:
        """*colour* spread over the output channels (entries used cyclically).

        >>> RenderConfig(channels=(Channel(),)).colour((0.5, 1.0, 1.0))
        (0.5,)
        >>> RenderConfig().colour((0.5,))
        (0.5, 0.5, 0.5)
        """
        return tuple(colour[i % len(colour)] for i in range(self.n_channels))

    def replace(self, **changes: Any) -> RenderConfig:
        """A copy with *changes* (validated like a new config)."""
        return dataclasses.replace(self, **changes)

    def with_color_by(self, variables: list[str] | tuple[str, ...]) -> RenderConfig:
        """A copy whose channels map *variables* (in order) with their default ranges.

        >>> [c.var for c in RenderConfig().with_color_by(["speed", "time"]).channels]
        ['speed', 'time']
        """
        return self.replace(channels=tuple(default_channel(v) for v in variables))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (channels as dicts, event colours as a mapping)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "channels":
                value = [dataclasses.asdict(c) for c in value]
            elif f.name == "event_colors":
                value = {kind: list(col) for kind, col in value}
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    def to_json(self) -> str:
        """Canonical JSON (sorted keys, fixed indent): equal configs give equal text."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RenderConfig:
        """Build from :meth:`to_dict` output; unknown keys and bad values raise ValueError."""
        _check(isinstance(data, dict), f"a render config must be a JSON object, got {type(data).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        _check(not unknown, f"unknown render config field(s) {', '.join(map(repr, unknown))}; valid fields: {', '.join(sorted(names))}")
        _check("version" in data, f"render config has no 'version' (this rasterize reads version {CONFIG_VERSION})")
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key == "channels":
                _check(isinstance(value, list), "channels must be a list of objects")
                chans = []
                for i, c in enumerate(value):
                    _check(isinstance(c, dict), f"channel {i} must be an object, got {c!r}")
                    bad = sorted(set(c) - {f.name for f in dataclasses.fields(Channel)})
                    _check(not bad, f"channel {i} has unknown field(s) {', '.join(map(repr, bad))}")
                    chans.append(Channel(**c))
                value = tuple(chans)
            elif key == "event_colors":
                _check(isinstance(value, dict), "event_colors must be an object mapping kind to colour")
                value = tuple((str(k), tuple(v) if isinstance(v, list) else v) for k, v in sorted(value.items()))
            elif isinstance(value, list):
                value = tuple(value)
            kwargs[key] = value
        return cls(**kwargs)

    @classmethod
    def from_json(cls, text: str) -> RenderConfig:
        """Parse :meth:`to_json` output (ValueError with the reason on bad text)."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"render config is not valid JSON: {exc}") from None
        return cls.from_dict(data)

