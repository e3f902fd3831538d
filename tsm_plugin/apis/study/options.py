"""What a row's ``cfg_options`` become: ``--cfg-options`` words for
``tools/train.py``, comparable texts for ``study_row.json``, and the row's
loaded config."""

import copy
import json
from typing import Dict, List, Optional, Tuple

from mmengine.config import DictAction

from ...errors import ConfigValueError
from ...utils.config import load_config


def format_option(value) -> str:
    """``value`` as ``--cfg-options KEY=VALUE`` writes it (mmengine's
    ``DictAction`` reads it back)."""
    if isinstance(value, tuple):
        return '(' + ','.join(format_option(v) for v in value) + ')'
    if isinstance(value, list):
        return '[' + ','.join(format_option(v) for v in value) + ']'
    return str(value)


def option_args(options: Dict[str, object]) -> List[str]:
    """``KEY=VALUE`` words for ``--cfg-options``.

    Raises:
        ConfigValueError: a value that would come back different (a string
            with a space or a comma, or one that reads as a number).
    """
    words = []
    for key, value in options.items():
        text = format_option(value)
        if DictAction._parse_iterable(text) != value:
            raise ConfigValueError(
                f'cfg_options {key}={value!r} cannot be passed to '
                f'tools/train.py --cfg-options (it reads back as '
                f'{DictAction._parse_iterable(text)!r})'
            )
        words.append(f'{key}={text}')
    return words


def flatten(options, prefix: str = '') -> Dict[str, object]:
    """Nested dicts as dotted keys (``dict(model=dict(x=1))`` ->
    ``{'model.x': 1}``): what ``merge_from_dict`` merges either way."""
    out = {}
    for key, value in options.items():
        if isinstance(value, dict) and value:
            out.update(flatten(value, f'{prefix}{key}.'))
        else:
            out[f'{prefix}{key}'] = _plain(value)
    return out


def _plain(value):
    """ConfigDict/ConfigList values as plain dicts, lists and tuples."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return value


def canonical(value) -> str:
    """A JSON text for comparing values (tuples as lists, keys sorted)."""
    return json.dumps(value, sort_keys=True, default=str)


_CONFIGS: Dict[Tuple[str, str], object] = {}


def row_config(row, extra: Optional[dict] = None):
    """A copy of a config row's (:class:`~.spec.Row`) config, loaded with
    its ``cfg_options`` (and ``extra`` options after them); each file is
    read once a process."""
    options = dict(row.cfg_options, **(extra or {}))
    key = (row.config, canonical(options))
    if key not in _CONFIGS:
        _CONFIGS[key] = load_config(row.config, options or None)
    return copy.deepcopy(_CONFIGS[key])
