"""Kinetics-400 read as downloaded (CVDF/ActivityNet CSVs, mmaction2 lists).

Kinetics-400 (https://arxiv.org/abs/1705.06950), as the FFN paper
(https://arxiv.org/abs/2303.14817) trains TSM and FFN on it, read with no
conversion:

* the CVDF/ActivityNet annotations ``annotations/{train,val,test}.csv``,
  header ``label,youtube_id,time_start,time_end,split`` (``test.csv``
  without ``label``: unlabelled, for ``test_mode`` only; integer seconds),
  and videos named ``<youtube_id>_<start:06d>_<end:06d>.mp4``, flat
  (``train/<name>.mp4``, the CVDF tarballs) or in class folders
  (``train/<class>/<name>.mp4``, the ActivityNet crawler; spaces or
  underscores). The videos folder is indexed once
  (:class:`~.video_list.VideoIndex`), so both layouts work as they are;
* mmaction2's video lists (an ``ann_file`` ending in ``.txt``; per line
  ``<path relative to data_prefix.video> <label>``, as mmaction2 1.2's
  ``VideoDataset`` reads them; a line without a label is unlabelled).

Class index: the class names sorted (mmaction2's ``label_map_k400.txt`` is
K400's 400 names in that order), or the line order of ``label_file`` (one
name per line; spaces and underscores match each other).

A listed video without a file is left out when the dataset is built, and
counted (:class:`~.video_list.MissingVideoPolicy`); a broken one is the
business of :class:`~.bad_videos.BadVideoPolicy`.
"""

import csv
import os.path as osp
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

from mmaction.datasets import BaseActionDataset
from mmaction.registry import DATASETS

from .bad_videos import DEFAULT_DECODE_DEADLINE, BadVideoPolicy
from .ssv2 import AnnotationError
from .video_list import Listed, MissingVideoPolicy, VideoIndex

CSV_COLUMNS = ('youtube_id', 'time_start', 'time_end')


def class_key(name: str) -> str:
    """A class name as compared: underscores read as spaces, no edges."""
    return name.strip().replace('_', ' ')


def load_label_file(path: str) -> Tuple[str, ...]:
    """The class names of a label map (one per line, in index order).

    Raises:
        AnnotationError: a missing or empty file, or a name given twice.
    """
    if not osp.isfile(path):
        raise AnnotationError(f'label file not found: {path}')
    with open(path, encoding='utf-8') as f:
        names = [line.strip() for line in f if line.strip()]
    if not names:
        raise AnnotationError(f'{path}: no class names')
    seen = {}
    for n, name in enumerate(names, 1):
        if class_key(name) in seen:
            raise AnnotationError(
                f'{path}: line {n}: class {name!r} already on line '
                f'{seen[class_key(name)]}'
            )
        seen[class_key(name)] = n
    return tuple(names)


def clip_name(youtube_id: str, start, end) -> str:
    """``<youtube_id>_<start:06d>_<end:06d>``, a clip's file stem."""
    return f'{youtube_id}_{int(start):06d}_{int(end):06d}'


def _seconds(value: str, where: str, column: str) -> int:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        raise AnnotationError(
            f'{where}: {column} {value!r} is not a number of seconds'
        ) from None


def read_csv(path: str) -> Tuple[List[Tuple[str, Optional[str]]], bool]:
    """The clips of a CVDF/ActivityNet CSV: ``[(name, label or None)]``
    and whether the file has a ``label`` column.

    Raises:
        AnnotationError: a missing file or column, or a bad time.
    """
    if not osp.isfile(path):
        raise AnnotationError(f'annotation file not found: {path}')
    with open(path, newline='', encoding='utf-8') as f:
        reader = csv.DictReader(f)
        header = [c.strip() for c in reader.fieldnames or []]
        absent = [c for c in CSV_COLUMNS if c not in header]
        if absent:
            raise AnnotationError(
                f'{path}: no column {", ".join(absent)} in the header '
                f'{",".join(header)!r} (expected label,youtube_id,'
                'time_start,time_end,split)'
            )
        reader.fieldnames = header
        labelled = 'label' in header
        clips = []
        for n, row in enumerate(reader, 2):
            where = f'{path}: line {n}'
            yid = (row.get('youtube_id') or '').strip()
            if not yid:
                raise AnnotationError(f'{where}: empty youtube_id')
            start = _seconds(row.get('time_start'), where, 'time_start')
            end = _seconds(row.get('time_end'), where, 'time_end')
            label = (row.get('label') or '').strip() if labelled else ''
            clips.append((clip_name(yid, start, end), label or None))
    return clips, labelled


def read_video_list(path: str) -> List[Tuple[str, int]]:
    """mmaction2's video list: ``[(relative path, label)]`` (-1: none).

    Raises:
        AnnotationError: a missing file.
    """
    if not osp.isfile(path):
        raise AnnotationError(f'annotation file not found: {path}')
    out = []
    with open(path, encoding='utf-8') as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            parts = line.rsplit(maxsplit=1)
            if len(parts) == 2 and parts[1].lstrip('-').isdigit():
                out.append((parts[0], int(parts[1])))
            else:  # no label, as mmaction2's lists for inference
                out.append((line, -1))
    return out


