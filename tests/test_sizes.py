"""Sizes a reader can hold: no module over 400 lines in ``tsm_plugin/``,
``benchmarks/`` or ``tools/`` (600 in ``tests/``), and no function over 80
lines anywhere in the four (methods and nested functions included).

A function's length runs from its ``def`` line to its last line, docstring
included; a module's is its line count (``wc -l``). Read from the source
(ast), so nothing is imported.
"""

import ast
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

from tests.helpers import REPO

#: The most lines a module may have, by top-level folder.
MODULE_LINES = {
    'tsm_plugin': 400,
    'benchmarks': 400,
    'tools': 400,
    'tests': 600,
}
FUNCTION_LINES = 80


def functions(
    tree: ast.AST, prefix: str = ''
) -> Iterator[Tuple[str, ast.AST]]:
    """(qualified name, node) of every function in ``tree``, nested too
    (``Class.method``, ``outer.inner``)."""
    for node in ast.iter_child_nodes(tree):
        name = prefix
        if isinstance(
            node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
        ):
            name = f'{prefix}{node.name}'
            if not isinstance(node, ast.ClassDef):
                yield name, node
            name += '.'
        yield from functions(node, name)


def offenders(
    root: Path = REPO, limits: Dict[str, int] = MODULE_LINES
) -> List[str]:
    """``path:line name (N lines)`` for every module over its folder's
    limit and every function over :data:`FUNCTION_LINES`, under ``root``."""
    found = []
    for folder, limit in limits.items():
        for path in sorted((root / folder).rglob('*.py')):
            rel = path.relative_to(root)
            text = path.read_text(encoding='utf-8')
            lines = len(text.splitlines())
            if lines > limit:
                found.append(f'{rel}:1 <module> ({lines} lines)')
            for name, node in functions(ast.parse(text, str(rel))):
                length = node.end_lineno - node.lineno + 1
                if length > FUNCTION_LINES:
                    found.append(
                        f'{rel}:{node.lineno} {name} ({length} lines)'
                    )
    return found


def test_no_module_or_function_is_too_long():
    found = offenders()
    assert not found, (
        f'{len(found)} over the limits (modules: {MODULE_LINES}; functions: '
        f'{FUNCTION_LINES} lines):\n' + '\n'.join(found)
    )


def _function(name: str, body_lines: int, indent: str = '') -> str:
    """A function of ``1 + body_lines`` lines."""
    body = ''.join(f'{indent}    x = {i}\n' for i in range(body_lines))
    return f'{indent}def {name}():\n{body}'


def test_the_check_finds_a_long_function_and_a_long_module(tmp_path):
    """The check itself: at the limits nothing is reported; one line over,
    a function, a method, a nested function and a module are."""
    lib = tmp_path / 'tsm_plugin'
    lib.mkdir()
    fits = _function('fits', 79)  # def + 79 = 80 lines
    (lib / 'ok.py').write_text(fits + '\n' * (400 - 80))
    assert len((lib / 'ok.py').read_text().splitlines()) == 400
    assert offenders(tmp_path) == []

    long_method = 'class Big:\n' + _function('step', 80, '    ')
    nested = _function('outer', 0) + _function('inner', 80, '    ')
    text = _function('long', 80) + long_method + nested
    text += '\n' * (401 - len(text.splitlines()))
    (lib / 'big.py').write_text(text)
    assert offenders(tmp_path) == [
        'tsm_plugin/big.py:1 <module> (401 lines)',
        'tsm_plugin/big.py:1 long (81 lines)',
        'tsm_plugin/big.py:83 Big.step (81 lines)',
        'tsm_plugin/big.py:164 outer (82 lines)',
        'tsm_plugin/big.py:165 outer.inner (81 lines)',
    ]
    # tests/ may hold 600 lines, not more
    tests = tmp_path / 'tests'
    tests.mkdir()
    (tests / 'test_x.py').write_text('\n' * 600)
    assert len(offenders(tmp_path)) == 5
    (tests / 'test_x.py').write_text('\n' * 601)
    assert offenders(tmp_path)[5:] == [
        'tests/test_x.py:1 <module> (601 lines)'
    ]
