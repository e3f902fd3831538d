"""The GPU check's report: one table of figures (``rows`` in
``gpu_check.json``, the Markdown table of ``gpu_check.md``) and each
section's status; the 50-epoch estimate."""

from typing import List, Optional

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


def table_rows(report: dict) -> List[dict]:
    """The table's rows: ``what``, ``figure``, ``note`` (strings) plus the
    ``value`` each stands for; a section that did not run gives one row
    with its status."""
    sec = report['sections']
    rows = []

    def status_row(name, what):
        entry = sec.get(name)
        if entry is None:
            return
        why = entry.get('error') or entry.get('reason') or ''
        rows.append(
            dict(
                what=what,
                figure=entry['status'],
                note=why.splitlines()[0][:160] if why else '',
                value=None,
            )
        )

    def add(what, value, figure, note=''):
        rows.append(dict(what=what, figure=figure, note=note, value=value))

    env = sec.get('environment', {}).get('result', {})
    if env:
        cap = env.get('capability')
        add(
            'device',
            None,
            env.get('device_name', '-'),
            (f'capability {cap}, ' if cap else '')
            + f'{env.get("cpus")} CPUs, torch {env.get("torch")}, '
            f'recipe precision {env.get("recipe_precision")}'
            f'{" channels_last" if env.get("recipe_channels_last") else ""}',
        )

    step_clips = None
    for name, label in (('step', 'step'), ('fp16_step', 'step fp16')):
        entry = sec.get(name, {})
        r = entry.get('result', {})
        if entry.get('status') != OK or 'ours' not in r:
            status_row(name, f'{label}: TSM-R50 training step')
            continue
        shape = f'{r["frames"]} f, {r["size"]} px, batch {r["batch"]}'
        o = r['ours']
        tag = f'{o["precision"]}, {o["memory_format"]}'
        note = (
            f'{o["seconds_per_step"]:.3f} s/step, '
            f'{_fmt(o["images_per_s"])} images/s'
        )
        if name == 'fp16_step' and step_clips:
            note += f'; {o["clips_per_s"] / step_clips:.2f}x the recipe step'
        add(
            f'{label}: TSM-R{r["depth"]} ours ({tag}), {shape}',
            o['clips_per_s'],
            f'{_fmt(o["clips_per_s"])} clips/s',
            note,
        )
        if name == 'fp16_step':
            continue
        step_clips = o['clips_per_s']
        f = r['ours_fp32_nchw']
        add(
            'step: ours in fp32, NCHW',
            f['clips_per_s'],
            f'{_fmt(f["clips_per_s"])} clips/s',
            f'the recipe step: {o["clips_per_s"] / f["clips_per_s"]:.2f}x',
        )
        m = r['mmaction2']
        add(
            'step: mmaction2 stock ResNetTSM (fp32, NCHW)',
            m['clips_per_s'],
            f'{_fmt(m["clips_per_s"])} clips/s',
            f'the recipe step: {r["speedup"]:.2f}x',
        )
        if 'resnet50' in r:
            rn = r['resnet50']
            add(
                f'step: plain ResNet-50, {r["batch"] * r["frames"]} images '
                '(ceiling)',
                rn['images_per_s'],
                f'{_fmt(rn["images_per_s"])} images/s',
                f'the recipe step: {r["fraction_of_resnet50"]:.2f}x its '
                'images/s',
            )
        else:
            add('step: plain ResNet-50 (ceiling)', None, '-', 'CUDA only')

    entry = sec.get('ffn_step', {})
    r = entry.get('result', {})
    if entry.get('status') == OK and 'ffn' in r:
        counts = '/'.join(map(str, r['frame_counts']))
        add(
            f'step: FFN ({counts} f), {r["size"]} px, batch {r["batch"]}',
            r['ffn']['clips_per_s'],
            f'{_fmt(r["ffn"]["clips_per_s"])} clips/s',
            f'{r["cost_ratio"]:.2f}x the time of a TSM step '
            f'({r["frames_ratio"]:.2f}x the frames)',
        )
    else:
        status_row('ffn_step', 'step: FFN')

    webm = sec.get('loader_webm', {}).get('result', {}).get('rates', {})
    for name, label in (
        ('loader_webm', '.webm'),
        ('loader_prepared', 'prepared'),
    ):
        entry = sec.get(name, {})
        r = entry.get('result', {})
        if not r.get('rates'):
            status_row(name, f'loader: {label}')
            continue
        if name == 'loader_prepared':
            label = f'prepared ({r.get("format")})'
        for workers, rate in r['rates'].items():
            note = ''
            if name == 'loader_prepared' and webm.get(workers):
                note = f'{rate / webm[workers]:.2f}x .webm'
            add(
                f'loader: {label}, {workers} workers',
                rate,
                f'{_fmt(rate)} clips/s',
                note,
            )
        if entry.get('status') != OK:
            status_row(name, f'loader: {label} (rest)')

    entry = sec.get('train', {})
    r = entry.get('result', {})
    if entry.get('status') == OK:
        hook = (r.get('extra_scalars') or {}).get('train/data_wait')
        add(
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
            add(
                'training: peak GPU memory',
                r['peak_gpu_memory_gib'],
                f'{r["peak_gpu_memory_gib"]:.1f} GiB',
                f'{r["peak_gpu_reserved_gib"]:.1f} GiB reserved',
            )
        add(
            f'{EPOCHS} epochs of SSv2 at this rate (one GPU)',
            estimate_hours(r['clips_per_s']),
            f'{_fmt(estimate_hours(r["clips_per_s"]))} h',
            f'{EPOCHS} * {SSV2_TRAIN_VIDEOS} / clips_per_s / 3600',
        )
    else:
        status_row('train', 'training: 30 iterations')
    if step_clips:
        add(
            f'{EPOCHS} epochs if the data kept up (the recipe step alone)',
            estimate_hours(step_clips),
            f'{_fmt(estimate_hours(step_clips))} h',
            'the GPU-bound floor',
        )
    return rows


def format_markdown(report: dict) -> str:
    """The table a person pastes into the README, then every section's
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
