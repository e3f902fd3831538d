"""The plan of a prepared set that mirrors its source tree.

Walking ``SRC`` (sorted; links to folders followed, each folder once):

* every video file (:data:`~.units.VIDEO_SUFFIXES`) ``<dir>/<stem>.<ext>``
  becomes ``DST/<dir>/<stem>.jpgbundle``;
* every frame folder (no subfolders, every visible file a JPEG frame:
  :func:`~.units.is_frame_folder`) ``<dir>/<id>`` becomes
  ``DST/<dir>/<id>.jpgbundle``;
* every other file is copied to the same place under ``DST``;
* hidden files and folders (``.*``, e.g. macOS's ``._*`` leftovers) are
  left out.

Two sources with the same output (``a.mp4`` beside ``a.avi``, or beside a
frame folder ``a``) both fail, named in ``DST/failures.txt``.
"""

import os
import os.path as osp
from typing import Dict, List, Tuple

from ...datasets import frame_bundle
from ...datasets.video_io import PREPARED_MARKER
from ...errors import InputError
from .engine import Plan
from .units import VIDEO_SUFFIXES, Unit, is_frame_folder, is_video


def _check_roots(src: str, dst: str) -> None:
    if not osp.isdir(src):
        raise InputError(f'{src}: not a folder')
    real_src, real_dst = osp.realpath(src), osp.realpath(dst)
    if real_dst == real_src or real_dst.startswith(real_src + os.sep):
        raise InputError(f'DST {dst} must not be SRC or inside it ({src})')


def _walk(src: str):
    """(folder, its relative path, sorted visible subfolders, sorted
    visible files) for every folder under ``src``, each real folder once."""
    seen = set()
    for folder, dirs, files in os.walk(src, followlinks=True):
        real = osp.realpath(folder)
        if real in seen:  # reached again through a link
            dirs[:] = []
            continue
        seen.add(real)
        dirs[:] = sorted(d for d in dirs if not d.startswith('.'))
        visible = sorted(f for f in files if not f.startswith('.'))
        if PREPARED_MARKER in visible:
            raise InputError(
                f'{osp.join(folder, PREPARED_MARKER)}: SRC holds a '
                'prepared set already'
            )
        yield folder, osp.relpath(folder, src), dirs, visible


def _name(rel: str, name: str = '') -> str:
    """A path relative to SRC as failures.txt lists it (``/``-separated)."""
    path = osp.normpath(osp.join(rel, name)) if name else rel
    return path.replace(os.sep, '/')


def _unclash(units: List[Unit], copies: List[Tuple[str, str]]):
    """Fail the units that share an output with another unit or a copied
    file, and drop such copies."""
    owners: Dict[str, List[str]] = {}
    for dst, name in [(u.dst, u.name) for u in units] + [
        (d, s) for s, d in copies
    ]:
        owners.setdefault(dst, []).append(name)
    clashes = {d: names for d, names in owners.items() if len(names) > 1}
    if not clashes:
        return units, copies
    units = [
        u._replace(
            problem='the same output as '
            + ', '.join(n for n in clashes[u.dst] if n != u.name)
        )
        if u.dst in clashes
        else u
        for u in units
    ]
    return units, [(s, d) for s, d in copies if d not in clashes]


def scan(src: str, dst: str) -> Plan:
    """The plan that prepares the tree ``src`` as ``dst`` (see the module).

    Raises:
        InputError: ``src`` is not a folder, holds a prepared set, holds
            no video or frame folder, or ``dst`` is ``src`` or inside it.
    """
    _check_roots(src, dst)
    units: List[Unit] = []
    copies: List[Tuple[str, str]] = []
    folders: Dict[str, str] = {}
    for folder, rel, dirs, files in _walk(src):
        out = osp.normpath(osp.join(dst, rel))
        if rel != '.' and not dirs and is_frame_folder(files):
            folders[osp.dirname(out)] = osp.dirname(folder)
            units.append(
                Unit(_name(rel), folder, out + frame_bundle.SUFFIX, True)
            )
            continue
        for name in files:
            path = osp.join(folder, name)
            if is_video(name):
                folders[out] = folder
                bundle = osp.splitext(name)[0] + frame_bundle.SUFFIX
                units.append(
                    Unit(_name(rel, name), path, osp.join(out, bundle))
                )
            else:
                copies.append((path, osp.join(out, name)))
    if not units:
        raise InputError(
            f'{src}: no videos ({" ".join(VIDEO_SUFFIXES)}) and no frame '
            'folders (00001.jpg, ...) to prepare'
        )
    units, copies = _unclash(units, copies)
    return Plan(units, copies, folders)
