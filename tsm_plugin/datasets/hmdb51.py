"""HMDB51 read as downloaded (.avi class folders, the official splits).

HMDB51 (https://serre-lab.clps.brown.edu/resource/hmdb-a-large-human-motion-
database/), as the FFN paper (https://arxiv.org/abs/2303.14817) evaluates
on it, read with no conversion:

* the videos: ``hmdb51/<class>/<video>.avi`` (``hmdb51_org.rar``, each
  class's ``.rar`` extracted into its folder);
* the official splits: ``testTrainMulti_7030_splits/<class>_test_split
  {1,2,3}.txt``, each line ``<video>.avi <flag>`` with 1 = train, 2 = test,
  0 = unused in that split.

Class index: the class names sorted, the order mmaction2 1.2 gives them
(``tools/data/parse_file_list.py``: ``sorted(os.listdir(videos))``).

A listed video without a file is left out and counted, as for Kinetics-400
(:class:`~.video_list.MissingVideoPolicy`); a broken one is the business of
:class:`~.bad_videos.BadVideoPolicy`.
"""

import os
import os.path as osp
from typing import Callable, Dict, List, Optional, Sequence, Union

from mmaction.datasets import BaseActionDataset
from mmaction.registry import DATASETS

from .bad_videos import DEFAULT_DECODE_DEADLINE, BadVideoPolicy
from .ssv2 import AnnotationError
from .video_list import Listed, MissingVideoPolicy, VideoIndex

SPLITS = (1, 2, 3)
SUBSETS = {'train': '1', 'test': '2'}  # subset -> flag; '0': unused
FLAGS = ('0', '1', '2')


def split_files(split_dir: str, split: int) -> Dict[str, str]:
    """``{class: path}`` of ``<class>_test_split<split>.txt`` in a folder.

    Raises:
        AnnotationError: the folder is missing or holds none.
    """
    if not osp.isdir(split_dir):
        raise AnnotationError(f'split folder not found: {split_dir}')
    tail = f'_test_split{split}.txt'
    found = {
        name[: -len(tail)]: osp.join(split_dir, name)
        for name in sorted(os.listdir(split_dir))
        if name.endswith(tail) and len(name) > len(tail)
    }
    if not found:
        raise AnnotationError(
            f'{split_dir}: no <class>{tail} files (the official '
            'testTrainMulti_7030_splits)'
        )
    return found


def read_split_file(path: str) -> List[tuple]:
    """``[(video, flag)]`` of one class's split file, in file order.

    Raises:
        AnnotationError: a line that is not ``<video> <flag>`` or a flag
            other than 0, 1, 2.
    """
    out = []
    with open(path, encoding='utf-8') as f:
        for n, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 2:
                raise AnnotationError(
                    f'{path}: line {n}: expected "<video>.avi <flag>", '
                    f'got {line.strip()!r}'
                )
            if parts[1] not in FLAGS:
                raise AnnotationError(
                    f'{path}: line {n}: unknown flag {parts[1]!r} for '
                    f'{parts[0]} (1 = train, 2 = test, 0 = unused)'
                )
            out.append((parts[0], parts[1]))
    return out


@DATASETS.register_module()
class HMDB51Dataset(MissingVideoPolicy, BadVideoPolicy, BaseActionDataset):
    """HMDB51 from its class folders and one of its official splits.

    Each sample holds ``filename`` (the file found), ``label`` (int) and
    ``video_id`` (the file's stem). The class names, sorted, are in
    ``metainfo['classes']``.

    Args:
        pipeline (list): The data transforms.
        split (int): The official split, 1, 2 or 3.
        subset (str): 'train' (flag 1) or 'test' (flag 2); flag 0 is never
            read.
        split_dir (str): The folder of ``<class>_test_split<N>.txt``
            (relative: joined to ``data_root``).
        data_prefix (dict): ``video``: the folder of the class folders
            (relative: joined to ``data_root``).
        test_mode (bool): Evaluation.
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
        AnnotationError: a bad split or subset, a missing split folder, a
            malformed line, an unknown flag, a class folder without a split
            file.
    """

    def __init__(
        self,
        pipeline: Sequence[Union[dict, Callable]],
        split: int = 1,
        subset: str = 'train',
        split_dir: str = 'testTrainMulti_7030_splits',
        data_prefix: dict = dict(video='hmdb51'),
        test_mode: bool = False,
        on_missing: str = 'skip',
        on_bad_video: Optional[str] = None,
        min_frames: int = 1,
        min_side: int = 8,
        decode_deadline: Optional[float] = DEFAULT_DECODE_DEADLINE,
        **kwargs,
    ) -> None:
        if split not in SPLITS:
            raise AnnotationError(f'split must be 1, 2 or 3, got {split!r}')
        if subset not in SUBSETS:
            raise AnnotationError(
                f"subset must be 'train' or 'test', got {subset!r}"
            )
        self.split, self.subset = split, subset
        self._init_missing_policy(on_missing)
        self._init_bad_video_policy(
            on_bad_video, test_mode, min_frames, min_side, decode_deadline
        )
        # The split folder is the annotation "file": data_root joins it.
        super().__init__(
            split_dir,
            pipeline=pipeline,
            data_prefix=data_prefix,
            test_mode=test_mode,
            **kwargs,
        )

    @property
    def split_dir(self) -> str:
        return self.ann_file

    def load_data_list(self) -> List[dict]:
        """Read the split's files, keep the subset's videos, leave out (and
        count) the missing ones."""
        files = split_files(self.split_dir, self.split)
        index = VideoIndex(self.data_prefix.get('video', ''))
        unlisted = sorted(index.subfolders - set(files))
        if unlisted:
            raise AnnotationError(
                f'class folder {osp.join(index.folder, unlisted[0])} has no '
                f'split file {unlisted[0]}_test_split{self.split}.txt in '
                f'{self.split_dir}'
            )
        classes = tuple(sorted(files))
        self._metainfo['classes'] = classes
        flag = SUBSETS[self.subset]
        entries = []
        for label, name in enumerate(classes):
            for video, f in read_split_file(files[name]):
                if f != flag:
                    continue
                expected = osp.join(index.folder, name, video)
                path = expected if osp.isfile(expected) else index.find(video)
                entries.append(
                    Listed(
                        f'{name}/{video}',
                        expected,
                        path,
                        dict(label=label, video_id=osp.splitext(video)[0]),
                    )
                )
        what = f'{self.split_dir} (split {self.split}, {self.subset})'
        return self._keep_found(entries, what)
