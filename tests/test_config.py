import re
from dataclasses import fields
from pathlib import Path

import pytest

from service.config import SETTINGS, ConfigError, Settings

README = Path(__file__).resolve().parents[1] / "README.md"


def test_defaults_are_valid():
    settings = Settings.from_env({})
    assert settings.beam_size == 4 and settings.resolved_compute_type == "int8"
    inter, intra = settings.threads
    assert inter >= 1 and intra == 1


def test_values_are_parsed_from_the_environment():
    settings = Settings.from_env(
        {"MT_BEAM_SIZE": "2", "MT_DEVICE": "cuda", "MT_MEMORY": "off", "MT_MODEL_DIR": "/m", "MT_INTER_THREADS": "3"}
    )
    assert (settings.beam_size, settings.device, settings.memory_enabled) == (2, "cuda", False)
    assert settings.model_dir == Path("/m") and settings.threads[0] == 3
    assert settings.resolved_compute_type == "int8_float16"


@pytest.mark.parametrize(
    "env,message",
    [
        ({"MT_BEAM_SIZE": "0"}, "MT_BEAM_SIZE='0': must be at least 1"),
        ({"MT_BEAM_SIZE": "four"}, "MT_BEAM_SIZE='four'"),
        ({"MT_DEVICE": "tpu"}, "MT_DEVICE='tpu': must be one of cpu, cuda"),
        ({"MT_MEMORY": "maybe"}, "MT_MEMORY='maybe': must be on or off"),
        ({"MT_DECODE_LENGTH_RATIO": "-1"}, "MT_DECODE_LENGTH_RATIO='-1': must be greater than 0"),
    ],
)
def test_invalid_values_name_the_variable(env, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        Settings.from_env(env)


def test_every_setting_is_declared_once_and_documented():
    assert {f.name for f in fields(Settings)} == set(SETTINGS)
    readme = README.read_text(encoding="utf-8")
    missing = [s.env for s in SETTINGS.values() if f"`{s.env}`" not in readme]
    assert missing == []
