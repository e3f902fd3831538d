"""The check's state and its loop: every section in order, each guarded
and under the budget's alarm, the report written after each."""

import functools
import gc
import os
import os.path as osp
import time
import traceback
from typing import Callable, Dict, List, Optional

import torch

from tsm_plugin.utils.atomic import atomic_write, write_json
from tsm_plugin.utils.device import resolve_device

from .._timing import log
from ..gpu_report import (
    FAILED,
    NOT_AVAILABLE,
    OK,
    SKIPPED,
    TIMED_OUT,
    format_markdown,
    table_rows,
)
from .budget import MIN_SECONDS, BudgetExceeded, NotAvailable, alarm
from .sections import SECTIONS, gib
from .sizes import SIZES


class GpuCheck:
    """The check's state: sizes, device, work dirs, and the report.

    Args:
        out (str): where ``gpu_check.json`` and ``gpu_check.md`` go.
        work (str): videos, converted videos and the training work dir.
        dry_run (bool): tiny sizes.
        device (str): ``auto``, ``cuda``, ``cpu``, ...
        budget_s (float, optional): the time budget (default: 480 s full,
            240 s dry run).
        only (list, optional): run these sections alone (others skipped).
    """

    def __init__(
        self,
        out: str,
        work: str,
        dry_run: bool = False,
        device: str = 'auto',
        budget_s: Optional[float] = None,
        only: Optional[List[str]] = None,
    ) -> None:
        self.out, self.work = out, work
        self.dry_run = dry_run
        self.sizes = SIZES['dry' if dry_run else 'full']
        self.device = resolve_device(device)
        self.budget_s = float(budget_s or self.sizes['budget_s'])
        self.only = only
        self.start = time.monotonic()
        self.video_root: Optional[str] = None
        self.prepared_root: Optional[str] = None
        self.prepared_format: Optional[str] = None
        self.report = dict(
            check='gpu_check',
            dry_run=dry_run,
            device=self.device,
            budget_s=self.budget_s,
            started=time.strftime('%Y-%m-%d %H:%M:%S %Z'),
            sections={},
        )

    @property
    def on_cuda(self) -> bool:
        return self.device.startswith('cuda')

    def left(self) -> float:
        """Seconds of the budget left."""
        return self.budget_s - (time.monotonic() - self.start)

    def sections(self) -> Dict[str, Callable[[dict], None]]:
        """Section name -> a callable filling its result dict, in order."""
        return {
            name: functools.partial(fn, self) for name, fn in SECTIONS.items()
        }

    def run(self) -> dict:
        """Every section in order, guarded; the report after each."""
        threads = torch.get_num_threads()
        if self.sizes['threads']:
            torch.set_num_threads(self.sizes['threads'])
        try:
            return self._run()
        finally:
            torch.set_num_threads(threads)

    def _run(self) -> dict:
        if not (self.on_cuda or self.dry_run):
            log(
                f'gpu_check: no CUDA device ({self.device}): the full sizes '
                'take long here; --dry-run checks the code path in seconds'
            )
        for name, fn in self.sections().items():
            entry = dict(status=SKIPPED, result={})
            self.report['sections'][name] = entry
            need = 0 if self.dry_run else MIN_SECONDS[name]
            if self.only and name not in self.only and name != 'environment':
                entry['reason'] = 'not asked for (--only)'
            elif self.left() <= need:
                entry['reason'] = (
                    f'time budget: {self.left():.0f} s left, needs ~{need} s'
                )
            else:
                self._guarded(name, fn, entry)
            log(f'gpu_check: {name}: {entry["status"]}')
            self.write()
        self.report['elapsed_s'] = round(time.monotonic() - self.start, 1)
        self.write()
        return self.report

    def _guarded(self, name: str, fn, entry: dict) -> None:
        start = time.monotonic()
        if self.on_cuda:
            torch.cuda.reset_peak_memory_stats()
        try:
            with alarm(self.left()):
                fn(entry['result'])
            entry['status'] = OK
        except BudgetExceeded as e:
            entry['status'] = TIMED_OUT
            entry['reason'] = str(e)
        except NotAvailable as e:
            entry['status'] = NOT_AVAILABLE
            entry['reason'] = str(e)
        except Exception as e:  # recorded; the other sections go on
            entry['status'] = FAILED
            entry['error'] = f'{type(e).__name__}: {e}'
            entry['traceback'] = traceback.format_exc(limit=8)
            log(f'gpu_check: {name} failed:\n{entry["traceback"]}')
        entry['seconds'] = round(time.monotonic() - start, 1)
        if self.on_cuda:
            entry['peak_gpu_memory_gib'] = gib(
                torch.cuda.max_memory_allocated()
            )
        if self.on_cuda:
            # The section's models and batches leave the GPU before the next
            # section (its room and its peak figure). A CPU needs no sweep,
            # and one costs ~0.4 s with torch and mmaction loaded.
            gc.collect()
            torch.cuda.empty_cache()

    def write(self) -> None:
        """``gpu_check.json`` and ``gpu_check.md`` (atomic)."""
        os.makedirs(self.out, exist_ok=True)
        self.report['rows'] = table_rows(self.report)
        write_json(osp.join(self.out, 'gpu_check.json'), self.report)
        atomic_write(
            osp.join(self.out, 'gpu_check.md'), format_markdown(self.report)
        )
