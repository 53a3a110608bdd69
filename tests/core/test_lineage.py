import pytest

from napari_sam2.core.errors import InputError
from napari_sam2.core.lineage import Lineage


def test_division_ends_mother_and_links_daughters():
    lineage = Lineage()
    lineage.add(1, start=0)
    lineage.extend(1, 9)
    lineage.divide(1, frame=6, daughters=(2, 3))
    assert lineage.tracks[1].end == 5
    assert lineage.edges() == [(1, 2), (1, 3)]
    assert lineage.daughters(1) == [2, 3]
    assert lineage.to_ctc_text() == "1 0 5 0\n2 6 6 1\n3 6 6 1\n"


def test_ctc_text_and_dict_round_trip():
    lineage = Lineage()
    lineage.add(4, start=2, end=7)
    lineage.divide(4, 5, (8, 9))
    lineage.flag(8, 6, "area_jump", 0.5, "area doubled")
    again = Lineage.from_ctc_text(lineage.to_ctc_text())
    assert again.to_ctc_text() == lineage.to_ctc_text()
    copy = Lineage.from_dict(lineage.to_dict())
    assert copy.to_dict() == lineage.to_dict()
    assert copy.review_list()[0].kind == "area_jump"


def test_bad_ctc_lines_are_one_line_errors():
    with pytest.raises(InputError, match="line 2"):
        Lineage.from_ctc_text("1 0 3 0\n2 x 4 1\n")
    with pytest.raises(InputError, match="parent 7"):
        Lineage.from_ctc_text("1 0 3 7\n")


def test_ids_are_never_reused_and_flags_are_checked():
    lineage = Lineage()
    lineage.add(1, 0)
    with pytest.raises(ValueError):
        lineage.add(1, 3)
    with pytest.raises(ValueError):
        lineage.flag(1, 0, "bogus", 1.0, "")
    lineage.flag(1, 2, "short", 0.2, "a")
    lineage.flag(1, 1, "jump", 0.9, "b")
    assert [f.kind for f in lineage.review_list()] == ["jump", "short"]
