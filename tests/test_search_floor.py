"""The meaning channel's floor and margin (service/search/floor.py), and their settings per encoder."""

import pytest

from service.config import MEANING_FLOORS, MEANING_MARGINS, Settings
from service.search.floor import MeaningFloor
from service.search.searcher import Meaning


def test_the_floor_alone_without_a_margin_or_a_best():
    assert MeaningFloor(0.37).least(0.9) == 0.37
    assert MeaningFloor(0.37, 0.1).least(None) == 0.37


def test_the_margin_counts_down_from_the_best_but_never_below_the_floor():
    assert MeaningFloor(0.37, 0.1).least(0.8) == pytest.approx(0.7)
    assert MeaningFloor(0.37, 0.1).least(0.42) == 0.37


@pytest.mark.parametrize("encoder", ["use", "e5", "e5+use"])
def test_each_encoder_has_its_calibrated_floor_and_margin_unless_they_are_set(encoder):
    assert Settings(encoder=encoder).meaning_floor == MEANING_FLOORS[encoder]
    assert Settings(encoder=encoder, search_meaning_floor=0.5).meaning_floor == 0.5
    assert Settings(encoder=encoder).meaning_margin == MEANING_MARGINS[encoder]
    assert Settings.from_env({"ENCODER": encoder, "SEARCH_MEANING_MARGIN": "0.2"}).meaning_margin == 0.2


def test_the_settings_make_the_search_channel():
    settings = Settings.from_env({"SEARCH_MEANING_FLOOR": "0.45", "SEARCH_MEANING_MARGIN": "off"})
    assert Meaning.from_settings(settings, None) == Meaning(None, 0.45, settings.search_meaning_weight, None)
    assert Meaning.from_settings(Settings(), None).margin == MEANING_MARGINS["use"]


@pytest.mark.parametrize("variable, text", [("SEARCH_MEANING_FLOOR", "1.5"), ("SEARCH_MEANING_MARGIN", "0")])
def test_out_of_range_values_are_refused(variable, text):
    with pytest.raises(ValueError, match=variable):
        Settings.from_env({variable: text})
