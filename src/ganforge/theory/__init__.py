"""The theory of a toy run, scores and figures together: D against D*, loss saturation, mode counts.

Above `metrics` and `report` in the layers: the analysis reads toy exports and the digit classifier, and the
figures reuse `report`'s GIF writer.
"""
