"""Shared helpers for the generative-models course notebooks.

Modules, one job each: ``config`` (smoke mode, device, seeds, data root), ``data`` (MNIST, CIFAR-10,
WikiText-2 loaders), ``metrics`` (bits/dim, perplexity, Fréchet distance, Inception Score), ``plot``
(image grids, curves, 2-D densities). Instructor tools: ``colab`` (the setup cell and badges),
``release`` (student versions of the homeworks).
"""

from .config import cache_dir, data_root, get_device, is_smoke, pick, seed_everything

__all__ = ["cache_dir", "data_root", "get_device", "is_smoke", "pick", "seed_everything"]
