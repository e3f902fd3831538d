"""SSv2Dataset: labels from templates, and one clear error per bad input."""

import json
import re

import pytest
from mmaction.registry import DATASETS
from mmengine.registry import init_default_scope

import tsm_plugin.registration  # noqa: F401  (stack fixes + registration)
from tsm_plugin.datasets.ssv2 import AnnotationError, SSv2Dataset
from tsm_plugin.errors import InputError

VIDEOS = '20bn-something-something-v2'


def build(
    root,
    ann='labels/train.json',
    label='labels/labels.json',
    video=VIDEOS,
    **kwargs,
):
    init_default_scope('mmaction')
    return DATASETS.build(
        dict(
            type='SSv2Dataset',
            data_root=str(root),
            ann_file=ann,
            label_file=label,
            data_prefix=dict(video=video),
            pipeline=[],
            **kwargs,
        )
    )


def test_labels_follow_labels_json_and_templates(synthetic_ssv2):
    labels = json.loads((synthetic_ssv2 / 'labels/labels.json').read_text())
    # ids in alphabetical order of the names, as in SSv2
    assert [int(v) for v in labels.values()] == list(range(8))
    assert list(labels) == sorted(labels)
    for split in ('train', 'validation'):
        items = json.loads(
            (synthetic_ssv2 / 'labels' / f'{split}.json').read_text()
        )
        ds = build(synthetic_ssv2, f'labels/{split}.json')
        assert len(ds) == len(items) == 8 * (2 if split == 'train' else 1)
        for i, item in enumerate(items):
            info = ds.get_data_info(i)
            name = item['template'].replace('[', '').replace(']', '')
            assert info['label'] == int(labels[name])
            assert info['template'] == item['template']
            assert info['filename'] == str(
                synthetic_ssv2 / VIDEOS / f'{item["id"]}.webm'
            )
    assert ds.metainfo['classes'][6] == 'Something falling like a rock'
    # one hand-checked item: "Moving [something] up" -> "Moving something up"
    item = next(
        i
        for i, it in enumerate(items)
        if it['template'] == 'Moving [something] up'
    )
    assert (
        ds.get_data_info(item)['label']
        == int(labels['Moving something up'])
        == 2
    )


def test_test_json_items_get_label_minus_one(synthetic_ssv2):
    ds = build(synthetic_ssv2, 'labels/test.json', test_mode=True)
    assert len(ds) == 8
    assert {ds.get_data_info(i)['label'] for i in range(8)} == {-1}
    assert ds.get_data_info(0)['template'] is None


def write_set(root, labels, items, name='train.json'):
    (root / 'labels').mkdir(parents=True, exist_ok=True)
    (root / VIDEOS).mkdir(exist_ok=True)
    (root / 'labels' / 'labels.json').write_text(json.dumps(labels))
    ann = root / 'labels' / name
    ann.write_text(items if isinstance(items, str) else json.dumps(items))
    return ann


SPECIAL = {
    'Approaching something with your camera': '0',
    'Putting number of something onto something': '1',
    'Touching (without moving) part of something': '2',
}
ITEMS = [
    {
        'id': '7',
        'label': 'putting 2 pens onto a book',
        'template': 'Putting [number of] [something] onto [something]',
        'placeholders': ['2', 'pens', 'a book'],
    },
    {
        'id': 12,
        'label': 'touching (without moving) lid of jar',
        'template': 'Touching (without moving) [part] of [something]',
        'placeholders': ['lid', 'jar'],
    },
]


def test_templates_with_several_and_odd_placeholders(tmp_path):
    write_set(tmp_path, SPECIAL, ITEMS)
    ds = build(tmp_path)
    assert [ds.get_data_info(i)['label'] for i in range(2)] == [1, 2]
    assert ds.get_data_info(1)['filename'].endswith(f'{VIDEOS}/12.webm')


