"""Entry point for `python -m ganforge`."""
from ganforge.cli import main

raise SystemExit(main())
