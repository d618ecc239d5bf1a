import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from utils import plot  # noqa: E402


@pytest.mark.parametrize("channels", [1, 3])
def test_image_grid_shapes_and_ranges(channels):
    images = torch.rand(10, channels, 28, 28)
    grid = plot.image_grid(images, nrow=5)
    assert grid.shape == (2 * 28 + 3 * 2, 5 * 28 + 6 * 2, 3)
    assert grid.min() >= 0 and grid.max() <= 1
    # The same images in [-1, 1] give the same grid when the range is declared.
    assert np.allclose(plot.image_grid(images * 2 - 1, nrow=5, value_range=(-1, 1)), grid, atol=1e-6)
    with pytest.raises(ValueError):
        plot.image_grid(torch.rand(4, 2, 8, 8))


def test_figures_draw_without_a_display():
    ax = plot.show_images(torch.rand(16, 1, 8, 8), nrow=8, title="grid")
    assert ax.get_title() == "grid"
    ax = plot.plot_curves({"train": [3, 2, 1], "test": [3, 2.5, 2]}, logy=True)
    assert len(ax.get_lines()) == 2
    plot.plot_samples_2d(torch.randn(100, 2))
    X, Y, density = plot.density_grid(lambda p: -0.5 * (p**2).sum(1) - np.log(2 * np.pi), (-5, 5), (-5, 5), 201)
    cell_area = (10 / 200) ** 2
    assert density.sum() * cell_area == pytest.approx(1.0, abs=1e-3)  # the standard normal integrates to 1
    plot.plot_density_2d(lambda p: -0.5 * (p**2).sum(1))
    plt.close("all")


def test_live_loss_plot_records_history_outside_notebooks():
    live = plot.LiveLossPlot(every=2)
    for step in range(5):
        live.update(train=1.0 / (step + 1), test=2.0)
    live.close()
    assert live.history["train"] == [1.0, 0.5, 1 / 3, 0.25, 0.2] and len(live.history["test"]) == 5
