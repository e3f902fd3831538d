"""``tools/preflight.py``: the pre-cluster checklist of a config, one command.

Before a multi-day job is queued, check on the login node (or one GPU node)
what would otherwise fail hours in:

1. paths: data root, annotation and label files, the videos folder, the
   work dir (writable);
2. annotations: every split parses, and its labels map onto the model's
   classes (``labels.json`` size == ``cls_head.num_classes``);
3. videos: every video (or ``--sample N``) decodes completely, in parallel
   with a progress bar, under the same rules training applies
   (:func:`~tsm_plugin.datasets.bad_videos.check_video`); the unusable ones
   go to a file. A split whose policy is ``on_bad_video='skip'`` (training)
   only warns: training will replace them; a ``'raise'`` split (validation)
   fails;
4. pretrained weights load (a local file, or ``torchvision://`` reachable);
5. one batch of the real training pipeline runs forward + backward on the
   chosen device and on CPU, with a finite loss and finite gradients;
6. a checkpoint (weights, optimizer state, message hub) saves and reloads
   bit-identically through the atomic writer and the safe loader.

Prints a pass/fail table; the exit status is 1 if any check failed.
"""
import argparse
import os
import os.path as osp
import random
import signal
import sys
import time
import traceback
from typing import List, NamedTuple, Optional

from mmengine.config import Config, DictAction

from ..utils.config import DATALOADERS, iter_datasets, load_config, set_data_root
from ._cli import run_cli

PASS, FAIL, WARN, SKIP = 'PASS', 'FAIL', 'WARN', 'SKIP'


class Row(NamedTuple):
    """One line of the table."""
    check: str
    status: str
    detail: str


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description='Check a config, its data and the device before a long '
        'run; exits 1 if any check fails.')
    p.add_argument('config', help='config file')
    p.add_argument('--data-root', '--data_dir', '--data-dir',
                   dest='data_root', help='SSv2 folder as downloaded')
    p.add_argument('--sample', type=int, metavar='N',
                   help='decode N random videos instead of all')
    p.add_argument('--workers', type=int, default=min(8, os.cpu_count() or 1),
                   help='decoding processes (default: min(8, CPUs))')
    p.add_argument('--timeout', type=float, default=60.,
                   help='seconds one video may take to decode')
    p.add_argument('--bad-list', metavar='FILE',
                   help='where the unusable videos are listed (default: '
                   '<work dir>/preflight_bad_videos.txt)')
    p.add_argument('--device', default='auto',
                   help="device of the training-step check ('auto': what "
                   'the Runner picks); CPU is always checked too')
    p.add_argument('--batch-size', type=int, default=2,
                   help='clips in the training-step check')
    p.add_argument('--work-dir', help='default: ./work_dirs/<config name>')
    p.add_argument('--seed', type=int, default=0, help='for --sample')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config keys')
    return p


def _one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    # DataLoader workers and pools wrap errors: the last line is the cause.
    return (text[-1] if text else type(err).__name__)[:300]


# -- 1. paths -------------------------------------------------------------
def _resolve(root: Optional[str], path: str) -> str:
    return path if (not root or osp.isabs(path)) else osp.join(root, path)


def check_paths(cfg: Config, work_dir: str) -> Row:
    """Every path a dataset reads exists; the work dir is writable."""
    missing, checked = [], set()
    for ds in iter_datasets(cfg):
        root = ds.get('data_root')
        paths = [('data_root', root)] if root else []
        for key in ('ann_file', 'label_file'):
            if ds.get(key):
                paths.append((key, _resolve(root, ds[key])))
        video = (ds.get('data_prefix') or {}).get('video')
        if video is not None:
            paths.append(('data_prefix.video', _resolve(root, video)))
        for key, path in paths:
            if path not in checked:
                checked.add(path)
                if not osp.exists(path):
                    missing.append(f'{key} {path}')
    try:
        os.makedirs(work_dir, exist_ok=True)
        probe = osp.join(work_dir, f'.preflight.{os.getpid()}')
        with open(probe, 'w') as f:
            f.write('ok')
        os.remove(probe)
    except OSError as err:
        missing.append(f'work dir not writable: {work_dir} ({err})')
    if missing:
        return Row('paths', FAIL, 'missing: ' + '; '.join(missing))
    return Row('paths', PASS, f'{len(checked)} paths exist; work dir '
               f'{work_dir} writable')


