# Quick start: `make train` (set up, then train DCGAN on the embedded MNIST) and `make test`.
.PHONY: setup train test lint bench

setup:
	@bash scripts/setup.sh

train: setup
	.venv/bin/ganforge train $(ARGS)

test: setup
	.venv/bin/python -m pytest

lint: setup
	.venv/bin/ruff check .
	.venv/bin/lint-imports

bench: setup
	.venv/bin/python benchmarks/speed.py
