"""GFLOPs and parameters per frame count, counted by mmengine's FlopAnalyzer:
the published TSM-R50 figures (FFN Tab. 1), the shift counted free, the
model traced at each frame count, an FFN's parameters of one branch; each
count traced once per architecture, clip size and frame count (FlopCache)."""

import copy
import re

import pytest
import torch
from mmengine.config import Config

import tsm_plugin.registration  # noqa: F401  (stack fixes + registration)
from tests.helpers import DEMO, REPO, one_thread_fixture
from tsm_plugin.errors import ConfigValueError, InputError
from tsm_plugin.evaluation.complexity import (
    DEFAULT_CACHE,
    FlopCache,
    add_complexity,
    architecture_key,
    count_complexity,
    flop_cache_of,
)
from tsm_plugin.models.frame_counts import frame_count, set_model_num_frames
from tsm_plugin.models.temporal_shift import TemporalShift

one_thread = one_thread_fixture('module')

SIZE = (32, 32)


def build(config: str, **backbone):
    from mmaction.registry import MODELS
    from mmengine.registry import init_default_scope

    init_default_scope('mmaction')
    cfg = Config.fromfile(config)
    cfg.model.backbone.update(pretrained=None, **backbone)
    torch.manual_seed(0)
    return MODELS.build(cfg.model)


def test_r50_at_4_frames_matches_the_published_gflops():
    """FFN Tab. 1: TSM-R50, one 224 x 224 clip of 4 frames, 16.4 GFLOPs
    (8 and 16 frames, 32.7 and 65.4, are measured in docs/reproduce.md:
    counting them here would take 15 s more)."""
    model = build(str(REPO / 'configs' / 'tsm_r50_16f_ssv2.py'))
    got = count_complexity(model, [4])[4]
    assert got['gflops'] == pytest.approx(16.4, rel=0.02)
    assert got['params'] == sum(p.numel() for p in model.parameters())
    assert got['params_m'] == pytest.approx(23.86, abs=0.01)  # 174 classes
    assert got['input_shape'] == [1, 4, 3, 224, 224]
    assert model.backbone.num_segments == 16  # restored


def _without_shifts(model):
    """The same network with every TemporalShift replaced by its conv."""
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, TemporalShift):
                setattr(module, name, child.net)
    return model


@pytest.fixture(scope='module')
def demo():
    """The demo's TSM-R18 (in train mode) and its count at 2 and 4 frames."""
    model = build(DEMO)
    model.train()
    return model, count_complexity(model, [2, 4], SIZE)


def test_shift_is_free_and_each_frame_count_is_traced(demo):
    model, got = demo
    plain = count_complexity(_without_shifts(build(DEMO)), [2, 4], SIZE)
    for t in (2, 4):
        # The shift moves memory: the count equals the shift-free network's.
        assert got[t]['flops'] == plain[t]['flops'] > 0
        assert (
            'prim::PythonOp._TemporalShiftFunction'
            in (got[t]['uncounted_ops'])
        )
        assert got[t]['input_shape'] == [1, t, 3, *SIZE]
        assert got[t]['params'] == sum(p.numel() for p in model.parameters())
    # Traced anew per count: every per-frame op scales with the frames.
    assert got[4]['flops'] == 2 * got[2]['flops']
    assert model.backbone.num_segments == 16 and model.training  # restored


def test_ffn_counts_the_shared_convs_and_one_branch():
    model = build(str(REPO / 'configs' / 'ffn_demo_synthetic.py'))
    counts = model.backbone.frame_counts
    got = count_complexity(model, counts, SIZE)
    private = {b: 0 for b in range(len(counts))}  # a branch's BNs, adapters
    total = 0
    for name, p in model.named_parameters():
        total += p.numel()
        m = re.search(r'\.(?:bn\d?|adapter)\.(\d+)\.', name)
        if m:
            private[int(m.group(1))] += p.numel()
    assert len(set(private.values())) == 1 and private[0] > 0
    for branch, t in enumerate(counts):
        others = sum(n for b, n in private.items() if b != branch)
        assert got[t]['params'] == total - others


def test_add_complexity_counts_at_the_swept_frame_size(demo):
    model, want = demo
    report = dict(results=[dict(frames=2), dict(frames=4)])
    # One sample as the sweep sees it: views * T x C x H x W (not 224 px).
    add_complexity(report, model, (3 * 2, 3, *SIZE))
    assert report['complexity_input'] == [3, *SIZE]
    for row in report['results']:
        assert row['gflops'] == want[row['frames']]['gflops']
        assert row['params_m'] == want[row['frames']]['params_m']
    assert add_complexity(dict(results=[]), model, None) == dict(results=[])