# -- 2. annotations -------------------------------------------------------
def build_datasets(cfg: Config):
    """{loader name: dataset} for each dataloader; a Row per failure."""
    from mmaction.registry import DATASETS
    out, rows = {}, []
    built = {}
    for name in DATALOADERS:
        loader = cfg.get(name)
        if not loader:
            continue
        key = repr(loader['dataset'])
        if key in built:  # test_dataloader = val_dataloader
            out[name] = built[key]
            continue
        try:
            out[name] = built[key] = DATASETS.build(loader['dataset'])
        except Exception as err:  # noqa: BLE001 - reported in the table
            rows.append(Row(f'annotations ({name})', FAIL, _one_line(err)))
    return out, rows


def check_labels(cfg: Config, datasets: dict) -> List[Row]:
    """Each split's labels map onto ``model.cls_head.num_classes``."""
    num_classes = cfg.model.get('cls_head', {}).get('num_classes')
    rows, seen = [], set()
    for name, ds in datasets.items():
        if id(ds) in seen:
            continue
        seen.add(id(ds))
        classes = ds.metainfo.get('classes') or ()
        labels = [ds.get_data_info(i)['label'] for i in range(len(ds))]
        out_of_range = sorted({int(lb) for lb in labels
                               if not -1 <= int(lb) < (num_classes or 1e9)})
        problems = []
        if num_classes is not None and classes and len(
                classes) != num_classes:
            problems.append(f'label file has {len(classes)} classes, '
                            f'model.cls_head.num_classes = {num_classes}')
        if out_of_range:
            problems.append(f'labels {out_of_range[:5]} outside '
                            f'[0, {num_classes})')
        if not ds.test_mode and any(int(lb) < 0 for lb in labels):
            problems.append('unlabelled items in a training split')
        if len(ds) == 0:
            problems.append('no items')
        ann = osp.basename(getattr(ds, 'ann_file', '') or '?')
        if problems:
            rows.append(Row(f'annotations ({name})', FAIL,
                            f'{ann}: ' + '; '.join(problems)))
        else:
            used = len({int(lb) for lb in labels if int(lb) >= 0})
            rows.append(Row(f'annotations ({name})', PASS,
                            f'{ann}: {len(ds)} items, {used} of '
                            f'{len(classes)} classes used'))
    return rows


# -- 3. videos --------------------------------------------------------------
def _on_alarm(signum, frame):
    raise TimeoutError


def _check_one(task):
    """Pool worker: (path, min_frames, min_side, timeout) -> (path, reason).
    """
    from ..datasets.bad_videos import check_video
    path, min_frames, min_side, timeout = task
    alarm = hasattr(signal, 'SIGALRM') and timeout > 0
    if alarm:  # a decoder stuck on garbage must not stall the check
        signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        return path, check_video(path, min_frames, min_side)
    except TimeoutError:
        return path, (f'cannot read video {path}: decoding took more than '
                      f'{timeout:g} s')
    except Exception as err:  # noqa: BLE001 - one bad file, not a crash
        return path, f'cannot read video {path}: {_one_line(err)}'
    finally:
        if alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)


