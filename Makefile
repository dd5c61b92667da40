# The two commands of the README. Everything else is a step they call.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test venv system-deps labgrid-venv tflite-runtime-venv executorch-venv models executorch-models wearable-models clean

demo: $(STAMP)                                   ## set up, run the quickstart on `host`, open the report
	$(BIN)/harness run suites/quickstart.yaml --device host --out out/quickstart || test $$? -eq 1
	@tools/open-report out/quickstart/report.html

test: $(STAMP) system-deps labgrid-venv tflite-runtime-venv executorch-venv  ## set up with test extras and system tools, run every test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

venv: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[test]'
	touch $@

system-deps:                                      ## apt packages the tests need (when root or sudo)
	tools/system-deps.sh

# labgrid in a venv of its own: its pyserial-labgrid installs over pyserial's `serial` package and
# it registers a pytest plugin; the harness only runs its labgrid-client (harness/lab/labgrid.py).
labgrid-venv: .venv-labgrid/.installed            ## labgrid 26.0.1 for shared boards (tests/test_labgrid.py)

.venv-labgrid/.installed:
	test -x .venv-labgrid/bin/python || $(PYTHON) -m venv .venv-labgrid
	.venv-labgrid/bin/python -m pip install --quiet 'labgrid==26.0.1'
	touch $@

tflite-runtime-venv: .venv-tflite-runtime/.installed  ## tflite-runtime 2.14 (NumPy 1) for tests/test_memory.py

.venv-tflite-runtime/.installed:
	test -x .venv-tflite-runtime/bin/python || $(PYTHON) -m venv .venv-tflite-runtime
	.venv-tflite-runtime/bin/python -m pip install --quiet 'numpy==1.26.4' 'tflite-runtime==2.14.0'
	touch $@

# ExecuTorch's runtime needs libtorch at import: torch (CPU build) + executorch in a venv of their
# own, exact pins, no dependency resolution (tools/executorch-runtime.txt). The host profile runs
# .pte models under it (device_profiles/host.yaml, local://?python.executorch=...).
executorch-venv: .venv-executorch/.installed      ## torch 2.13.0+cpu + executorch 1.4.1 for .pte models

.venv-executorch/.installed: tools/executorch-runtime.txt
	test -x .venv-executorch/bin/python || $(PYTHON) -m venv .venv-executorch
	.venv-executorch/bin/python -m pip install --quiet --no-deps -r tools/executorch-runtime.txt
	touch $@

models:                                           ## regenerate models/ (TensorFlow, dev only)
	test -x .venv-models/bin/python || $(PYTHON) -m venv .venv-models
	.venv-models/bin/python -m pip install --quiet -c requirements.lock -e '.[models]'
	.venv-models/bin/python tools/make_models.py

wearable-models:                                  ## regenerate models/wearable-hr{,-nas} (TensorFlow, dev only)
	test -x .venv-models/bin/python || $(PYTHON) -m venv .venv-models
	.venv-models/bin/python -m pip install --quiet -c requirements.lock -e '.[models]'
	nice -n 10 .venv-models/bin/python tools/make_wearable.py

executorch-models: executorch-venv              ## regenerate models/digits-cnn-runtimes/fp32.pte (dev only)
	.venv-executorch/bin/python -m pip install --quiet --no-deps -r tools/executorch-export.txt
	.venv-executorch/bin/python tools/make_pte.py models/digits-cnn-runtimes

clean:
	rm -rf $(VENV) .venv-labgrid .venv-executorch out results build *.egg-info
