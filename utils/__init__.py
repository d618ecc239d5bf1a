"""Shared helpers for the generative-models course notebooks.

Run-time modules, one job each, which notebooks import and students get (``RUNTIME_UTILS`` in
``utils/student_tree.py``): ``config`` (smoke mode, device, seeds, data root), ``data`` (MNIST, CIFAR-10,
WikiText-2 loaders), ``metrics`` (bits/dim, perplexity; IS and FID come from torchmetrics), ``feature_net``
(the course's CIFAR-10 classifier, trained once and cached: the feature network of offline IS/FID-style scores),
``plot`` (image grids, curves, 2-D densities), ``graded`` (what graded cells hand to the autograder).

Instructor tools, only in the instructors' repository, never in the student tree: ``authoring`` (the homework
format), ``release`` (student versions of the homeworks, and ``--export`` of the student tree),
``student_tree`` (what that tree holds), ``colab`` (the setup cell and badges), and the autograder.
"""

from .config import cache_dir, data_root, get_device, is_smoke, pick, seed_everything

__all__ = ["cache_dir", "data_root", "get_device", "is_smoke", "pick", "seed_everything"]
