"""Figures used across the course: image grids, training curves, 2-D samples and densities, and a loss
plot that redraws itself while a notebook trains."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch


def image_grid(images: torch.Tensor, nrow: int = 8, value_range: tuple[float, float] = (0.0, 1.0)) -> np.ndarray:
    """Tile images (N, C, H, W), C = 1 or 3, with values in ``value_range`` ((0, 1), or (-1, 1) for tanh
    outputs), into one (H', W', 3) float array in [0, 1] ready for ``imshow``."""
    from torchvision.utils import make_grid

    if images.dim() != 4 or images.size(1) not in (1, 3):
        raise ValueError(f"images must be (N, 1 or 3, H, W), got {tuple(images.shape)}")
    low, high = value_range
    x = ((images.detach().float().cpu() - low) / (high - low)).clamp(0, 1)
    grid = make_grid(x, nrow=nrow, padding=2, pad_value=1.0)  # (3, H', W'): make_grid repeats 1 channel
    return grid.permute(1, 2, 0).numpy()


def show_images(
    images: torch.Tensor,
    nrow: int = 8,
    value_range: tuple[float, float] = (0.0, 1.0),
    title: str | None = None,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Show a grid of images (N, C, H, W); see :func:`image_grid`."""
    grid = image_grid(images, nrow, value_range)
    if ax is None:
        _, ax = plt.subplots(figsize=(min(12, 1.2 * nrow), 1.2 * np.ceil(len(images) / nrow)))
    ax.imshow(grid, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def plot_curves(
    curves: Mapping[str, Sequence[float]],
    xlabel: str = "step",
    ylabel: str = "loss",
    logy: bool = False,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Plot named curves, e.g. ``{"train": [...], "test": [...]}``, against their index."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    for name, values in curves.items():
        ax.plot(np.arange(len(values)), np.asarray(values, dtype=float), label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    return ax


def plot_samples_2d(points, ax: plt.Axes | None = None, title: str | None = None, **scatter_kwargs) -> plt.Axes:
    """Scatter 2-D samples (N, 2), small translucent dots by default."""
    xy = np.asarray(points.detach().cpu() if torch.is_tensor(points) else points)
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    kwargs = {"s": 4, "alpha": 0.5} | scatter_kwargs
    ax.scatter(xy[:, 0], xy[:, 1], **kwargs)
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    return ax


def density_grid(
    log_density: Callable[[np.ndarray], np.ndarray],
    xlim: tuple[float, float],
    ylim: tuple[float, float],
    resolution: int = 200,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Evaluate ``log_density`` on a regular grid. It receives points (resolution**2, 2) and returns
    (resolution**2,) log-densities; returns the grid ``X, Y`` and the density ``exp(log p)``, each
    (resolution, resolution)."""
    xs, ys = np.linspace(*xlim, resolution), np.linspace(*ylim, resolution)
    X, Y = np.meshgrid(xs, ys)
    log_p = np.asarray(log_density(np.stack([X.ravel(), Y.ravel()], axis=1)), dtype=float)
    return X, Y, np.exp(log_p).reshape(X.shape)


def plot_density_2d(
    log_density: Callable[[np.ndarray], np.ndarray],
    xlim: tuple[float, float] = (-4, 4),
    ylim: tuple[float, float] = (-4, 4),
    resolution: int = 200,
    levels: int = 12,
    ax: plt.Axes | None = None,
    title: str | None = None,
) -> plt.Axes:
    """Filled contours of a 2-D density given by its log-density (see :func:`density_grid`)."""
    X, Y, density = density_grid(log_density, xlim, ylim, resolution)
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    ax.contourf(X, Y, density, levels=levels, cmap="viridis")
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    return ax


class LiveLossPlot:
    """A loss plot that redraws in place in a notebook while training runs.

    Usage::

        live = LiveLossPlot(every=50)
        for step in ...:
            live.update(train=loss.item())          # any named series
        live.close()                                # final static figure

    Outside a notebook (scripts, tests) it only records the values; ``history`` holds them either way.
    """

    def __init__(self, every: int = 50, logy: bool = False, title: str | None = None):
        self.every, self.logy, self.title = every, logy, title
        self.history: dict[str, list[float]] = {}
        self._calls = 0
        self._handle = None

    def update(self, **values: float) -> None:
        for name, value in values.items():
            self.history.setdefault(name, []).append(float(value))
        self._calls += 1
        if self._calls % self.every == 0:
            self._draw()

    def _draw(self) -> None:
        try:
            from IPython import get_ipython
            from IPython.display import display
        except ImportError:
            return
        if get_ipython() is None:
            return
        fig, ax = plt.subplots(figsize=(6, 3.5))
        plot_curves(self.history, logy=self.logy, ax=ax)
        if self.title:
            ax.set_title(self.title)
        if self._handle is None:
            self._handle = display(fig, display_id=True)
        else:
            self._handle.update(fig)
        plt.close(fig)

    def close(self) -> None:
        """Draw the final state."""
        self._draw()
