"""The speed-ups of shared.fastpath fail these tests when what they lean on changes."""

from __future__ import annotations

import gc

from shared.fastpath import (
    FLAT_COPIED,
    FLAT_SET_HERE,
    api_route_parameters,
    freeze_held_objects,
    freeze_startup_objects,
)


def test_include_flat_passes_on_every_parameter_of_api_route():
    """A parameter FastAPI adds to APIRoute.__init__ would otherwise be dropped silently
    from every route: copy it in include_flat (FLAT_COPIED), then adjust this test."""
    assert api_route_parameters() == set(FLAT_COPIED) | set(FLAT_SET_HERE)


def test_objects_of_start_up_are_frozen():
    before = gc.get_freeze_count()
    freeze_startup_objects()
    try:
        assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()


def test_held_objects_are_frozen():
    before = gc.get_freeze_count()
    held = [{"cell": i} for i in range(1000)]
    freeze_held_objects()
    try:
        assert gc.get_freeze_count() >= before + len(held)
    finally:
        gc.unfreeze()