@DATASETS.register_module()
class Kinetics400Dataset(
    MissingVideoPolicy, BadVideoPolicy, BaseActionDataset
):
    """Kinetics-400 from its CSVs (or mmaction2's lists) and its videos.

    Each sample holds ``filename`` (the file found), ``label`` (int; -1 when
    unlabelled) and ``video_id`` (the clip's file stem). The class names,
    in index order, are in ``metainfo['classes']`` (not known for a list
    file without ``label_file``).

    Args:
        ann_file (str): ``train.csv``, ``val.csv``, ``test.csv`` or an
            mmaction2 ``.txt`` list (relative: joined to ``data_root``).
        pipeline (list): The data transforms.
        data_prefix (dict): ``video``: the videos folder (relative: joined
            to ``data_root``), flat or in class folders.
        label_file (str, optional): One class name per line, in index order
            (mmaction2's ``label_map_k400.txt``); None: the CSV's names,
            sorted.
        test_mode (bool): Evaluation; allows unlabelled clips.
        suffix (str): Video file extension (for the expected path of a
            missing video; any video file of the clip's name is found).
        on_missing (str): A listed video without a file: 'skip' (left out,
            counted in the log) or 'raise'.
        on_bad_video (str, optional): See :class:`~.bad_videos.
            BadVideoPolicy` ('skip' for training, 'raise' with
            ``test_mode``).
        min_frames (int): Fewest frames of a usable video.
        min_side (int): Fewest pixels on a side of a usable frame.
        decode_deadline (float, optional): Seconds one sample may take to
            decode before its video counts as unusable (a decoder that
            never returns); None: no deadline.
        **kwargs: Passed to ``BaseActionDataset`` (``data_root``...).

    Raises:
        AnnotationError: a missing or malformed file, an unknown class, an
            unlabelled clip in training.
    """

    def __init__(
        self,
        ann_file: str,
        pipeline: Sequence[Union[dict, Callable]],
        data_prefix: dict = dict(video=''),
        label_file: Optional[str] = None,
        test_mode: bool = False,
        suffix: str = '.mp4',
        on_missing: str = 'skip',
        on_bad_video: Optional[str] = None,
        min_frames: int = 1,
        min_side: int = 8,
        decode_deadline: Optional[float] = DEFAULT_DECODE_DEADLINE,
        **kwargs,
    ) -> None:
        self.label_file = label_file
        self.suffix = suffix
        self._init_missing_policy(on_missing)
        self._init_bad_video_policy(
            on_bad_video, test_mode, min_frames, min_side, decode_deadline
        )
        super().__init__(
            ann_file,
            pipeline=pipeline,
            data_prefix=data_prefix,
            test_mode=test_mode,
            **kwargs,
        )

    def _join_root(self, path: str) -> str:
        if self.data_root and not osp.isabs(path):
            return osp.join(self.data_root, path)
        return path

    def _classes(self, labels: Sequence[str]) -> Tuple[str, ...]:
        if self.label_file:
            return load_label_file(self._join_root(self.label_file))
        return tuple(sorted(set(labels)))

    def _check_label(self, label: int, where: str) -> None:
        if label < 0 and not self.test_mode:
            raise AnnotationError(
                f'{where}: no label (an unlabelled file can only be used '
                'with test_mode=True)'
            )
        classes = self._metainfo.get('classes')
        if classes and label >= len(classes):
            raise AnnotationError(
                f'{where}: label {label} is outside the {len(classes)} '
                'classes of the label file'
            )

    def _csv_entries(self, index: VideoIndex) -> List[Listed]:
        path = self.ann_file
        clips, labelled = read_csv(path)
        if not labelled and not self.test_mode:
            raise AnnotationError(
                f"{path}: no 'label' column (an unlabelled file such as "
                'test.csv can only be used with test_mode=True)'
            )
        classes = self._classes([lb for _, lb in clips if lb is not None])
        self._metainfo['classes'] = classes
        ids: Dict[str, int] = {class_key(c): i for i, c in enumerate(classes)}
        entries, seen = [], set()
        for n, (name, label) in enumerate(clips, 2):
            where = f'{path}: line {n} ({name})'
            if name in seen:
                self._duplicates += 1
                continue
            seen.add(name)
            if label is None:
                self._check_label(-1, where)
                folder, lb = None, -1
            elif class_key(label) not in ids:
                raise AnnotationError(
                    f'{where}: class {label!r} is not in '
                    f'{self._join_root(self.label_file)}'
                )
            else:
                lb = ids[class_key(label)]
                # in a class-folder copy, a class with no file has no folder
                folder = index.class_folder(label) or (
                    label if index.subfolders else None
                )
            expected = osp.join(index.folder, folder or '', name + self.suffix)
            entries.append(
                Listed(
                    name,
                    expected,
                    index.find(name),
                    dict(label=lb, video_id=name),
                )
            )
        return entries

    def _list_entries(self, index: VideoIndex) -> List[Listed]:
        if self.label_file:
            self._metainfo['classes'] = self._classes(())
        entries = []
        for n, (rel, label) in enumerate(read_video_list(self.ann_file), 1):
            self._check_label(label, f'{self.ann_file}: line {n} ({rel})')
            expected = osp.join(index.folder, rel)
            path = expected if osp.isfile(expected) else index.find(rel)
            name = osp.splitext(osp.basename(rel))[0]
            entries.append(
                Listed(rel, expected, path, dict(label=label, video_id=name))
            )
        return entries

    def load_data_list(self) -> List[dict]:
        """Parse the annotation file, find each clip's file, leave out (and
        count) the missing ones."""
        index = VideoIndex(self.data_prefix.get('video', ''))
        self._duplicates = 0
        if self.ann_file.endswith('.txt'):
            entries = self._list_entries(index)
        else:
            entries = self._csv_entries(index)
        note = ''
        if self._duplicates:
            note = f'; {self._duplicates} clips listed twice, read once'
        return self._keep_found(entries, self.ann_file, note)
