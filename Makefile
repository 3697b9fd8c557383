# The two commands of the README: `make demo` and `make test`. Both set everything up first.
.PHONY: setup demo test bench constraints lower-bounds

setup:
	@scripts/setup

demo: setup
	@scripts/demo

# ruff and mypy; the install route of a user with their own Caffe (wheel, fresh venv, no-Caffe test tier);
# then the whole test suite
test: setup
	@scripts/lint
	@scripts/check-install
	@scripts/test

bench: setup
	@for b in benchmarks/bench_*.py; do echo "== $$b"; .venv/bin/python $$b || exit 1; done

# After a change of dependencies: pin what installs now, unpinned, into a fresh environment.
constraints:
	@rm -rf build/constraints-venv && python3 -m venv build/constraints-venv
	@build/constraints-venv/bin/python -m pip install -q --upgrade pip
	@build/constraints-venv/bin/python -m pip install -q '.[pycaffe-deps,samples,test,lint]'
	@{ sed -n '/^#/p' constraints.txt; build/constraints-venv/bin/python -m pip freeze --all \
	   | grep -viE '^(setuptools|caffe-inspector)=='; } > constraints.txt.new && mv constraints.txt.new constraints.txt
	@rm -rf build/constraints-venv
	@echo "constraints.txt: $$(grep -vc '^#' constraints.txt) pins"

# The lowest versions pyproject.toml allows, installed and tested (the tier without Caffe); PYTHON=python3.10
# checks the oldest supported Python too.
lower-bounds: setup
	@scripts/check-lower-bounds
