"""The GPU check's report: one table of figures (``rows`` in
``gpu_check.json``, the Markdown table of ``gpu_check.md``) and each
section's status; the 50-epoch estimate."""

from typing import List, Optional, Tuple

#: A section's status.
OK, FAILED, SKIPPED, TIMED_OUT, NOT_AVAILABLE = (
    'ok',
    'failed',
    'skipped',
    'timed out',
    'not available',
)
#: SSv2's training videos and the recipe's epochs: the 50-epoch estimate.
SSV2_TRAIN_VIDEOS = 168913
EPOCHS = 50


def estimate_hours(clips_per_s: Optional[float]) -> Optional[float]:
    """Hours for the recipe's 50 epochs over SSv2's training videos at
    ``clips_per_s`` (one GPU): ``50 * 168913 / clips_per_s / 3600``."""
    if not clips_per_s:
        return None
    return round(EPOCHS * SSV2_TRAIN_VIDEOS / clips_per_s / 3600, 1)


def _fmt(x, unit: str = '', digits: int = 1) -> str:
    return '-' if x is None else f'{x:,.{digits}f}{unit}'


class _Rows(list):
    """The table being built (``what``, ``figure``, ``note``, ``value``
    dicts), and the report's sections it is built from."""

    def __init__(self, sections: dict) -> None:
        super().__init__()
        self.sections = sections

    def add(self, what: str, value, figure: str, note: str = '') -> None:
        self.append(dict(what=what, figure=figure, note=note, value=value))

    def status(self, name: str, what: str) -> None:
        """One row with the section's status and why (if it is there)."""
        entry = self.sections.get(name)
        if entry is None:
            return
        why = entry.get('error') or entry.get('reason') or ''
        note = why.splitlines()[0][:160] if why else ''
        self.add(what, None, entry['status'], note)

    def entry(self, name: str) -> Tuple[dict, dict]:
        """A section's entry and its result (empty where it did not run)."""
        entry = self.sections.get(name, {})
        return entry, entry.get('result', {})


def _device_row(rows: _Rows) -> None:
    env = rows.entry('environment')[1]
    if not env:
        return
    cap = env.get('capability')
    rows.add(
        'device',
        None,
        env.get('device_name', '-'),
        (f'capability {cap}, ' if cap else '')
        + f'{env.get("cpus")} CPUs, torch {env.get("torch")}, '
        f'recipe precision {env.get("recipe_precision")}'
        f'{" channels_last" if env.get("recipe_channels_last") else ""}',
    )


def _ours_row(rows: _Rows, label: str, r: dict, note: str = '') -> None:
    """The step of ours at the recipe's settings (or fp16)."""
    o = r['ours']
    shape = f'{r["frames"]} f, {r["size"]} px, batch {r["batch"]}'
    rows.add(
        f'{label}: TSM-R{r["depth"]} ours ({o["precision"]}, '
        f'{o["memory_format"]}), {shape}',
        o['clips_per_s'],
        f'{_fmt(o["clips_per_s"])} clips/s',
        f'{o["seconds_per_step"]:.3f} s/step, '
        f'{_fmt(o["images_per_s"])} images/s{note}',
    )


def _step_rows(rows: _Rows) -> Optional[float]:
    """The recipe step against its references, then the fp16 step;
    returns the recipe step's clips/s (None where it did not run)."""
    entry, r = rows.entry('step')
    step_clips = None
    if entry.get('status') != OK or 'ours' not in r:
        rows.status('step', 'step: TSM-R50 training step')
    else:
        _ours_row(rows, 'step', r)
        step_clips = clips = r['ours']['clips_per_s']
        f, m = r['ours_fp32_nchw'], r['mmaction2']
        rows.add(
            'step: ours in fp32, NCHW',
            f['clips_per_s'],
            f'{_fmt(f["clips_per_s"])} clips/s',
            f'the recipe step: {clips / f["clips_per_s"]:.2f}x',
        )
        rows.add(
            'step: mmaction2 stock ResNetTSM (fp32, NCHW)',
            m['clips_per_s'],
            f'{_fmt(m["clips_per_s"])} clips/s',
            f'the recipe step: {r["speedup"]:.2f}x',
        )
        if 'resnet50' in r:
            rn = r['resnet50']
            rows.add(
                f'step: plain ResNet-50, {r["batch"] * r["frames"]} images '
                '(ceiling)',
                rn['images_per_s'],
                f'{_fmt(rn["images_per_s"])} images/s',
                f'the recipe step: {r["fraction_of_resnet50"]:.2f}x its '
                'images/s',
            )
        else:
            rows.add('step: plain ResNet-50 (ceiling)', None, '-', 'CUDA only')
    entry, r = rows.entry('fp16_step')
    if entry.get('status') != OK or 'ours' not in r:
        rows.status('fp16_step', 'step fp16: TSM-R50 training step')
    else:
        note = ''
        if step_clips:
            ratio = r['ours']['clips_per_s'] / step_clips
            note = f'; {ratio:.2f}x the recipe step'
        _ours_row(rows, 'step fp16', r, note)
    return step_clips


