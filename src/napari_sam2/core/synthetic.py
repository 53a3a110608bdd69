"""Synthetic fluorescence stacks with ground-truth labels, generated in code.

Used for the demo, napari sample data, tests and benchmarks. Cells are
textured ellipses that drift smoothly; the image has blur, an uneven
background, Poisson and Gaussian noise and a 16-bit camera offset.
"""

from __future__ import annotations

import numpy as np

__all__ = ["synthetic_timelapse"]


def _blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur (numpy only)."""
    radius = max(1, int(3 * sigma))
    x = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (x / sigma) ** 2)
    kernel /= kernel.sum()
    out = np.apply_along_axis(np.convolve, 0, image, kernel, mode="same")
    return np.apply_along_axis(np.convolve, 1, out, kernel, mode="same")


def synthetic_timelapse(n_frames: int = 20, shape: tuple[int, int] = (256, 256),
                        n_cells: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A fluorescence time-lapse of drifting cells and its label stack.

    Parameters
    ----------
    n_frames : int
        Number of frames.
    shape : (rows, cols)
        Frame size.
    n_cells : int
        Number of cells (label ids 1..n_cells, constant over time).
    seed : int
        Random seed; the same seed gives the same stack.

    Returns
    -------
    image : uint16 array (n_frames, rows, cols)
    labels : uint16 array (n_frames, rows, cols)
    """
    rng = np.random.default_rng(seed)
    rows, cols = shape
    rr, cc = np.mgrid[0:rows, 0:cols].astype(np.float32)
    radius = rng.uniform(0.06, 0.1, n_cells) * min(shape)
    aspect = rng.uniform(0.7, 1.0, n_cells)
    angle = rng.uniform(0, np.pi, n_cells)
    brightness = rng.uniform(0.5, 1.0, n_cells)
    centre = np.stack([rng.uniform(0.2, 0.8, n_cells) * rows,
                       rng.uniform(0.2, 0.8, n_cells) * cols], axis=1)
    velocity = rng.normal(0, 0.01 * min(shape), (n_cells, 2))
    texture = _blur(rng.random(shape).astype(np.float32), 2.0)
    texture = 0.7 + 0.6 * (texture - texture.min()) / (np.ptp(texture) + 1e-6)
    background = 0.05 + 0.05 * (cc / cols) + 0.03 * (rr / rows)
    images = np.zeros((n_frames, rows, cols), np.uint16)
    labels = np.zeros((n_frames, rows, cols), np.uint16)
    for t in range(n_frames):
        signal = background.copy()
        for i in range(n_cells):
            r0, c0 = centre[i] + velocity[i] * t
            dr, dc = rr - r0, cc - c0
            u = dr * np.cos(angle[i]) + dc * np.sin(angle[i])
            v = -dr * np.sin(angle[i]) + dc * np.cos(angle[i])
            inside = (u / radius[i]) ** 2 + (v / (radius[i] * aspect[i])) ** 2 <= 1
            labels[t][inside & (labels[t] == 0)] = i + 1
            signal[inside] += brightness[i] * texture[inside]
        photons = rng.poisson(_blur(signal, 1.5) * 400).astype(np.float32)
        noisy = photons + rng.normal(0, 8, shape) + 32768
        images[t] = np.clip(noisy, 0, 65535).astype(np.uint16)
    return images, labels


def synthetic_zstack(n_planes: int = 24, shape: tuple[int, int] = (192, 192), n_nuclei: int = 5,
                     seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """A fluorescence z-stack of ellipsoidal nuclei and its label stack.

    Parameters
    ----------
    n_planes : int
        Number of z planes.
    shape : (rows, cols)
        Plane size.
    n_nuclei : int
        Number of nuclei (label ids 1..n_nuclei).
    seed : int
        Random seed.

    Returns
    -------
    image : uint16 array (n_planes, rows, cols)
    labels : uint16 array (n_planes, rows, cols)
    """
    rng = np.random.default_rng(seed)
    rows, cols = shape
    zz, rr, cc = np.mgrid[0:n_planes, 0:rows, 0:cols].astype(np.float32)
    signal = np.full((n_planes, rows, cols), 0.05, np.float32)
    labels = np.zeros((n_planes, rows, cols), np.uint16)
    for i in range(n_nuclei):
        size = np.array([n_planes, rows, cols])
        centre = rng.uniform([0.3, 0.2, 0.2], [0.7, 0.8, 0.8]) * size
        radii = rng.uniform([0.2, 0.08, 0.08], [0.35, 0.14, 0.14]) * size
        inside = (((zz - centre[0]) / radii[0]) ** 2 + ((rr - centre[1]) / radii[1]) ** 2
                  + ((cc - centre[2]) / radii[2]) ** 2) <= 1
        labels[inside & (labels == 0)] = i + 1
        signal[inside] += rng.uniform(0.5, 1.0)
    image = np.empty(signal.shape, np.uint16)
    for z in range(n_planes):
        photons = rng.poisson(_blur(signal[z], 1.5) * 400).astype(np.float32)
        image[z] = np.clip(photons + rng.normal(0, 8, shape) + 32768, 0, 65535).astype(np.uint16)
    return image, labels