def check_videos(datasets: dict, sample: Optional[int], workers: int,
                 timeout: float, bad_list: str, seed: int = 0) -> Row:
    """Decode every video (or a sample) in parallel; list the bad ones."""
    from mmengine.utils import track_parallel_progress
    policy, rules = {}, {}
    for ds in datasets.values():
        for i in range(len(ds)):
            path = ds.get_data_info(i)['filename']
            if path in policy and policy[path] == 'raise':
                continue
            policy[path] = getattr(ds, 'on_bad_video', 'raise')
            rules[path] = (getattr(ds, 'min_frames', 1),
                           getattr(ds, 'min_side', 1))
    paths = sorted(policy)
    total = len(paths)
    if sample is not None and sample < total:
        paths = sorted(random.Random(seed).sample(paths, sample))
    tasks = [(p, *rules[p], timeout) for p in paths]
    start = time.time()
    if tasks:
        results = track_parallel_progress(
            _check_one, tasks, nproc=max(1, min(workers, len(tasks))),
            chunksize=max(1, min(16, len(tasks) // (4 * max(workers, 1)))),
            keep_order=False, file=sys.stderr)
    else:
        results = []
    bad = sorted((p, r) for p, r in results if r)
    os.makedirs(osp.dirname(osp.abspath(bad_list)), exist_ok=True)
    from ..utils.atomic import atomic_write
    atomic_write(bad_list, ''.join(f'{p}\t{r}\n' for p, r in bad))
    took = time.time() - start
    what = f'{len(paths)} of {total}' if len(paths) < total else f'{total}'
    if not bad:
        return Row('videos', PASS, f'{what} videos decode completely '
                   f'({took:.1f} s, {workers} processes)')
    fatal = [p for p, _ in bad if policy[p] == 'raise']
    detail = (f'{len(bad)} of {what} unusable -> {bad_list}; first: '
              f'{bad[0][1]}')
    if fatal:
        return Row('videos', FAIL, f'{detail} ({len(fatal)} in a split '
                   "with on_bad_video='raise')")
    return Row('videos', WARN, f"{detail} (training skips them: "
               "on_bad_video='skip')")


# -- 4-6. model, training step, checkpoint --------------------------------
def build_model(cfg: Config):
    """The model with its init (pretrained weights loaded); a Row."""
    from mmaction.registry import MODELS
    pretrained = cfg.model.get('backbone', {}).get('pretrained')
    model = MODELS.build(cfg.model)
    if not pretrained:
        model.init_weights()
        return model, Row('pretrained weights', SKIP,
                          'none configured (from scratch)')
    try:
        model.init_weights()
    except Exception as err:  # noqa: BLE001
        scratch = cfg.model.copy()
        scratch.backbone = dict(scratch.backbone, pretrained=None)
        model = MODELS.build(scratch)
        model.init_weights()
        return model, Row('pretrained weights', FAIL,
                          f'{pretrained}: {_one_line(err)}')
    return model, Row('pretrained weights', PASS, f'{pretrained} loaded')


def one_batch(cfg: Config, batch_size: int):
    """One batch of the training pipeline (no workers, first clips)."""
    from mmengine.runner import Runner
    loader = cfg.train_dataloader.copy()
    loader.update(batch_size=batch_size, num_workers=0,
                  persistent_workers=False,
                  sampler=dict(type='DefaultSampler', shuffle=False))
    return next(iter(Runner.build_dataloader(loader, seed=0)))


def check_step(model, batch, device: str, cfg: Config):
    """Forward + backward of ``batch`` on ``device``; Row and optimizer."""
    import copy

    import torch
    from mmengine.optim import build_optim_wrapper
    model = copy.deepcopy(model).to(device)
    model.train()
    optim = build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))
    if device.startswith('cuda'):
        torch.cuda.reset_peak_memory_stats()
    start = time.time()
    data = model.data_preprocessor(copy.deepcopy(batch), training=True)
    loss, _ = model.parse_losses(model(**data, mode='loss'))
    loss.backward()
    bad_grads = [n for n, p in model.named_parameters()
                 if p.grad is not None and not torch.isfinite(p.grad).all()]
    optim.step()
    took = time.time() - start
    shape = 'x'.join(map(str, data['inputs'].shape))
    if not torch.isfinite(loss) or bad_grads:
        return Row(f'forward+backward ({device})', FAIL,
                   f'loss {loss.item():.4g}, non-finite gradients in '
                   f'{bad_grads[:3]}'), model, optim
    extra = ''
    if device.startswith('cuda'):
        extra = (f', peak {torch.cuda.max_memory_allocated() / 2**30:.1f} '
                 'GiB')
    return Row(f'forward+backward ({device})', PASS,
               f'loss {loss.item():.4f}, {took:.2f} s, input {shape}'
               f'{extra}'), model, optim


def check_checkpoint(model, optim, work_dir: str) -> Row:
    """Save weights + optimizer + message hub; reload; compare exactly."""
    import numpy as np
    import torch
    from mmengine.logging import MessageHub
    from mmengine.runner.checkpoint import save_checkpoint, weights_to_cpu

    from ..engine.checkpoint import load_checkpoint_file
    hub = MessageHub.get_instance('preflight')
    hub.update_scalar('train/loss', np.float64(1.5))
    ckpt = dict(meta=dict(epoch=1, iter=1, seed=np.int64(0)),
                state_dict=weights_to_cpu(model.state_dict()),
                optimizer=optim.state_dict(), message_hub=hub.state_dict())
    path = osp.join(work_dir, f'preflight_{os.getpid()}.pth')
    try:
        save_checkpoint(ckpt, path)
        size = osp.getsize(path)
        back = load_checkpoint_file(path, map_location='cpu')
    finally:
        if osp.exists(path):
            os.remove(path)
    diff = [k for k, v in ckpt['state_dict'].items()
            if not torch.equal(v, back['state_dict'].get(k, v.new_empty(0)))]
    for key, state in ckpt['optimizer']['state'].items():
        for name, value in state.items():
            other = back['optimizer']['state'][key][name]
            if torch.is_tensor(value) and not torch.equal(value, other):
                diff.append(f'optimizer.{key}.{name}')
    if back['message_hub']['log_scalars']['train/loss'].current() != 1.5:
        diff.append('message_hub')
    if diff or back['state_dict'].keys() != ckpt['state_dict'].keys():
        return Row('checkpoint save/reload', FAIL, f'differs: {diff[:5]}')
    return Row('checkpoint save/reload', PASS,
               f'{len(ckpt["state_dict"])} tensors + optimizer identical '
               f'({size / 2**20:.1f} MiB, atomic write, weights_only load)')


