"""Tracks as a GEFF graph (Graph Exchange File Format), the graph other trackers read and write.

One node per (track, frame) at the cell's centroid, with its area, track id
and review state; an edge from each node of a track to its next frame, and
from a mother's last node to each daughter's first node. motile, traccuracy,
ultrack, trackastra and TrackMate read and write GEFF (package ``geff``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import InputError
from .lineage import Lineage, Track
from .track_nodes import track_nodes

__all__ = ["write_geff", "read_geff", "geff_graph"]

_EXTRA_KEY = "napari_sam2"


def _axis_names(ndim: int, axes) -> list[str]:
    """Axis names, frame axis first: ``t`` (or ``z`` when a z-stack's planes were tracked), then z, y, x.

    Letters that name no time or space axis (tifffile's ``Q`` for an unnamed
    axis) fall back to ``t`` for the frame axis and ``(z,) y, x`` for the others.
    """
    expected = "tyx" if ndim == 3 else "tzyx"
    names = [str(a).lower() for a in (axes or expected)]
    if len(names) != ndim:
        raise InputError(f"axes {axes!r} do not describe a {ndim}D label stack: give "
                         f"{expected!r} (the frame axis first)", fix=("axes", None))
    spatial = names[1:] if set(names[1:]) <= set("zyx") and len(set(names[1:])) == ndim - 1 \
        else list(expected[1:])
    return ["z" if names[0] == "z" and "z" not in spatial else "t", *spatial]


def geff_graph(labels, lineage: Lineage | None = None) -> tuple[dict, np.ndarray]:
    """Nodes and edges of the track graph.

    Parameters
    ----------
    labels : array-like of int, shape (T, Y, X) or (T, Z, Y, X)
        Read one frame at a time.
    lineage : Lineage, optional
        Parents and review state.

    Returns
    -------
    nodes : dict
        :func:`~.track_exports.track_nodes` plus ``reviewed`` (bool), row ``i``
        is node ``i``.
    edges : int64 array (E, 2)
        ``(source, target)`` node pairs: consecutive frames of a track, then
        mother's last node -> daughter's first node.
    """
    lineage = lineage or Lineage()
    nodes = track_nodes(labels)
    ids = nodes["track_id"]
    reviewed = {i: t.reviewed for i, t in lineage.tracks.items()}
    nodes["reviewed"] = np.array([reviewed.get(int(i), False) for i in ids], bool)
    same = np.flatnonzero(ids[1:] == ids[:-1])
    edges = [np.column_stack([same, same + 1])]
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]) if len(ids) else np.zeros(0, int)
    ends = np.r_[starts[1:] - 1, len(ids) - 1] if len(ids) else starts
    first = {int(ids[n]): int(n) for n in starts}
    last = {int(ids[n]): int(n) for n in ends}
    links = [(last[t.parent], first[t.track_id]) for t in lineage.tracks.values()
             if t.parent in last and t.track_id in first
             and nodes["t"][last[t.parent]] < nodes["t"][first[t.track_id]]]
    edges.append(np.array(links, np.int64).reshape(-1, 2))
    return nodes, np.concatenate(edges).astype(np.int64)


def write_geff(labels, lineage: Lineage | None, path, axes: str | None = None, scale=None,
               overwrite: bool = False) -> Path:
    """Write the tracks of a label stack as a GEFF zarr.

    Parameters
    ----------
    labels : array-like of int, shape (T, Y, X) or (T, Z, Y, X)
        Track ids consistent over time; read one frame at a time.
    lineage : Lineage or None
        Parents (divisions), review state and flags (kept in the metadata's
        ``extra``); None: no divisions, nothing reviewed.
    path : str or Path
        The ``.geff`` / ``.zarr`` folder to write.
    axes : str or sequence of str, optional
        Axis letters of ``labels``, frame axis first (default ``"tyx"`` or
        ``"tzyx"``); a z-stack tracked plane by plane is ``"zyx"``.
    scale : sequence of float, optional
        Physical size of a step along each axis (frame interval, pixel size),
        stored as the axes' ``scale``; positions stay in pixels and frames.
    overwrite : bool
        Replace a GEFF already at ``path``.

    Returns
    -------
    Path
        ``path``. Node properties: ``t`` (the frame; named after the first
        axis), (``z``,) ``y``, ``x`` (centroid), ``area`` (pixels),
        ``track_id``, ``reviewed``.

    Raises
    ------
    InputError
        Before writing: axes or scale not matching the stack, a GEFF already there.
    """
    from geff import GeffMetadata
    from geff.core_io import write_arrays
    from geff_spec import Axis

    names = _axis_names(np.ndim(labels), axes)
    if scale is not None and len(scale) != len(names):
        raise InputError(f"scale has {len(scale)} values for {len(names)} axes {''.join(names)}",
                         fix=("scale", None))
    path = Path(path)
    if path.exists() and any(path.iterdir()) and not overwrite:
        raise InputError(f"{path} already exists; choose another path or pass overwrite=True",
                         fix=("overwrite", True))
    lineage = lineage or Lineage()
    nodes, edges = geff_graph(labels, lineage)
    props = {names[0]: nodes["t"].astype(np.int64)}
    for k, name in enumerate(names[1:]):  # centroid columns follow the label axes after t
        props[name] = nodes["centroid"][:, k]
    props |= {"area": nodes["area"], "track_id": nodes["track_id"], "reviewed": nodes["reviewed"]}
    node_props = {k: {"values": np.asarray(v), "missing": None} for k, v in props.items()}
    kinds = {a: ("space", "pixel") for a in "zyx"} | {"t": ("time", "frame")}
    axis_list = [Axis(name=a, type=kinds[a][0], unit=kinds[a][1],
                      scale=None if scale is None else float(scale[n])) for n, a in enumerate(names)]
    one_daughter = any(len(lineage.daughters(i)) == 1 for i in lineage.tracks)
    metadata = GeffMetadata(
        directed=True, axes=axis_list, node_props_metadata={}, edge_props_metadata={},
        track_node_props=None if one_daughter else {"tracklet": "track_id"},
        extra={_EXTRA_KEY: {"flags": lineage.to_dict()["flags"]}})
    if path.exists() and overwrite:
        import shutil

        shutil.rmtree(path)
    write_arrays(str(path), np.arange(len(nodes["t"]), dtype=np.uint64), node_props,
                 edges.astype(np.uint64).reshape(-1, 2), None, metadata)
    return path


def read_geff(path) -> tuple[Lineage, dict]:
    """Read a GEFF written by :func:`write_geff` (or any GEFF with a ``track_id`` node property).

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    lineage : Lineage
        Tracks from the nodes' track ids and frames, parents from the edges
        joining two tracks, review state and flags.
    nodes : dict of str to array
        Node properties by name plus ``node_id``; ``edges`` (E, 2) node id pairs.
    """
    from geff.core_io import read_to_memory

    try:
        graph = read_to_memory(str(path))
    except (FileNotFoundError, ValueError, KeyError) as err:
        raise InputError(f"{path} is not a readable GEFF: {err}") from None
    nodes = {k: np.asarray(v["values"]) for k, v in graph["node_props"].items()}
    axes = graph["metadata"].axes
    frame = axes[0].name if axes else "t"
    if "track_id" not in nodes or frame not in nodes:
        raise InputError(f"{path}: the nodes have no 'track_id' and '{frame}' properties; "
                         "only track graphs with a track id per node can be read as a lineage")
    nodes["t"] = nodes[frame]
    nodes["node_id"] = np.asarray(graph["node_ids"])
    nodes["edges"] = np.asarray(graph["edge_ids"]).reshape(-1, 2)
    row = {int(n): k for k, n in enumerate(nodes["node_id"])}
    lineage = Lineage()
    reviewed = nodes.get("reviewed", np.zeros(len(nodes["t"]), bool))
    for track_id in np.unique(nodes["track_id"]):
        mine = nodes["track_id"] == track_id
        times = nodes["t"][mine]
        lineage.tracks[int(track_id)] = Track(int(track_id), int(times.min()), int(times.max()),
                                              0, bool(reviewed[mine].any()))
    for source, target in nodes["edges"]:
        mother, daughter = (int(nodes["track_id"][row[int(n)]]) for n in (source, target))
        if mother != daughter:
            lineage.tracks[daughter].parent = mother
    extra = graph["metadata"].extra.get(_EXTRA_KEY, {})
    lineage.flags = Lineage.from_dict({"flags": extra.get("flags", [])}).flags
    return lineage, nodes
