"""Synthetic fluorescence stacks with ground-truth labels, generated in code.

Used for the demo, napari sample data, tests, benchmarks and the training
of the bundled ``demo`` model. Cells are textured ellipses that drift
smoothly, may divide, leave or enter the field; the image has blur, an
uneven background, Poisson and Gaussian noise and a 16-bit camera offset.
"""

from __future__ import annotations

import numpy as np

__all__ = ["synthetic_timelapse", "synthetic_tracking", "synthetic_zstack"]


def _blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur (numpy only)."""
    radius = max(1, int(3 * sigma))
    x = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (x / sigma) ** 2)
    kernel /= kernel.sum()
    out = np.apply_along_axis(np.convolve, 0, image, kernel, mode="same")
    return np.apply_along_axis(np.convolve, 1, out, kernel, mode="same")


def synthetic_timelapse(n_frames: int = 20, shape: tuple[int, int] = (256, 256),
                        n_cells: int = 6, seed: int = 0, divisions: bool = True, *,
                        radius: tuple[float, float] = (0.06, 0.1), speed: float = 0.01,
                        brightness: tuple[float, float] = (0.5, 1.0), blur: float = 1.5,
                        photons: float = 400.0, read_noise: float = 8.0, entering: float = 0.0,
                        ) -> tuple[np.ndarray, np.ndarray]:
    """A fluorescence time-lapse of moving, dividing cells and its label stack.

    Parameters
    ----------
    n_frames : int
        Number of frames.
    shape : (rows, cols)
        Frame size.
    n_cells : int
        Cells on the first frame (ids 1..n_cells). Cells may drift out of the field.
    seed : int
        Random seed; the same seed gives the same stack.
    divisions : bool
        Let cells divide: a mother ends and two daughters with new ids start
        (Cell Tracking Challenge convention).
    radius : (low, high)
        Cell radius range, as a fraction of the smaller side.
    speed : float
        Standard deviation of each cell's velocity per frame, as a fraction of the smaller side.
    brightness : (low, high)
        Cell brightness range above the background.
    blur : float
        Gaussian blur (pixels) of the optics.
    photons : float
        Photons per unit of signal: lower is noisier (Poisson noise).
    read_noise : float
        Standard deviation of the camera's Gaussian read noise (counts).
    entering : float
        Per-frame probability that a new cell (new id) enters through an edge.

    The keyword-only options default to the original generator: the same seed
    gives the same stack as before they existed.

    Returns
    -------
    image : uint16 array (n_frames, rows, cols)
    labels : uint16 array (n_frames, rows, cols)
        Ids consistent over time; overlapping cells go to the lower id.
    """
    images, labels, _ = _simulate(n_frames, shape, n_cells, seed, divisions, radius=radius,
                                  speed=speed, brightness=brightness, blur=blur, photons=photons,
                                  read_noise=read_noise, entering=entering)
    return images, labels


def synthetic_tracking(n_frames: int = 20, shape: tuple[int, int] = (256, 256), n_cells: int = 6,
                       seed: int = 0, divisions: bool = True, **options):
    """:func:`synthetic_timelapse` with its ground-truth lineage.

    Same parameters (``options`` are its keyword-only ones); the images and
    labels are exactly those of :func:`synthetic_timelapse` for the same
    arguments.

    Returns
    -------
    image, labels : uint16 arrays (n_frames, rows, cols)
    lineage : Lineage
        One track per id, from the first to the last frame it has pixels on
        (an id hidden for some frames keeps one track; the CTC writer splits
        it); a daughter's parent is its mother when the mother was visible.
    """
    from .lineage import Lineage, Track
    from .track_nodes import presence

    images, labels, parents = _simulate(n_frames, shape, n_cells, seed, divisions, **options)
    frames = presence(labels)
    lineage = Lineage()
    for track_id in sorted(frames, key=lambda i: (frames[i][0], i)):
        parent = parents.get(track_id, 0)
        parent = parent if parent in lineage.tracks else 0
        lineage.tracks[track_id] = Track(track_id, frames[track_id][0], frames[track_id][-1], parent)
    return images, labels, lineage


def _simulate(n_frames, shape, n_cells, seed, divisions, *, radius=(0.06, 0.1), speed=0.01,
              brightness=(0.5, 1.0), blur=1.5, photons=400.0, read_noise=8.0, entering=0.0):
    """The generator: images, labels and ``{daughter id: mother id}``."""
    parents = {}
    rng = np.random.default_rng(seed)
    rows, cols = shape
    rr, cc = np.mgrid[0:rows, 0:cols].astype(np.float32)
    texture = _blur(rng.random(shape).astype(np.float32), 2.0)
    texture = 0.7 + 0.6 * (texture - texture.min()) / (np.ptp(texture) + 1e-6)
    background = 0.05 + 0.05 * (cc / cols) + 0.03 * (rr / rows)
    size = min(shape)
    cells = [_new_cell(i + 1, rng.uniform(0.2, 0.8, 2) * shape, rng.normal(0, speed * size, 2),
                       rng.uniform(*radius) * size, rng, brightness) for i in range(n_cells)]
    next_id = n_cells + 1
    images = np.zeros((n_frames, rows, cols), np.uint16)
    labels = np.zeros((n_frames, rows, cols), np.uint16)
    for t in range(n_frames):
        signal = background.copy()
        for cell in cells:
            dr, dc = rr - cell["centre"][0], cc - cell["centre"][1]
            u = dr * np.cos(cell["angle"]) + dc * np.sin(cell["angle"])
            v = -dr * np.sin(cell["angle"]) + dc * np.cos(cell["angle"])
            inside = (u / cell["radius"]) ** 2 + (v / (cell["radius"] * cell["aspect"])) ** 2 <= 1
            labels[t][inside & (labels[t] == 0)] = cell["id"]
            signal[inside] += cell["brightness"] * texture[inside]
        counts = rng.poisson(_blur(signal, blur) * photons).astype(np.float32)
        noisy = counts + rng.normal(0, read_noise, shape) + 32768
        images[t] = np.clip(noisy, 0, 65535).astype(np.uint16)
        moved = []
        for cell in cells:
            cell["centre"] = cell["centre"] + cell["velocity"]
            if divisions and cell["age"] > 4 and rng.random() < 0.04:
                axis = np.array([np.cos(cell["angle"]), np.sin(cell["angle"])])
                for sign in (1, -1):
                    parents[next_id] = cell["id"]
                    moved.append(_new_cell(next_id, cell["centre"] + sign * 0.5 * cell["radius"] * axis,
                                           cell["velocity"] + sign * speed * size * axis,
                                           cell["radius"] * 0.75, rng, brightness))
                    next_id += 1
            else:
                cell["age"] += 1
                moved.append(cell)
        if entering and rng.random() < entering:
            moved.append(_entering_cell(next_id, shape, speed, radius, brightness, rng))
            next_id += 1
        cells = moved
    return images, labels, parents


def _new_cell(cell_id: int, centre, velocity, radius: float, rng, brightness=(0.5, 1.0)) -> dict:
    return {"id": cell_id, "centre": np.asarray(centre, np.float32), "velocity": np.asarray(velocity),
            "radius": radius, "aspect": rng.uniform(0.7, 1.0), "angle": rng.uniform(0, np.pi),
            "brightness": rng.uniform(*brightness), "age": 0}


def _entering_cell(cell_id: int, shape, speed: float, radius, brightness, rng) -> dict:
    """A cell just outside a random edge, moving into the field."""
    size = min(shape)
    r = rng.uniform(*radius) * size
    side = rng.integers(4)
    along = rng.uniform(0.2, 0.8)
    centre = {0: (-r, along * shape[1]), 1: (shape[0] + r, along * shape[1]),
              2: (along * shape[0], -r), 3: (along * shape[0], shape[1] + r)}[int(side)]
    inward = {0: (1, 0), 1: (-1, 0), 2: (0, 1), 3: (0, -1)}[int(side)]
    velocity = np.asarray(inward) * rng.uniform(1.0, 2.0) * speed * size
    velocity = velocity + rng.normal(0, 0.3 * speed * size, 2)
    return _new_cell(cell_id, centre, velocity, r, rng, brightness)


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
