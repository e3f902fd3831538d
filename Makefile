# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DATA := data/synthetic_ssv2
DEMO_WORK := work_dirs/tsm_demo_synthetic

.PHONY: demo test venv clean

venv: $(STAMP)

# Re-installs when requirements.txt changes. mmaction2 goes in with --no-deps
# (its wheel requires decord, missing on macOS / Linux aarch64).
$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q --no-deps mmaction2==1.2.0
	$(BIN)/python -m pip install -q -r requirements.txt
	touch $@

test: $(STAMP)
	$(BIN)/python -m pytest -q tests

$(DEMO_DATA)/labels/labels.json: | $(STAMP)
	$(BIN)/python tools/make_synthetic_ssv2.py --out $(DEMO_DATA)

demo: $(STAMP) $(DEMO_DATA)/labels/labels.json
	$(BIN)/python tools/train.py configs/tsm_demo_synthetic.py --work-dir $(DEMO_WORK)
	@echo "Checkpoints and logs: $(DEMO_WORK)"

clean:
	rm -rf $(DEMO_WORK) $(DEMO_DATA)
