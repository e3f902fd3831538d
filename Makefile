# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DATA := data/synthetic_ssv2
DEMO_WORK := work_dirs/tsm_demo_synthetic
FFN_WORK := work_dirs/ffn_demo_synthetic
STUDY_WORK := work_dirs/study_demo

.PHONY: demo demo-ffn study test test-fast venv clean

venv: $(STAMP)

# Re-installs when requirements.txt changes. mmaction2 goes in with --no-deps
# (its wheel requires decord, missing on macOS / Linux aarch64).
$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q --no-deps mmaction2==1.2.0
	$(BIN)/python -m pip install -q -r requirements.txt
	touch $@

# Lint and format check first (seconds), then the tests on two processes
# (pytest-xdist, work stealing: the long multi-process tests run beside the
# short ones; 146 s of pytest on 2 cores; one OpenMP thread per process,
# tests/conftest.py).
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q -n 2 --dist worksteal tests

# The edit loop: the tests not marked slow (no Runner training, no
# subprocess), under a minute; `make test` before a commit.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist worksteal -m "not slow" tests

# Written once; again (replacing it) only when the generator changes.
$(DEMO_DATA)/labels/labels.json: $(wildcard tsm_plugin/testing/synthetic_ssv2/*.py) | $(STAMP)
	$(BIN)/python tools/make_synthetic_ssv2.py --out $(DEMO_DATA) --workers 2 --overwrite

# Train (the config's TFDEvalHook sweeps the final weights at 4/8/12/16
# frames, each video decoded once), then show the TFD table and the plot.
demo: $(STAMP) $(DEMO_DATA)/labels/labels.json
	$(BIN)/python tools/train.py configs/tsm_demo_synthetic.py --work-dir $(DEMO_WORK)
	@echo
	@echo "TFD of the 16-frame model (top-1 on the synthetic validation split):"
	@cat $(DEMO_WORK)/tfd_final/tfd.md
	@echo "Plot: $(DEMO_WORK)/tfd_final/tfd.png   Checkpoints and logs: $(DEMO_WORK)"
	@echo "Any checkpoint: $(BIN)/python tools/eval_tfd.py configs/tsm_demo_synthetic.py $$(cat $(DEMO_WORK)/last_checkpoint)"

# make demo's TSM, trained if absent: FFN starts from it and is compared to it.
$(DEMO_WORK)/epoch_10.pth: | $(STAMP) $(DEMO_DATA)/labels/labels.json
	$(BIN)/python tools/train.py configs/tsm_demo_synthetic.py --work-dir $(DEMO_WORK)

# FFN (arXiv:2303.14817) trained from the TSM at 4/8/16 frames at once,
# then both evaluated at 4/8/12/16 frames, side by side.
demo-ffn: $(STAMP) $(DEMO_DATA)/labels/labels.json $(DEMO_WORK)/epoch_10.pth
	$(BIN)/python tools/train.py configs/ffn_demo_synthetic.py --work-dir $(FFN_WORK)
	$(BIN)/python tools/eval_tfd.py configs/ffn_demo_synthetic.py $$(cat $(FFN_WORK)/last_checkpoint) \
		--compare configs/tsm_demo_synthetic.py $(DEMO_WORK)/epoch_10.pth --out $(FFN_WORK)/compare
	@echo
	@echo "TSM (trained at 16 frames) and FFN (trained at 4/8/16) on the synthetic validation split:"
	@cat $(FFN_WORK)/compare/compare.md
	@echo "Plot: $(FFN_WORK)/compare/compare.png"

# make demo-ffn's FFN, trained if absent: the study's FFN row.
$(FFN_WORK)/epoch_8.pth: | $(STAMP) $(DEMO_DATA)/labels/labels.json $(DEMO_WORK)/epoch_10.pth
	$(BIN)/python tools/train.py configs/ffn_demo_synthetic.py --work-dir $(FFN_WORK)

# The FFN paper's Tables 1 and 4 on the synthetic set: every baseline and
# ablation trained (resumable: a rerun trains only what is missing), then
# all rows evaluated at 4/8/12/16 frames, each video decoded once.
study: $(STAMP) $(DEMO_DATA)/labels/labels.json $(DEMO_WORK)/epoch_10.pth $(FFN_WORK)/epoch_8.pth
	$(BIN)/python tools/study.py configs/studies/demo_tables_1_4.py

clean:
	rm -rf $(DEMO_WORK) $(FFN_WORK) $(DEMO_DATA) $(STUDY_WORK)
