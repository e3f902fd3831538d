"""map_jobs: the same results in worker processes as in this one, in the
jobs' order unless told otherwise; the progress bar passes items through."""

import os

from tsm_plugin.utils.pool import map_jobs, progress_bar

JOBS = list(range(10))
SQUARES = [x * x for x in JOBS]


def _pid_and_square(x):
    return os.getpid(), x * x


def test_map_jobs_in_this_process_and_in_workers():
    here = map_jobs(_pid_and_square, JOBS, workers=1)
    assert [r for _, r in here] == SQUARES
    assert {pid for pid, _ in here} == {os.getpid()}
    there = map_jobs(_pid_and_square, JOBS, workers=2)
    assert [r for _, r in there] == SQUARES
    assert os.getpid() not in {pid for pid, _ in there}
    unordered = map_jobs(_pid_and_square, JOBS, workers=2, ordered=False)
    assert sorted(r for _, r in unordered) == SQUARES


def test_progress_bar_passes_items_through(capsys):
    assert list(progress_bar(iter(JOBS), len(JOBS), None)) == JOBS
    assert capsys.readouterr().err == ''
    assert list(progress_bar(iter(JOBS), len(JOBS), 'squares')) == JOBS
    assert 'squares' in capsys.readouterr().err
