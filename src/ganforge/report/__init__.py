"""What a person looks at: sample grids, training curves, a GIF of the samples, and an HTML run report."""
from ganforge.report.curves import moving_average, plot_curves
from ganforge.report.gif import make_gif
from ganforge.report.grid import labeled_rows, make_grid, save_grid, save_labeled_rows
from ganforge.report.html import build_run_report, write_html_report
from ganforge.runlog import read_metrics

__all__ = ["make_grid", "save_grid", "labeled_rows", "save_labeled_rows", "plot_curves", "read_metrics",
           "moving_average", "make_gif", "write_html_report", "build_run_report"]
