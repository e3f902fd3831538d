"""Shared fixtures: one tiny synthetic SSv2 set for the whole test session.

Every process of the session (the pytest workers, the tools they start)
runs one OpenMP thread unless told otherwise: ``make test`` runs two pytest
workers on two cores, and the tests' tiny convolutions gain nothing from a
second thread that can only wait for a core (the suite: 149 s of pytest with
one thread, 175-184 s with torch's default, on a 2-core AMD EPYC). Set
before torch is imported, so torch and every subprocess read it.
"""

import os

os.environ.setdefault('OMP_NUM_THREADS', '1')

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

# The TFD run shared by tests/evaluation and tests/apis (session-scoped).
pytest_plugins = ['tests.tfd_fixtures']

# The session set: small enough to build in about a second, long enough that
# 16-frame sampling seldom repeats a frame (18-24 frames per video).
SYNTHETIC_KWARGS = dict(
    num_train_per_class=2,
    num_val_per_class=1,
    num_test_per_class=1,
    height=48,
    fps=12,
    min_seconds=1.5,
    max_seconds=2.0,
    seed=0,
    workers=1,
    progress=False,
)


@pytest.hookimpl(tryfirst=True)  # before -m "not slow" deselects
def pytest_collection_modifyitems(items):
    """A test that uses the session's TFD training run is slow, marked or
    not (``make test-fast`` leaves it out)."""
    from tests.tfd_fixtures import SLOW_FIXTURES

    for item in items:
        if SLOW_FIXTURES & set(getattr(item, 'fixturenames', ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope='session', autouse=True)
def imports_left_out_of_gc():
    """What is imported by now (torch, mmengine, the plugin: ~300,000
    objects) is never garbage: leave it out of garbage collection. mmengine
    collects garbage each time it builds a dataset (BaseDataset's
    ``_serialize_data``); over the whole heap that is ~0.2 s a time."""
    import gc

    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()


@pytest.fixture(scope='session', autouse=True)
def configs_formatted_once():
    """Each config text formatted once a session
    (:func:`tests.helpers.format_each_config_once`)."""
    from tests.helpers import format_each_config_once

    undo = format_each_config_once()
    yield
    undo()


@pytest.fixture(scope='session')
def synthetic_ssv2(tmp_path_factory) -> Path:
    """Root of a synthetic SSv2-format set (official layout).

    8 classes x (2 train + 1 validation + 1 test) VP9 ``.webm`` videos,
    48x64 px, 12 fps, 1.5-2 s: ``labels/{labels,train,validation,test}.json``
    and ``20bn-something-something-v2/<id>.webm``. Read-only: copy it if a
    test needs to change it.
    """
    from tsm_plugin.testing.synthetic_ssv2 import make_synthetic_ssv2

    root = tmp_path_factory.mktemp('synthetic_ssv2')
    make_synthetic_ssv2(str(root), **SYNTHETIC_KWARGS)
    return root
