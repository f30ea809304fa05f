VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_VERSION := 2.13.0

.PHONY: test demo lint bench screenshots clean-venv

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==$(TORCH_VERSION)
	$(PY) -m pip install --quiet -e '.[gui,dv,live,train,dev]'
	touch $@

test: $(VENV)/.installed
	$(PY) -m ruff check spikesight tests bench tools
	$(PY) -m pytest -q

demo: $(VENV)/.installed
	tools/demo.sh

lint: $(VENV)/.installed
	$(PY) -m ruff check spikesight tests bench tools

bench: $(VENV)/.installed
	$(PY) bench/io.py
	$(PY) bench/representations.py
	$(PY) bench/snn.py
	$(PY) bench/snn_memory.py
	QT_QPA_PLATFORM=$${QT_QPA_PLATFORM:-offscreen} $(PY) bench/app.py

screenshots: $(VENV)/.installed
	tools/screenshots.sh

clean-venv:
	rm -rf $(VENV)
