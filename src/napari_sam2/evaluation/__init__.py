"""Scores: DAVIS J&F, CTC export and SEG/TRA/DET, simulated clicks, per-object IoU.

- :mod:`.metrics`: J, F and J&F of label stacks (agrees with the DAVIS reference).
- :mod:`.davis`: the semi-supervised DAVIS protocol, run or scored.
- :mod:`.clicks`: the interactive protocol (one ``interior_point``, one ``corrective_click``).
- :mod:`.ctc`: CTC folders and scores.
- :mod:`.stack`: per-frame scores of a label stack against ground truth.
- :mod:`.matching`: predicted objects paired with true ones (overlap or id); is the truth tracked?
- :mod:`.objects`: per-object IoU not dominated by empty frames (``evaluate iou``, the widget, demo).
- :mod:`.tracking`: CTC DET/SEG/TRA and division recall/precision of labels with a lineage.
- :mod:`.linking`: the baseline tracker: per-frame segmentations linked by overlap.
"""
