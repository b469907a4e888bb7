# Quick start: `make train` (set up, then train DCGAN on the embedded MNIST) and `make test`.
.PHONY: setup train test bench

setup:
	@bash scripts/setup.sh

train: setup
	.venv/bin/ganforge train $(ARGS)

test: setup
	.venv/bin/python -m pytest

bench: setup
	.venv/bin/python benchmarks/speed.py
