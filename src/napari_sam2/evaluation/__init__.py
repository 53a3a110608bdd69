"""Scores: DAVIS J&F, Cell Tracking Challenge export and SEG/TRA/DET, the simulated-click protocol.

- :mod:`.metrics`: J, F and J&F of label stacks (agrees with the DAVIS reference).
- :mod:`.davis`: the semi-supervised DAVIS protocol, run or scored.
- :mod:`.clicks`: the interactive protocol (one ``interior_point``, one ``corrective_click``).
- :mod:`.ctc`: CTC folders and scores.
- :mod:`.stack`: per-frame scores of a label stack against ground truth.
"""
