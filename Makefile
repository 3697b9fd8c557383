# The two commands of the README: `make demo` and `make test`. Both set everything up first.
.PHONY: setup demo test bench

setup:
	@scripts/setup

demo: setup
	@scripts/demo

test: setup
	@scripts/test

bench: setup
	@for b in benchmarks/bench_*.py; do echo "== $$b"; .venv/bin/python $$b || exit 1; done
