"""The model card of a run's own export: README.md in RUN/export/, written at the end of training."""
from __future__ import annotations

from ganforge.atomic import write_text_atomic
from ganforge.contract import Callback


class ModelCardAtEnd(Callback):
    """At the end of a run, writes the model card (family, data, budget, scores, copy check, how to load) into
    the run's export folder, from what the run recorded; `ganforge export` writes the same card with a grid."""

    def on_end(self, trainer) -> None:
        """Write the card on the main process once the run has an export."""
        from ganforge.deploy.card import CARD, build_card
        from ganforge.deploy.kinds import export_kind
        from ganforge.export import read_config

        export = trainer.run_dir / "export"
        if not trainer.is_main or not (export / "config.json").is_file():
            return
        info = read_config(export)["info"]
        write_text_atomic(export / CARD, build_card(info, export_kind(info), trainer.run_dir, [], None, None))
