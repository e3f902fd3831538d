"""Something-Something V1 read as downloaded (frame folders, ';' CSVs).

SSv1 (https://arxiv.org/abs/1706.04261) ships its videos as JPEG frame
folders, ``20bn-something-something-v1/<id>/00001.jpg ...`` (read by
:class:`~.frame_folder.FrameFolderReader`), and four ``;``-separated CSVs:
``something-something-v1-labels.csv`` (one class name a line),
``-train.csv`` and ``-validation.csv`` (``<id>;<class name>`` a line) and
``-test.csv`` (``<id>`` a line). No conversion to a list file is needed.

Class numbering. The TSM repository's ``tools/gen_label_sthv1.py``
(https://arxiv.org/abs/1811.08383), whose lists FFN
(https://arxiv.org/abs/2303.14817) trains on, numbers the classes by their
position in ``sorted(names)`` (Python's string order, each line
right-stripped): ``class_order='sorted'``, the default, so their SSv1
checkpoints score as published. mmaction2's
``tools/data/parse_file_list.py`` numbers them in the labels CSV's order
instead: ``class_order='csv'``.

Everything wrong in the annotations fails at construction, with one line
naming the file and the line (:class:`~.ssv2.AnnotationError`).
"""

import os.path as osp
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

from mmaction.datasets import BaseActionDataset
from mmaction.registry import DATASETS

from ..errors import ConfigValueError
from .bad_videos import DEFAULT_DECODE_DEADLINE, BadVideoPolicy
from .ssv2 import AnnotationError

#: How the classes are numbered: 'sorted' (TSM/FFN), 'csv' (mmaction2).
CLASS_ORDERS = ('sorted', 'csv')
VIDEO_DIR = '20bn-something-something-v1'


def _read_lines(path: str, what: str) -> List[Tuple[int, str]]:
    """``(line number, right-stripped text)`` of each non-blank line."""
    if not osp.isfile(path):
        raise AnnotationError(f'{what} not found: {path}')
    try:
        with open(path, encoding='utf-8-sig') as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise AnnotationError(f'{path}: cannot read {what} ({err})') from None
    out = [(n, line.rstrip()) for n, line in enumerate(lines, 1)]
    return [(n, line) for n, line in out if line.strip()]


def check_class_order(class_order: str) -> str:
    """``class_order`` if it is one of :data:`CLASS_ORDERS`.

    Raises:
        ConfigValueError: any other value.
    """
    if class_order not in CLASS_ORDERS:
        raise ConfigValueError(
            f'class_order must be one of {CLASS_ORDERS}, got {class_order!r}'
        )
    return class_order


def load_class_names(path: str, class_order: str = 'sorted') -> List[str]:
    """The class names of ``something-something-v1-labels.csv``, in index
    order: ``sorted`` (as TSM's ``gen_label_sthv1.py``) or the CSV's.

    Raises:
        AnnotationError: a missing or empty file, a name listed twice.
        ConfigValueError: an unknown ``class_order``.
    """
    check_class_order(class_order)
    names, first = [], {}
    for n, name in _read_lines(path, 'label file'):
        if name in first:
            raise AnnotationError(
                f'{path}:{n}: class {name!r} is listed twice '
                f'(first on line {first[name]})'
            )
        first[name] = n
        names.append(name)
    if not names:
        raise AnnotationError(f'{path}: no class names')
    return sorted(names) if class_order == 'sorted' else names


def parse_row(
    path: str, n: int, line: str, labels: Dict[str, int], test_mode: bool
) -> Tuple[str, int]:
    """``(id, label)`` of one CSV line (label -1: an unlabelled test row).

    Raises:
        AnnotationError: a malformed line, an unknown class, or a line
            without a class outside ``test_mode``.
    """
    fields = line.split(';')
    vid = fields[0].strip()
    if len(fields) > 2 or not vid:
        raise AnnotationError(
            f"{path}:{n}: expected '<id>;<class name>' or '<id>', "
            f'got {line[:120]!r}'
        )
    if len(fields) == 1:
        if not test_mode:
            raise AnnotationError(
                f'{path}:{n}: id {vid} has no class (an unlabelled file '
                'such as -test.csv can only be used with test_mode=True)'
            )
        return vid, -1
    if fields[1] not in labels:
        raise AnnotationError(
            f'{path}:{n}: id {vid}: class {fields[1]!r} is not in the '
            'label file'
        )
    return vid, labels[fields[1]]


