"""The package's imports point one way: down the layers, never up, and no
two modules import each other (directly or around a circle).

    apis (CLI bodies)
    registration (what configs import: fixes the stack, registers all)
    evaluation
    engine, testing
    datasets, models
    (the package root: applies compat's import fixes)
    utils, compat
    errors

A module may import its own subpackage or any lower layer. Read from the
source (ast), so an import inside a function counts too.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO

PACKAGE = REPO / 'tsm_plugin'
LAYERS = {
    'errors': 0,
    'compat': 1,
    'utils': 1,
    '': 1.5,  # tsm_plugin/__init__.py
    'datasets': 2,
    'models': 2,
    'engine': 3,
    'testing': 3,
    'evaluation': 4,
    'registration': 4.5,
    'apis': 5,
}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix('').parts
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def imported_modules(path: Path):
    """(line, absolute module name) of every tsm_plugin import in a file."""
    name = module_name(path)
    package = name if path.name == '__init__.py' else name.rpartition('.')[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split('.')
                base = base[: len(base) - node.level + 1]
                target = '.'.join(
                    base + ([node.module] if node.module else [])
                )
            else:
                target = node.module
            if node.module is None or node.level == 0:
                # `from . import x` / `from pkg import x`: x may be a module
                for alias in node.names:
                    yield node.lineno, f'{target}.{alias.name}'
            else:
                yield node.lineno, target


def layer_of(module: str):
    """(layer, top subpackage) of a tsm_plugin module; None outside it."""
    parts = module.split('.')
    if parts[0] != 'tsm_plugin':
        return None
    top = parts[1] if len(parts) > 1 else ''
    return LAYERS[top], top


def upward_imports(root: Path = PACKAGE):
    """Every import of a higher layer, or sideways into another package."""
    bad = []
    for path in sorted(root.rglob('*.py')):
        source = layer_of(module_name(path))
        for line, target in imported_modules(path):
            dest = layer_of(target)
            if dest is None or dest[1] == source[1]:
                continue
            if dest[0] >= source[0]:
                bad.append(
                    f'{path.relative_to(REPO)}:{line} '
                    f'({source[1] or "tsm_plugin"}) imports {target}'
                )
    return bad


def test_every_subpackage_has_a_layer():
    subpackages = {
        p.name if p.is_dir() else p.stem
        for p in PACKAGE.iterdir()
        if (p.is_dir() and (p / '__init__.py').exists())
        or (p.suffix == '.py' and p.stem != '__init__')
    }
    assert subpackages | {''} == set(LAYERS)


def test_imports_point_down():
    assert upward_imports() == []


def test_the_walk_sees_an_upward_import(tmp_path):
    """The check itself: an upward import in a copy of the tree is found."""
    import shutil

    copy = tmp_path / 'tsm_plugin'
    shutil.copytree(PACKAGE, copy)
    shifted = copy / 'models' / 'temporal_shift.py'
    shifted.write_text(shifted.read_text() + '\nfrom ..apis import train\n')
    global REPO
    repo, REPO = REPO, tmp_path
    try:
        bad = upward_imports(copy)
    finally:
        REPO = repo
    assert len(bad) == 1 and bad[0].startswith(
        'tsm_plugin/models/temporal_shift.py:'
    ), bad
    assert bad[0].endswith('(models) imports tsm_plugin.apis')


def resolve(name: str, modules) -> str:
    """The module an imported name lives in (``pkg.mod.f`` -> ``pkg.mod``)."""
    while name not in modules and '.' in name:
        name = name.rsplit('.', 1)[0]
    return name


def import_circles(root: Path = PACKAGE):
    """Every circle of tsm_plugin modules importing each other, as
    ``a -> b -> a``: one per strongly connected set of modules."""
    files = {module_name(p): p for p in sorted(root.rglob('*.py'))}
    graph = {
        name: {
            resolve(target, files)
            for _, target in imported_modules(path)
            if target.startswith('tsm_plugin')
        }
        - {name}
        for name, path in files.items()
    }
    circles, done = [], set()
    for start in graph:
        path = _circle_from(start, graph, done)
        if path:
            circles.append(' -> '.join(path))
            done.update(path)
    return circles


def _circle_from(start: str, graph, done) -> list:
    """A shortest import path from ``start`` back to itself (breadth first),
    avoiding modules of circles already reported; [] if none."""
    parents, frontier = {start: None}, [start]
    while frontier:
        nxt = []
        for node in frontier:
            for dest in sorted(graph.get(node, ())):
                if dest == start:
                    path = [node]
                    while parents[path[-1]] is not None:
                        path.append(parents[path[-1]])
                    return [start] + path[::-1][1:] + [start]
                if dest not in parents and dest not in done:
                    parents[dest] = node
                    nxt.append(dest)
        frontier = nxt
    return []


def test_no_import_circles():
    assert import_circles() == []


def test_the_walk_sees_an_import_circle(tmp_path):
    """The check itself: a circle added to a copy of the tree is found."""
    import shutil

    copy = tmp_path / 'tsm_plugin'
    shutil.copytree(PACKAGE, copy)
    errors = copy / 'errors.py'
    errors.write_text(errors.read_text() + '\nfrom . import _loop\n')
    (copy / '_loop.py').write_text('from .errors import InputError\n')
    global REPO
    repo, REPO = REPO, tmp_path
    try:
        circles = import_circles(copy)
    finally:
        REPO = repo
    added = 'tsm_plugin._loop -> tsm_plugin.errors -> tsm_plugin._loop'
    assert added in circles, circles


@pytest.mark.slow
@pytest.mark.parametrize(
    'module',
    [
        'tsm_plugin.datasets.video_io',
        'tsm_plugin.models.temporal_shift',
        'tsm_plugin.utils.config',
    ],
)
def test_low_layers_do_not_load_mmaction_models(module):
    code = (
        f'import sys, {module}; '
        'loaded = sorted(m for m in sys.modules if m in ('
        "'mmaction.models', 'tsm_plugin.apis', 'tsm_plugin.engine'));"
        'print(loaded); assert not loaded'
    )
    out = subprocess.run(
        [sys.executable, '-c', code],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr[-2000:]
