"""The training tool's curriculum: each stage says its input size, its epochs and whether it trains on
windows cut from the frames, so that one command can run the whole recipe the model card gives."""

from __future__ import annotations

import argparse

import pytest
from train_demo_model import Stage, parse_stages


def test_stages_say_size_epochs_and_windows_in_turn():
    assert parse_stages("320:24@320-800,480:4@480-960,320:3") == [
        Stage(320, 24, (320, 800)),
        Stage(480, 4, (480, 960)),
        Stage(320, 3, None),
    ]


def test_plain_stages_read_as_before():
    assert parse_stages("320:20,480:5") == [Stage(320, 20), Stage(480, 5)]


@pytest.mark.parametrize(
    "text",
    [
        "320",  # no epochs
        "320:0",  # no training
        "300:5",  # not a multiple of 32
        "320:5@800-320",  # window sides reversed
        "320:5@320",  # one side only
        "320:5@a-b",
        "",
    ],
)
def test_a_stage_that_cannot_be_run_is_refused_before_anything_is_drawn(text):
    with pytest.raises(argparse.ArgumentTypeError):
        parse_stages(text)
