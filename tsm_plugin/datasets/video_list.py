"""What the Kinetics-400 and HMDB51 readers share: a folder index of video
files and the accounting of listed videos that have no file.

Copies of Kinetics-400 (https://arxiv.org/abs/1705.06950) lay their videos
out flat (``train/<name>.mp4``, the CVDF tarballs) or in class folders
(``train/<class>/<name>.mp4``, the ActivityNet crawler; the class folders
named with spaces or with underscores). :class:`VideoIndex` scans a videos
folder once (``os.scandir``: its files and those of its subfolders, one
level down) and maps each file's stem to its path, so an annotation entry
finds its file in either layout without configuration. A folder prepared by
``tools/prepare_data.py`` (``<stem>.jpgbundle`` files) is found the same
way.

Thousands of Kinetics-400 videos are missing from every copy (taken down
from YouTube). :class:`MissingVideoPolicy` drops a listed video with no file
when the dataset is built, logs the count of usable videos once, and keeps
the missing ones in ``missing_videos`` (``tools/preflight.py`` writes them
to ``<work_dir>/preflight_missing_videos.txt``); ``on_missing='raise'``
stops instead, for a run that needs the complete set.
"""

import os
import os.path as osp
from typing import Dict, Iterable, List, NamedTuple, Optional, Tuple

from mmengine.logging import print_log

from ..errors import InputError
from .frame_bundle import SUFFIX as BUNDLE_SUFFIX

#: File suffixes the index takes for videos (a prepared copy's bundles too).
VIDEO_SUFFIXES = ('.mp4', '.webm', '.mkv', '.avi', '.mov', BUNDLE_SUFFIX)
MISSING_POLICIES = ('skip', 'raise')
# Each (ann_file, usable, listed) is logged once per process: the Runner and
# the preflight build the same split's dataset more than once.
_logged = set()


class VideoIndex:
    """The video files of a folder and of its subfolders, by stem.

    Args:
        folder (str): The videos folder (``data_prefix.video``).
        suffixes (tuple[str]): The file suffixes taken as videos.

    Attributes:
        folder (str): The folder.
        subfolders (set[str]): Names of the subfolders holding videos
            (class folders).
        duplicates (int): Stems found more than once (the first in sorted
            order, files of the folder itself before subfolders, is kept).

    Raises:
        InputError: ``folder`` is not a directory.
    """

    def __init__(self, folder: str, suffixes=VIDEO_SUFFIXES):
        if not osp.isdir(folder or '.'):
            raise InputError(f'videos folder not found: {folder}')
        self.folder = folder
        self.suffixes = tuple(suffixes)
        self.subfolders = set()
        self.duplicates = 0
        self._paths: Dict[str, str] = {}
        subdirs = []
        for entry in self._scan(folder):
            if entry.is_dir():
                subdirs.append(entry)
            else:
                self._add(entry)
        for sub in sorted(subdirs, key=lambda e: e.name):
            found = False
            for entry in self._scan(sub.path):
                found = self._add(entry) or found
            if found:
                self.subfolders.add(sub.name)

    @staticmethod
    def _scan(folder: str) -> List[os.DirEntry]:
        with os.scandir(folder or '.') as entries:
            return sorted(entries, key=lambda e: e.name)

    def _add(self, entry: os.DirEntry) -> bool:
        stem, ext = osp.splitext(entry.name)
        if ext.lower() not in self.suffixes or not entry.is_file():
            return False
        if stem in self._paths:
            self.duplicates += 1
        else:
            self._paths[stem] = entry.path
        return True

    def __len__(self) -> int:
        return len(self._paths)

    def find(self, name: str) -> Optional[str]:
        """The path of the video whose stem is ``name``'s, or None."""
        return self._paths.get(osp.splitext(osp.basename(name))[0])

    def class_folder(self, label: str) -> Optional[str]:
        """The subfolder of class ``label``, spelt with spaces or with
        underscores (None: no such folder)."""
        for name in (label, label.replace(' ', '_'), label.replace('_', ' ')):
            if name in self.subfolders:
                return name
        return None


class Listed(NamedTuple):
    """One annotation entry: its name, the path it is expected at, the file
    found for it (None: missing) and its sample's fields."""

    name: str
    expected: str
    path: Optional[str]
    info: dict


class MissingVideoPolicy:
    """Mixin: drop (or refuse) listed videos that have no file.

    Call :meth:`_init_missing_policy` in ``__init__`` and pass the entries
    of the annotation file through :meth:`_keep_found` in
    ``load_data_list``.

    Attributes:
        on_missing (str): 'skip' (drop them, log the count once) or 'raise'.
        missing_videos (list[tuple[str, str]]): ``(listed name, expected
            path)`` of every listed video with no file.
    """

    def _init_missing_policy(self, on_missing: str) -> None:
        if on_missing not in MISSING_POLICIES:
            raise InputError(
                f'on_missing must be one of {MISSING_POLICIES}, got '
                f'{on_missing!r}'
            )
        self.on_missing = on_missing
        self.missing_videos: List[Tuple[str, str]] = []

    def _keep_found(
        self, entries: Iterable[Listed], what: str, note: str = ''
    ) -> List[dict]:
        """The samples of the entries whose file exists (``filename`` set
        to it); the others go to :attr:`missing_videos`.

        Args:
            entries: The listed videos, in annotation order.
            what (str): Names the list in the log line (the file).
            note (str): Appended to the log line (e.g. duplicates).

        Raises:
            InputError: with ``on_missing='raise'``, if any is missing.
        """
        entries = list(entries)
        missing = [(e.name, e.expected) for e in entries if e.path is None]
        self.missing_videos = missing
        kept = [dict(e.info, filename=e.path) for e in entries if e.path]
        head = f'{what}: {len(kept)} usable of {len(entries)} listed'
        if entries and not kept:
            raise InputError(
                f'{head}: no listed video has a file (first expected at '
                f'{missing[0][1]}); check data_root and data_prefix.video'
            )
        if missing:
            first = f'first: {missing[0][0]} at {missing[0][1]}'
            if self.on_missing == 'raise':
                raise InputError(
                    f'{head}; {len(missing)} missing ({first}; '
                    "on_missing='raise'; tools/preflight.py lists them)"
                )
            head += (
                f'; {len(missing)} missing, left out ({first}; '
                'tools/preflight.py lists them)'
            )
        key = (what, len(kept), len(entries))
        if key not in _logged:
            _logged.add(key)
            print_log(
                head + note, logger='current', level=30 if missing else 20
            )
        return kept
