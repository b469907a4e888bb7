# Quick start: `make train` (set up, then train DCGAN on the embedded MNIST) and `make test`.
.PHONY: setup train test lint bench

setup:
	@bash scripts/setup.sh

train: setup
	.venv/bin/ganforge train $(ARGS)

test: setup
	.venv/bin/python -m pytest

# Linters run as modules of the venv's Python, so they are found whether pip put them in the venv or the system.
lint: setup
	.venv/bin/python -m ruff check .
	.venv/bin/python -c "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"

bench: setup
	.venv/bin/python benchmarks/speed.py
