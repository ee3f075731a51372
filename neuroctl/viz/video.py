"""A video of a run, rendered after the run from the logged states (a frame costs milliseconds: never
inside the control tick).

Every `stride`-th tick becomes a frame so that the video plays in real time at about `TARGET_FPS`
frames per second; each frame is the environment's `render_observation` of the tick's logged observation,
with an overlay of the time, the tick's compute time, its spikes and any push acting. mp4 through
imageio-ffmpeg (H.264), gif through Pillow; the file is written to a temporary name and renamed.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import numpy as np

from neuroctl.control.base import SPIKES
from neuroctl.runtime.robots import describe
from neuroctl.viz.info import RunInfo

TARGET_FPS = 25.0
VIDEO_PACKAGES = {".mp4": ("imageio_ffmpeg", "PIL"), ".gif": ("PIL",)}
"""Video formats by suffix and the modules each needs (PIL draws the overlay)."""
TEXT_COLOUR = (20, 20, 20)
PUSH_TEXT_COLOUR = (200, 30, 30)
FONT_SIZE_PX = 13


class VideoError(Exception):
    """The video cannot be made (bad path, missing package, environment that cannot render states)."""


@dataclass(frozen=True)
class VideoReport:
    """What was written: frames of (width, height) at `fps`, the render time per frame, and notes on how
    the frames differ from the true state."""

    path: Path
    frames: int
    fps: float
    frame_size: tuple[int, int]
    render_s_per_frame: float
    notes: tuple[str, ...]


def check_video_path(path: str | Path) -> None:
    """Raise VideoError unless `path` ends in a supported suffix and its packages are installed."""
    suffix = Path(path).suffix.lower()
    if suffix not in VIDEO_PACKAGES:
        raise VideoError(f"expected a path ending in .mp4 or .gif, got {str(path)!r}")
    missing = [name for name in VIDEO_PACKAGES[suffix] if importlib.util.find_spec(name) is None]
    if missing:
        raise VideoError(f"writing {suffix} needs {', '.join(missing)}: pip install 'neuroctl[viz]'")


def frame_stride(control_period_s: float, target_fps: float = TARGET_FPS) -> int:
    """Ticks per frame for real-time playback at about `target_fps`."""
    return max(1, round(1.0 / (target_fps * control_period_s)))


def render_video(path: Path, env: Any, trajectory: Mapping[str, np.ndarray], info: RunInfo,
                 on_frame: Callable[[int, int], None] | None = None) -> VideoReport:
    """Render the run in `trajectory` with `env` (a fresh instance of the run's environment) to `path`."""
    check_video_path(path)
    if not describe(env).renderable:
        raise VideoError(f"{type(env.unwrapped).__name__} cannot render logged observations (it has no "
                         "render_observation, see neuroctl.envs.robot.RenderableRobot)")
    if len(trajectory["time_s"]) == 0:
        raise VideoError("the run recorded no ticks")
    stride = frame_stride(info.control_period_s)
    fps = 1.0 / (stride * info.control_period_s)
    ticks = np.arange(0, len(trajectory["time_s"]), stride)
    observations, notes = logged_observations(trajectory["observation"], info.noise_std)
    overlay = Overlay(trajectory, info)
    started = time.perf_counter()
    frames = (overlay.draw(env.unwrapped.render_observation(observations[k]), k) for k in ticks)
    size = _write(path, _with_progress(frames, len(ticks), on_frame), fps)
    elapsed = time.perf_counter() - started
    return VideoReport(path, len(ticks), fps, size, elapsed / max(1, len(ticks)), notes)


def logged_observations(observation: np.ndarray, noise_std: float) -> tuple[np.ndarray, tuple[str, ...]]:
    """The observations to render, and notes where they are not the true state: a reading with a
    non-finite value (a sensor fault) is replaced by the last finite one (zeros before the first)."""
    observations = np.array(observation, dtype=np.float64)
    notes = []
    if noise_std:
        notes.append(f"the observation is noisy (std {noise_std:g}): the video shows the noisy observations, "
                     "not the true state")
    faulty = ~np.all(np.isfinite(observations), axis=1)
    if faulty.any():
        _hold_last_finite(observations, faulty)
        notes.append(f"{faulty.sum()} ticks logged a non-finite reading: they show the last finite one")
    return observations, tuple(notes)


def _hold_last_finite(states: np.ndarray, faulty: np.ndarray) -> None:
    """Replace the `faulty` rows of `states` in place by the last good row before them (zeros at first)."""
    last = np.zeros(states.shape[1])
    for k in range(len(states)):
        if faulty[k]:
            states[k] = last
        else:
            last = states[k]


def _with_progress(frames: Iterator[np.ndarray], total: int,
                   on_frame: Callable[[int, int], None] | None) -> Iterator[np.ndarray]:
    """The frames, calling on_frame(frames done, total) after each."""
    for index, frame in enumerate(frames, start=1):
        yield frame
        if on_frame is not None:
            on_frame(index, total)


class Overlay:
    """Text drawn onto each frame: time, the tick's compute time, spikes per tick, an active push."""

    def __init__(self, trajectory: Mapping[str, np.ndarray], info: RunInfo) -> None:
        from PIL import ImageFont

        self.time_s = trajectory["time_s"]
        self.tick_us = 1e6 * trajectory["tick_s"]
        self.spikes = trajectory["activity"][:, SPIKES] if "raster" in trajectory else None
        self.pushes = info.pushes
        self.period = info.control_period_s
        try:
            self.font = ImageFont.load_default(size=FONT_SIZE_PX)
        except (TypeError, OSError):  # Pillow < 10.1 or without FreeType: the small bitmap font
            self.font = ImageFont.load_default()

    def lines(self, k: int) -> list[str]:
        """The text of tick k's frame (spikes only for spiking controllers)."""
        lines = [f"t = {self.time_s[k]:.2f} s", f"tick compute {self.tick_us[k]:.1f} us"]
        if self.spikes is not None:
            lines.append(f"spikes this tick: {self.spikes[k]}")
        return lines

    def push_text(self, k: int) -> str:
        """The pushes acting during tick k, e.g. 'push +1 N'."""
        start, end = k * self.period, (k + 1) * self.period
        forces = [force for first, last, force in self.pushes if first < end and last > start]
        return f"push {sum(forces):+g} N" if forces else ""

    def draw(self, frame: np.ndarray, k: int) -> np.ndarray:
        """`frame` with tick k's text at the top left and any push at the top right."""
        from PIL import Image, ImageDraw

        image = Image.fromarray(frame)
        draw = ImageDraw.Draw(image)
        draw.multiline_text((6, 4), "\n".join(self.lines(k)), fill=TEXT_COLOUR, font=self.font, spacing=2)
        push = self.push_text(k)
        if push:
            draw.text((image.width - 6, 4), push, fill=PUSH_TEXT_COLOUR, font=self.font, anchor="ra")
        return np.asarray(image)


def _write(path: Path, frames: Iterator[np.ndarray], fps: float) -> tuple[int, int]:
    """Write the frames into a temporary directory beside `path`, then rename the file into place (the
    directory goes, whatever happens); returns (width, height)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = _write_mp4 if path.suffix.lower() == ".mp4" else _write_gif
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=f".{path.name}.") as tmp_dir:
        tmp_path = Path(tmp_dir) / path.name
        size = writer(tmp_path, frames, fps)
        os.replace(tmp_path, path)
    return size


def _write_mp4(path: Path, frames: Iterator[np.ndarray], fps: float) -> tuple[int, int]:
    """H.264 through imageio-ffmpeg, frame by frame (nothing held in memory)."""
    import imageio_ffmpeg

    writer = None
    size = (0, 0)
    try:
        for frame in frames:
            if writer is None:
                size = (frame.shape[1], frame.shape[0])
                writer = imageio_ffmpeg.write_frames(str(path), size, fps=fps, codec="libx264", quality=7,
                                                     macro_block_size=16, ffmpeg_log_level="error")
                writer.send(None)
            writer.send(np.ascontiguousarray(frame))
    finally:
        if writer is not None:
            writer.close()
    return size


def _write_gif(path: Path, frames: Iterator[np.ndarray], fps: float) -> tuple[int, int]:
    """GIF frame times are whole centiseconds: 1/fps is rounded to the nearest 10 ms."""
    from PIL import Image

    images = [Image.fromarray(frame).convert("P", palette=Image.Palette.ADAPTIVE) for frame in frames]
    duration_ms = 10 * max(2, round(100.0 / fps))
    images[0].save(path, format="GIF", save_all=True, append_images=images[1:], duration=duration_ms, loop=0)
    return images[0].size