# -- the checklist ----------------------------------------------------------
def work_dir_of(cfg: Config, args) -> str:
    if args.work_dir:
        return args.work_dir
    if cfg.get('work_dir'):
        return cfg.work_dir
    return osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])


def preflight(args: argparse.Namespace) -> List[Row]:
    """Run every check; returns the table rows (no exception escapes but
    a bad config or --data-root, which are one-line user errors)."""
    from mmengine.device import get_device
    from mmengine.logging import MMLogger
    from mmengine.registry import init_default_scope
    # Warnings and errors only: the table is the report (model init alone
    # logs a line per tensor at INFO).
    MMLogger.get_instance(f'preflight_{os.getpid()}', log_level='WARNING')
    cfg = load_config(args.config, args.cfg_options)
    if args.data_root:
        set_data_root(cfg, args.data_root)
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    if cfg.get('custom_imports'):
        from mmengine.utils import import_modules_from_strings
        import_modules_from_strings(**cfg.custom_imports)
    work_dir = work_dir_of(cfg, args)
    bad_list = args.bad_list or osp.join(work_dir,
                                         'preflight_bad_videos.txt')
    rows = [check_paths(cfg, work_dir)]

    def guarded(name, fn, *a):
        try:
            return fn(*a)
        except Exception as err:  # noqa: BLE001 - a row, not a crash
            traceback.print_exc(file=sys.stderr)
            return Row(name, FAIL, _one_line(err))

    datasets, failed = build_datasets(cfg)
    rows += failed
    if datasets:
        labels = guarded('annotations', check_labels, cfg, datasets)
        rows += labels if isinstance(labels, list) else [labels]
        rows.append(guarded('videos', check_videos, datasets, args.sample,
                            args.workers, args.timeout, bad_list, args.seed))
    else:
        rows.append(Row('videos', SKIP, 'no dataset could be built'))

    model, row = None, None
    try:
        model, row = build_model(cfg)
    except Exception as err:  # noqa: BLE001
        row = Row('model', FAIL, _one_line(err))
    rows.append(row)
    device = get_device() if args.device == 'auto' else args.device
    devices = [device] + (['cpu'] if device != 'cpu' else [])
    cpu_result = None
    if model is None or 'train_dataloader' not in datasets:
        rows += [Row(f'forward+backward ({d})', SKIP, 'no model or no '
                     'training data') for d in devices]
    else:
        batch = guarded('training batch', one_batch, cfg, args.batch_size)
        for d in devices:
            if isinstance(batch, Row):
                rows.append(Row(f'forward+backward ({d})', FAIL,
                                f'loading a batch: {batch.detail}'))
                continue
            result = guarded(f'forward+backward ({d})', check_step, model,
                             batch, d, cfg)
            if isinstance(result, Row):
                rows.append(result)
                continue
            rows.append(result[0])
            if d == 'cpu':
                cpu_result = result
    if cpu_result is not None:
        rows.append(guarded('checkpoint save/reload', check_checkpoint,
                            cpu_result[1], cpu_result[2], work_dir))
    else:
        rows.append(Row('checkpoint save/reload', SKIP,
                        'no CPU training step'))
    return rows


def format_table(rows: List[Row]) -> str:
    width = max(len(r.check) for r in rows)
    lines = [f'{"check":<{width}}  status  detail']
    lines += [f'{r.check:<{width}}  {r.status:<6}  {r.detail}' for r in rows]
    failed = sum(r.status == FAIL for r in rows)
    lines.append(f'preflight: {"FAILED" if failed else "passed"} '
                 f'({failed} failed, '
                 f'{sum(r.status == WARN for r in rows)} warnings)')
    return '\n'.join(lines) + '\n'


def main(argv: Optional[List[str]] = None) -> int:
    """Exit status: 0 all passed (warnings allowed), 1 a check failed,
    2 bad arguments."""
    args = build_parser().parse_args(argv)
    result = {}

    def run(a):
        result['rows'] = preflight(a)

    status = run_cli(run, args)
    if status:
        return status
    rows = result['rows']
    sys.stdout.write(format_table(rows))
    return 1 if any(r.status == FAIL for r in rows) else 0


if __name__ == '__main__':
    sys.exit(main())
