"""Something-Something V2 read as downloaded: JSON annotations, ``.webm``.

SSv2 (https://arxiv.org/abs/1706.04261) ships ``labels/labels.json``
(``{"Approaching something with your camera": "0", ...}``, 174 classes) and
``labels/train.json`` / ``validation.json`` / ``test.json``, lists of
``{"id", "label", "template", "placeholders"}`` (test: ``{"id"}`` only). The
class of an item is ``labels[template.replace('[', '').replace(']', '')]``,
as in TSM's ``tools/gen_label_sthv2.py`` (https://arxiv.org/abs/1811.08383)
and mmaction2's ``tools/data/parse_file_list.py``. mmaction2's renamed copies
(``something-something-v2-train.json``...) have the same content and work
too. No conversion to a list file is needed.

Everything wrong in the annotations fails at construction, with one line
naming the file and the entry (:class:`AnnotationError`).
"""

import json
import os.path as osp
from typing import Callable, List, Optional, Sequence, Union

from mmaction.datasets import BaseActionDataset
from mmaction.registry import DATASETS

from ..errors import InputError
from .bad_videos import DEFAULT_DECODE_DEADLINE, BadVideoPolicy


class AnnotationError(InputError, ValueError):
    """Bad SSv2 annotations; the message names the file and the entry."""


def _load_json(path: str, what: str):
    if not osp.isfile(path):
        raise AnnotationError(f'{what} not found: {path}')
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except json.JSONDecodeError as err:
        raise AnnotationError(f'{path}: invalid JSON ({err})') from None
    except (OSError, UnicodeDecodeError) as err:
        raise AnnotationError(f'{path}: cannot read {what} ({err})') from None


def _short(entry, limit: int = 120) -> str:
    text = json.dumps(entry, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + '...'


def load_labels(path: str) -> dict:
    """``labels.json`` as ``{name: int}`` (names: templates sans brackets).

    Raises:
        AnnotationError: a missing or malformed file, a non-integer id, or
            two names with the same id.
    """
    labels = _load_json(path, 'label file')
    if not isinstance(labels, dict) or not labels:
        raise AnnotationError(
            f'{path}: expected a non-empty JSON object '
            '{"template": "id", ...}, got '
            f'{type(labels).__name__}'
        )
    out, names = {}, {}
    for name, value in labels.items():
        try:
            out[name] = int(value)
        except (TypeError, ValueError):
            raise AnnotationError(
                f'{path}: entry {_short({name: value})}: '
                'the id is not an integer'
            ) from None
        if out[name] < 0:
            raise AnnotationError(
                f'{path}: entry {_short({name: value})}: negative id'
            )
        if out[name] in names:
            raise AnnotationError(
                f'{path}: entries {names[out[name]]!r} and {name!r} share '
                f'id {out[name]}'
            )
        names[out[name]] = name
    return out


def template_to_label(template: str) -> str:
    """The labels.json key of a template: ``[`` and ``]`` removed."""
    return template.replace('[', '').replace(']', '')


@DATASETS.register_module()
class SSv2Dataset(BadVideoPolicy, BaseActionDataset):
    """Something-Something V2 from its official JSON files and ``.webm``.

    Each sample holds ``filename`` (``<data_prefix.video>/<id>.webm``),
    ``label`` (int; -1 for an item without a template, as in ``test.json``),
    ``template`` (``None`` when absent) and ``video_id``. The class names, in
    id order, are in ``metainfo['classes']``.

    Args:
        ann_file (str): ``train.json``, ``validation.json`` or ``test.json``
            (relative paths are joined to ``data_root``).
        pipeline (list): The data transforms.
        label_file (str): ``labels.json`` (relative: joined to
            ``data_root``).
        data_prefix (dict): ``video``: the folder of ``<id>.webm``
            (relative: joined to ``data_root``).
        test_mode (bool): Evaluation; allows items without a template
            (label -1). Training needs a template on every item.
        suffix (str): Video file extension.
        on_bad_video (str, optional): A video that cannot be used:
            'raise' (name it and stop) or 'skip' (log it once, use the next
            sample); None: 'skip' for training, 'raise' with ``test_mode``.
            See :mod:`~tsm_plugin.datasets.bad_videos`.
        min_frames (int): Fewest frames of a usable video (1: short videos
            repeat frames, as TSM samples them).
        min_side (int): Fewest pixels on a side of a usable frame.
        decode_deadline (float, optional): Seconds one sample may take to
            decode before its video counts as unusable (a decoder that
            never returns); None: no deadline.
        **kwargs: Passed to ``BaseActionDataset`` (``data_root``,
            ``lazy_init``, ``indices``...).

    Raises:
        AnnotationError: a missing file or videos folder, malformed JSON, an
            item without ``id``, an unknown template, a duplicate id.
    """

    def __init__(
        self,
        ann_file: str,
        pipeline: Sequence[Union[dict, Callable]],
        label_file: str,
        data_prefix: dict = dict(video=''),
        test_mode: bool = False,
        suffix: str = '.webm',
        on_bad_video: Optional[str] = None,
        min_frames: int = 1,
        min_side: int = 8,
        decode_deadline: Optional[float] = DEFAULT_DECODE_DEADLINE,
        **kwargs,
    ) -> None:
        self.label_file = label_file
        self.suffix = suffix
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
        labels = load_labels(self._label_path())
        self._metainfo['classes'] = tuple(
            sorted(labels, key=labels.__getitem__)
        )
        items = _load_json(self.ann_file, 'annotation file')
        path = self.ann_file
        if not isinstance(items, list):
            raise AnnotationError(
                f'{path}: expected a JSON list of items, '
                f'got {type(items).__name__}'
            )
        video_dir = self.data_prefix.get('video', '')
        if not osp.isdir(video_dir or '.'):
            raise AnnotationError(
                f'videos folder not found: {video_dir} '
                f'(data_prefix.video for {path})'
            )
        data_list, seen = [], set()
        for n, item in enumerate(items):
            where = f'{path}: item {n}'
            if not isinstance(item, dict) or item.get('id') in (None, ''):
                raise AnnotationError(f"{where} has no 'id': {_short(item)}")
            vid = str(item['id'])
            where = f'{where} (id {vid})'
            if vid in seen:
                raise AnnotationError(f'{where}: duplicate id')
            seen.add(vid)
            template = item.get('template')
            if template is None:
                if not self.test_mode:
                    raise AnnotationError(
                        f"{where} has no 'template' (an unlabelled file "
                        'such as test.json can only be used with '
                        'test_mode=True)'
                    )
                label = -1
            else:
                name = template_to_label(str(template))
                if name not in labels:
                    raise AnnotationError(
                        f'{where}: template {template!r} ({name!r}) is not '
                        f'in {self._label_path()}'
                    )
                label = labels[name]
            data_list.append(
                dict(
                    filename=osp.join(video_dir, vid + self.suffix),
                    label=label,
                    template=template,
                    video_id=vid,
                )
            )
        return data_list
