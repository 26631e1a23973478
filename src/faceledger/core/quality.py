"""Image-quality measures over pixels. Pure numpy, no I/O.

Example::

    sharpness(gray_crop)  # variance of the 4-neighbour Laplacian; higher is sharper
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def sharpness(gray: npt.NDArray[np.generic]) -> float:
    """Variance of the Laplacian of a 2-D grayscale array (0-255 scale).

    A standard focus measure (Pech-Pacheco et al., 2000): blurred or tiny faces score low.
    Returns 0.0 for crops smaller than 3x3. The value depends on resolution, so compare faces
    measured at the same detection scale.
    """
    if gray.ndim != 2 or gray.shape[0] < 3 or gray.shape[1] < 3:
        return 0.0
    g = gray.astype(np.float32)
    lap = g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:] - 4.0 * g[1:-1, 1:-1]
    return float(lap.var())