def _ffn_row(rows: _Rows) -> None:
    entry, r = rows.entry('ffn_step')
    if entry.get('status') != OK or 'ffn' not in r:
        rows.status('ffn_step', 'step: FFN')
        return
    counts = '/'.join(map(str, r['frame_counts']))
    rows.add(
        f'step: FFN ({counts} f), {r["size"]} px, batch {r["batch"]}',
        r['ffn']['clips_per_s'],
        f'{_fmt(r["ffn"]["clips_per_s"])} clips/s',
        f'{r["cost_ratio"]:.2f}x the time of a TSM step '
        f'({r["frames_ratio"]:.2f}x the frames)',
    )


def _loader_rows(rows: _Rows) -> None:
    """Clips/s per worker count on the .webm, then on the prepared copy
    (with its ratio to the .webm)."""
    webm = rows.entry('loader_webm')[1].get('rates', {})
    for name, label in (
        ('loader_webm', '.webm'),
        ('loader_prepared', 'prepared'),
    ):
        entry, r = rows.entry(name)
        if not r.get('rates'):
            rows.status(name, f'loader: {label}')
            continue
        if name == 'loader_prepared':
            label = f'prepared ({r.get("format")})'
        for workers, rate in r['rates'].items():
            note = ''
            if name == 'loader_prepared' and webm.get(workers):
                note = f'{rate / webm[workers]:.2f}x .webm'
            rows.add(
                f'loader: {label}, {workers} workers',
                rate,
                f'{_fmt(rate)} clips/s',
                note,
            )
        if entry.get('status') != OK:
            rows.status(name, f'loader: {label} (rest)')


def _estimate_row(rows: _Rows, what: str, clips: float, note: str) -> None:
    hours = estimate_hours(clips)
    rows.add(what, hours, f'{_fmt(hours)} h', note)


def _train_rows(rows: _Rows) -> None:
    """The Runner's clips/s and data wait, peak memory, the estimate."""
    entry, r = rows.entry('train')
    if entry.get('status') != OK:
        rows.status('train', 'training: 30 iterations')
        return
    hook = (r.get('extra_scalars') or {}).get('train/data_wait')
    rows.add(
        f'training: {r["iterations"]} iterations (Runner), '
        f'batch {r["batch"]}, {r["num_workers"]} workers',
        r['clips_per_s'],
        f'{_fmt(r["clips_per_s"])} clips/s',
        f'{r["precision"]}; waiting for data '
        f'{100 * r["data_wait_share"]:.0f} % of the time after '
        f'{r["warmup_iterations"]} iterations'
        + (
            f' (DataWaitHook windows: {100 * hook:.0f} %)'
            if hook is not None
            else ''
        ),
    )
    if 'peak_gpu_memory_gib' in r:
        rows.add(
            'training: peak GPU memory',
            r['peak_gpu_memory_gib'],
            f'{r["peak_gpu_memory_gib"]:.1f} GiB',
            f'{r["peak_gpu_reserved_gib"]:.1f} GiB reserved',
        )
    _estimate_row(
        rows,
        f'{EPOCHS} epochs of SSv2 at this rate (one GPU)',
        r['clips_per_s'],
        f'{EPOCHS} * {SSV2_TRAIN_VIDEOS} / clips_per_s / 3600',
    )


def table_rows(report: dict) -> List[dict]:
    """The table's rows: ``what``, ``figure``, ``note`` (strings) plus the
    ``value`` each stands for; a section that did not run gives one row
    with its status."""
    rows = _Rows(report['sections'])
    _device_row(rows)
    step_clips = _step_rows(rows)
    _ffn_row(rows)
    _loader_rows(rows)
    _train_rows(rows)
    if step_clips:
        _estimate_row(
            rows,
            f'{EPOCHS} epochs if the data kept up (the recipe step alone)',
            step_clips,
            'the GPU-bound floor',
        )
    return list(rows)


def format_markdown(report: dict) -> str:
    """The table a person pastes into docs/gpu_check.md, then every section's
    status."""
    env = report['sections'].get('environment', {}).get('result', {})
    title = env.get('device_name') or report['device']
    lines = [
        f'# GPU check: {title}',
        '',
        f'{"Dry run (tiny sizes), " if report["dry_run"] else ""}'
        f'started {report["started"]}; budget {report["budget_s"]:.0f} s'
        + (
            f', took {report["elapsed_s"]:.0f} s'
            if 'elapsed_s' in report
            else ' (running)'
        ),
        '',
        '| measurement | figure | note |',
        '|---|---|---|',
    ]
    for row in report.get('rows') or table_rows(report):
        lines.append(f'| {row["what"]} | {row["figure"]} | {row["note"]} |')
    lines += ['', '| section | status | seconds | note |', '|---|---|---|---|']
    for name, entry in report['sections'].items():
        why = entry.get('error') or entry.get('reason') or ''
        why = why.splitlines()[0][:160] if why else ''
        lines.append(
            f'| {name} | {entry["status"]} | '
            f'{entry.get("seconds", "-")} | {why} |'
        )
    return '\n'.join(lines) + '\n'