SMALL = (16, 16)  # the cache tests' clips: the smallest the R-18 takes


def _count_traces(monkeypatch) -> list:
    """Make every FlopAnalyzer record the clip it traces; returns the list
    they land in (a shape per trace)."""
    import mmengine.analysis

    traced = []

    class CountingAnalyzer(mmengine.analysis.FlopAnalyzer):
        def __init__(self, model, inputs):
            traced.append(list(inputs[0].shape))
            super().__init__(model, inputs)

    monkeypatch.setattr(mmengine.analysis, 'FlopAnalyzer', CountingAnalyzer)
    return traced


def test_flop_cache_traces_each_architecture_size_and_count_once(
    demo, monkeypatch, tmp_path
):
    """Weights, the trained frame count and the process do not change a
    count: cached; a new frame count, clip size or architecture is traced
    anew, and a cached count equals a fresh one."""
    model, _ = demo
    traced = _count_traces(monkeypatch)
    fresh = count_complexity(model, [2, 4], SMALL, flop_cache=False)
    assert traced == [[1, 2, 3, *SMALL], [1, 4, 3, *SMALL]]
    path = tmp_path / 'flops.json'
    cache = FlopCache(path)
    assert count_complexity(model, [2, 4], SMALL, flop_cache=cache) == fresh
    assert len(traced) == 4 and cache.traced == 2 and len(cache) == 2
    # Other weights, trained at another frame count: the same entries.
    other = copy.deepcopy(model)
    with torch.no_grad():
        for p in other.parameters():
            p.add_(1)
    set_model_num_frames(other, 8)
    got = count_complexity(other, [4, 2], SMALL, flop_cache=cache)
    assert list(got) == [4, 2] and got == fresh and len(traced) == 4
    # A rerun in a new process reads the file.
    again = count_complexity(model, [2, 4], SMALL, flop_cache=str(path))
    assert again == fresh and len(traced) == 4
    # A new frame count, clip size, architecture: traced, once each.
    new = count_complexity(model, [2, 3], SMALL, flop_cache=cache)
    assert new[2] == fresh[2] and traced[4:] == [[1, 3, 3, *SMALL]]
    count_complexity(model, [2], (16, 8), flop_cache=cache)
    assert traced[5:] == [[1, 2, 3, 16, 8]]
    plain = _without_shifts(copy.deepcopy(model))
    assert count_complexity(plain, [2], SMALL, flop_cache=cache) == {
        2: {**fresh[2], 'uncounted_ops': plain_ops(fresh[2])}
    }
    assert len(traced) == 7 and cache.traced == 5
    assert model.backbone.num_segments == 16 and model.training  # restored


def plain_ops(entry: dict) -> list:
    """A count's uncounted ops without the temporal shift's."""
    return [op for op in entry['uncounted_ops'] if 'TemporalShift' not in op]


def test_an_ffn_with_other_frame_counts_is_another_architecture():
    """Same modules and weights, other branch counts (routing, Sec. 5.3):
    another key."""
    config = str(REPO / 'configs' / 'ffn_demo_synthetic.py')
    a = build(config)
    b = copy.deepcopy(a)
    b.backbone.frame_counts = (2, 4, 8)
    with frame_count(a, 1), frame_count(b, 1):
        assert repr(a) == repr(b)
    assert architecture_key(a) != architecture_key(b)
    c = copy.deepcopy(a)
    with frame_count(c, 8):
        assert architecture_key(c) == architecture_key(a)  # the weights'


def test_flop_cache_is_bounded_and_checks_its_file(tmp_path):
    path = tmp_path / 'flops.json'
    cache = FlopCache(path, max_entries=2)
    cache.put('a', dict(flops=1))
    cache.put('b', dict(flops=2))
    assert cache.get('a') == dict(flops=1)  # now the most recent
    cache.put('c', dict(flops=3))
    assert 'b' not in cache and len(cache) == 2
    cache.get('a')['flops'] = 9  # a copy: the entry stays
    cache.save()
    reread = FlopCache(path)
    assert (reread.get('a'), reread.get('c')) == (dict(flops=1), {'flops': 3})
    assert (
        flop_cache_of(None) is DEFAULT_CACHE and flop_cache_of(False) is None
    )
    assert flop_cache_of(str(path)) is flop_cache_of(path)
    assert flop_cache_of(cache) is cache
    with pytest.raises(ConfigValueError, match='flop_cache must be'):
        flop_cache_of(3)
    with pytest.raises(ConfigValueError, match='max_entries must be >= 1'):
        FlopCache(max_entries=0)
    path.write_text('{"entries": ')
    with pytest.raises(InputError, match='not a FLOP cache file'):
        FlopCache(path)