@DATASETS.register_module()
class SthV1Dataset(BadVideoPolicy, BaseActionDataset):
    """Something-Something V1 from its official CSVs and frame folders.

    Each sample holds ``filename`` (the frame folder,
    ``<data_prefix.video>/<id>``), ``label`` (int; -1 for a row without a
    class, as in ``-test.csv``) and ``video_id``. The class names, in index
    order, are in ``metainfo['classes']``. The pipeline is SSv2's:
    ``VideoInit`` opens a folder as a
    :class:`~.frame_folder.FrameFolderReader` (sampled index ``i`` is
    ``{i+1:05d}.jpg``), or, in a prepared set, ``<id>.jpgbundle``.

    Args:
        ann_file (str): ``something-something-v1-train.csv``,
            ``-validation.csv`` or ``-test.csv`` (relative paths are joined
            to ``data_root``).
        pipeline (list): The data transforms.
        label_file (str): ``something-something-v1-labels.csv`` (relative:
            joined to ``data_root``).
        data_prefix (dict): ``video``: the folder of the ``<id>`` frame
            folders (relative: joined to ``data_root``).
        test_mode (bool): Evaluation; allows rows without a class (label
            -1). Training needs a class on every row.
        class_order (str): 'sorted': index = position in the sorted names
            (the TSM and FFN repositories); 'csv': the labels CSV's order
            (mmaction2).
        on_bad_video (str, optional): A video that cannot be used:
            'raise' or 'skip'; None: 'skip' for training, 'raise' with
            ``test_mode``. See :mod:`~tsm_plugin.datasets.bad_videos`.
        min_frames (int): Fewest frames of a usable video.
        min_side (int): Fewest pixels on a side of a usable frame.
        decode_deadline (float, optional): Seconds one sample may take to
            decode before its video counts as unusable; None: no deadline.
        **kwargs: Passed to ``BaseActionDataset`` (``data_root``,
            ``lazy_init``, ``indices``...).

    Raises:
        AnnotationError: a missing file or frames folder, a malformed line,
            an unknown class, a duplicate id (each named by file and line).
        ConfigValueError: an unknown ``class_order``.
    """

    def __init__(
        self,
        ann_file: str,
        pipeline: Sequence[Union[dict, Callable]],
        label_file: str,
        data_prefix: dict = dict(video=VIDEO_DIR),
        test_mode: bool = False,
        class_order: str = 'sorted',
        on_bad_video: Optional[str] = None,
        min_frames: int = 1,
        min_side: int = 8,
        decode_deadline: Optional[float] = DEFAULT_DECODE_DEADLINE,
        **kwargs,
    ) -> None:
        self.class_order = check_class_order(class_order)
        self.label_file = label_file
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

    def _label_path(self) -> str:
        path = self.label_file
        if self.data_root and not osp.isabs(path):
            path = osp.join(self.data_root, path)
        return path

    def load_data_list(self) -> List[dict]:
        """Parse and check the annotation file (see the class docstring)."""
        names = load_class_names(self._label_path(), self.class_order)
        self._metainfo['classes'] = tuple(names)
        labels = {name: i for i, name in enumerate(names)}
        path = self.ann_file
        rows = _read_lines(path, 'annotation file')
        video_dir = self.data_prefix.get('video', '')
        if not osp.isdir(video_dir or '.'):
            raise AnnotationError(
                f'frames folder not found: {video_dir} '
                f'(data_prefix.video for {path})'
            )
        data_list, seen = [], {}
        for n, line in rows:
            vid, label = parse_row(path, n, line, labels, self.test_mode)
            if vid in seen:
                raise AnnotationError(
                    f'{path}:{n}: duplicate id {vid} (first on line '
                    f'{seen[vid]})'
                )
            seen[vid] = n
            data_list.append(
                dict(
                    filename=osp.join(video_dir, vid),
                    label=label,
                    video_id=vid,
                )
            )
        return data_list