def test_mmaction2_renamed_files_work(tmp_path):
    write_set(tmp_path, SPECIAL, ITEMS, 'something-something-v2-train.json')
    (tmp_path / 'labels' / 'labels.json').rename(
        tmp_path / 'labels' / 'something-something-v2-labels.json'
    )
    ds = build(
        tmp_path,
        'labels/something-something-v2-train.json',
        'labels/something-something-v2-labels.json',
    )
    assert [ds.get_data_info(i)['label'] for i in range(2)] == [1, 2]


BAD_ITEMS = {
    'unknown template': (
        ITEMS + [{'id': '99', 'template': 'Juggling [something]'}],
        "item 2 (id 99): template 'Juggling [something]' "
        "('Juggling something') is not in {labels}",
    ),
    'invalid json': ('[{"id": "1",', '{ann}: invalid JSON'),
    'not a list': (
        {'id': '1'},
        '{ann}: expected a JSON list of items, got dict',
    ),
    'item without id': (
        ITEMS + [{'template': ITEMS[0]['template']}],
        '{ann}: item 2 has no \'id\': {{"template"',
    ),
    'item not a dict': (ITEMS + ['7'], '{ann}: item 2 has no \'id\': "7"'),
    'duplicate id': (
        ITEMS + [dict(ITEMS[0])],
        '{ann}: item 2 (id 7): duplicate id',
    ),
    'no template in training': (
        ITEMS + [{'id': '3'}],
        "{ann}: item 2 (id 3) has no 'template' (an unlabelled file",
    ),
}


@pytest.mark.parametrize('case', list(BAD_ITEMS))
def test_bad_annotations_fail_at_construction(tmp_path, case):
    items, expected = BAD_ITEMS[case]
    ann = write_set(tmp_path, SPECIAL, items)
    labels = tmp_path / 'labels' / 'labels.json'
    expected = expected.format(ann=ann, labels=labels)
    with pytest.raises(AnnotationError, match=re.escape(expected)) as err:
        build(tmp_path)
    assert '\n' not in str(err.value)
    assert isinstance(err.value, InputError)
    assert isinstance(err.value, ValueError)


@pytest.mark.parametrize(
    'case, labels, expected',
    [
        ('not a dict', ['a'], '{f}: expected a non-empty JSON object'),
        (
            'bad id',
            {'A': 'x'},
            '{f}: entry {{"A": "x"}}: the id is not an integer',
        ),
        (
            'shared id',
            {'A': '0', 'B': '0'},
            "{f}: entries 'A' and 'B' share id 0",
        ),
        ('invalid json', '{"A": ', '{f}: invalid JSON'),
    ],
)
def test_bad_label_file_fails_at_construction(
    tmp_path, case, labels, expected
):
    write_set(tmp_path, SPECIAL, ITEMS)
    f = tmp_path / 'labels' / 'labels.json'
    f.write_text(labels if isinstance(labels, str) else json.dumps(labels))
    with pytest.raises(AnnotationError, match=re.escape(expected.format(f=f))):
        build(tmp_path)


def test_missing_files_and_folders_are_named(tmp_path):
    write_set(tmp_path, SPECIAL, ITEMS)
    with pytest.raises(
        AnnotationError,
        match=re.escape(f'label file not found: {tmp_path}/labels/nope.json'),
    ):
        build(tmp_path, label='labels/nope.json')
    with pytest.raises(
        AnnotationError,
        match=re.escape(
            f'annotation file not found: {tmp_path}/labels/val.json'
        ),
    ):
        build(tmp_path, ann='labels/val.json')
    with pytest.raises(
        AnnotationError,
        match=re.escape(
            f'videos folder not found: {tmp_path}/videos (data_prefix.video '
            f'for {tmp_path}/labels/train.json)'
        ),
    ):
        build(tmp_path, video='videos')


def test_absolute_paths_without_data_root(tmp_path):
    write_set(tmp_path, SPECIAL, ITEMS)
    ds = SSv2Dataset(
        ann_file=str(tmp_path / 'labels/train.json'),
        label_file=str(tmp_path / 'labels/labels.json'),
        data_prefix=dict(video=str(tmp_path / VIDEOS)),
        pipeline=[],
    )
    assert ds.get_data_info(0)['filename'] == str(tmp_path / VIDEOS / '7.webm')
