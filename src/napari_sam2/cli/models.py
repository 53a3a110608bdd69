"""``napari-sam2 models``: the model registry and which models are downloaded."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    """Register ``models`` on an ``argparse`` subparsers object."""
    models = sub.add_parser("models", help="list the named models and which are downloaded",
                            description="List the model registry and the local cache.",
                            epilog="example:\n  napari-sam2 models",
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    models.set_defaults(run=run)


def run(args) -> int:
    """Run ``models``."""
    from ..core.models import REGISTRY, cached_models

    cached = cached_models()
    print(f"{'name':<18}{'hub id':<34}{'cached':<8}description")
    for name, spec in REGISTRY.items():
        print(f"{name:<18}{spec.repo_id:<34}{'yes' if cached[name] else 'no':<8}{spec.description}")
    print("\nA model is downloaded on first use. --model also takes a folder written by "
          "save_pretrained, and random:tiny / random:sam2.1-tiny (random weights, for tests).")
    return 0
