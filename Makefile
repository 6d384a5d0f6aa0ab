# Every target installs what it needs into .venv first, so each works on a fresh clone.
SYSTEM_PYTHON ?= python3
VENV          ?= .venv
PYTHON        := $(VENV)/bin/python
PIP           := $(PYTHON) -m pip --disable-pip-version-check
RECIPE        ?= pipelines/recipes/sample.yaml
# Without WORKERS each stage picks its runner: in-process for a small input, the multi-process FnApiRunner on every
# core from 256 MB. WORKERS=N forces N worker processes (0: one per core).
WORKERS       ?=
BEAM_LOCAL    := $(if $(WORKERS),--runner=FnApiRunner --direct_running_mode=multi_processing --direct_num_workers=$(WORKERS))
TRAIN_CONFIG  ?= pipelines/train/tiny.yaml
# make eval: the model `make train` exports, scored on EVAL_SAMPLE seeded items of each local benchmark copy.
EVAL_MODEL    ?= out/train/tiny/hf
BENCHMARKS    ?= ../shared/benchmarks
EVAL_SAMPLE   ?= 40
EVAL_TASKS    := medqa=$(BENCHMARKS)/medqa_test.jsonl,medmcqa=$(BENCHMARKS)/medmcqa_dev_subset.jsonl,pubmedqa=$(BENCHMARKS)/pubmedqa_test.jsonl,mmlu_medical=$(BENCHMARKS)/mmlu_medical_test.jsonl

.PHONY: install install-dev corpus test bench bench-train train eval mutation cards lint clean

$(PYTHON):
	$(SYSTEM_PYTHON) -m venv $(VENV)

# The pipeline alone (no torch).
$(VENV)/.installed: setup.cfg pyproject.toml | $(PYTHON)
	$(PIP) install -q -e .
	@touch $@

# Tests, lint, bench and the trainer: torch is pinned and installed first (an unpinned torch pulls CUDA builds).
$(VENV)/.installed-dev: setup.cfg pyproject.toml | $(PYTHON)
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e ".[dev,train]"
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

corpus: install
	$(VENV)/bin/gap-replay corpus --recipe $(RECIPE) $(BEAM_LOCAL)

test: install-dev
	HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 $(PYTHON) -m pytest -q

# Installs the bench extra (datatrove, for the side-by-side rows) besides the dev one.
bench: install-dev
	$(PIP) install -q -e ".[dev,train,bench]"
	HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 $(PYTHON) -m gap_replay.bench
	$(PYTHON) -m gap_replay.bench_build
	$(PYTHON) -m gap_replay.bench_parse
	$(PYTHON) -m gap_replay.bench_lang
	$(PYTHON) -m gap_replay.bench_quality
	$(PYTHON) -m gap_replay.bench_eval

# Scores the trained tiny model (trained first when it is not there) on CPU, 3-shot top-token, and prints the table;
# kept under the sample corpus's output, so `make cards` puts it in the corpus card.
eval: install-dev
	@[ -d "$(BENCHMARKS)" ] || { echo "no benchmark copies at $(BENCHMARKS): make eval BENCHMARKS=<folder>"; exit 2; }
	@[ -f "$(EVAL_MODEL)/config.json" ] || $(MAKE) train
	$(VENV)/bin/gap-replay eval --model $(EVAL_MODEL) --tasks $(EVAL_TASKS) --sample $(EVAL_SAMPLE) --device cpu \
	  --corpus-manifest out/sample/tokens/manifest.json --out out/sample/eval/tiny

# Mutation testing of the pure modules (not in CI: about two hours on 2 cores; sessions resume). MODULES=... for some.
mutation: install-dev
	$(PYTHON) tools/mutation.py $(if $(MODULES),--only $(MODULES))

cards: install
	$(VENV)/bin/gap-replay card --recipe $(RECIPE)

# Trains tiny on the sample corpus (or on a generated synthetic one when there is none yet) and prints the
# validation perplexity before and after.
train: install-dev
	@manifest=out/sample/tokens/manifest.json; \
	if [ ! -f "$$manifest" ]; then \
	  echo "no sample corpus at $$manifest (make corpus): training on a generated synthetic corpus"; \
	  manifest=out/train/synthetic/manifest.json; \
	  [ -f "$$manifest" ] || $(PYTHON) -m gap_replay.train.synthetic out/train/synthetic || exit 1; \
	fi; \
	$(PYTHON) -m gap_replay.train --config $(TRAIN_CONFIG) --set "data.manifests=[$$manifest]" --set checkpoint.resume=false

# The trainer's speed (tokens/s, TFLOP/s, MFU, peak memory, data wait) on the 1B config, which wants a CUDA GPU;
# BENCH_TRAIN_ARGS changes it (--config pipelines/train/tiny.yaml --device cpu runs anywhere). On a GPU machine,
# tools/train_bench_gpu.sh runs the whole matrix and the GPU tests.
bench-train: install-dev
	$(PYTHON) -m gap_replay.train.bench $(BENCH_TRAIN_ARGS)

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf out
