import re
from dataclasses import fields
from pathlib import Path

import pytest
from helpers import LINEAR_FACTOR, seconds

from service.config import PROJECT_ROOT, SETTINGS, ConfigError, Settings
from service.errors import hide_credentials
from service.serving import redact

README = Path(__file__).resolve().parents[1] / "README.md"
# Defaults worked out at start-up, which the README describes in words rather than as a value.
COMPUTED_DEFAULTS = {
    "MT_MODEL_DIR": "models/opus-mt-ar-en, else models/demo",
    "MT_REVERSE_MODEL_DIR": "models/opus-mt-en-ar when installed",
    "MT_INTER_THREADS": "cores / intra",
    "SEARCH_MEANING_FLOOR": "calibrated per ENCODER",
    "SEARCH_MEANING_MARGIN": "calibrated per ENCODER",
}


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
        ({"MT_NO_REPEAT_NGRAM_SIZE": "-1"}, "MT_NO_REPEAT_NGRAM_SIZE='-1': must be 0 or more"),
        ({"OPENSEARCH_REPLICAS": "-1"}, "OPENSEARCH_REPLICAS='-1': must be 0 or more"),
        ({"JOBS_WORKERS": "-2"}, "JOBS_WORKERS='-2': must be 0 or more"),
        ({"TRUSTED_PROXIES": "-1"}, "TRUSTED_PROXIES='-1': must be 0 or more"),
    ],
)
def test_invalid_values_name_the_variable(env, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        Settings.from_env(env)


SECRET = "s3cret-pw"


@pytest.mark.parametrize(
    "text",
    [
        f"postgresql://jobs:{SECRET}@db:5432/jobs",
        f"postgresql://jobs@db/jobs?sslmode=require&password={SECRET}",
        f"host=db user=jobs password={SECRET} dbname=jobs",
        f"host=db password = '{SECRET} x' dbname=jobs",
        f"postgresql://jobs@db/jobs?sslpassword={SECRET}",
        f"amqp://guest:{SECRET}@rabbit:5672//",
        f"amqp://guest:{SECRET}@with-an-at@rabbit:5672//",
        f"redis://:{SECRET}@cache:6379/0",
        f"rediss://user:{SECRET}@cache:6379",
    ],
)
def test_no_form_of_a_back_end_password_reaches_a_message(text):
    masked = hide_credentials(f"could not reach {text}: refused")
    assert SECRET not in masked and "***" in masked and masked.startswith("could not reach ")
    assert SECRET not in redact(f"[ERROR] job store: {text}")  # gunicorn's log lines under `serve`
    with pytest.raises(ConfigError) as refused:  # a setting's bad value is quoted back whole
        Settings.from_env({"JOBS_DATABASE_URL": f"x{text}"})
    assert SECRET not in str(refused.value)


def test_zero_is_a_valid_count():
    settings = Settings.from_env({"MT_NO_REPEAT_NGRAM_SIZE": "0", "OPENSEARCH_REPLICAS": "0", "JOBS_WORKERS": "0"})
    assert (settings.no_repeat_ngram_size, settings.opensearch_replicas, settings.jobs_workers) == (0, 0, 0)


def test_each_default_is_declared_once():
    # SETTINGS comes from the fields, and each field's default is parsed from its variable's default text.
    assert {f.name for f in fields(Settings)} == set(SETTINGS)
    assert Settings() == Settings.from_env({})


def readme_defaults() -> dict[str, str]:
    """{variable: default} from the README's configuration table."""
    readme = README.read_text(encoding="utf-8")
    return dict(re.findall(r"^\| `([A-Z_]+)` \| ([^|]+?) \|", readme, re.MULTILINE))


def documented(setting) -> str:
    """How the README's table writes a setting's default: paths relative to the checkout, (none) when unset."""
    if setting.default is None:
        return COMPUTED_DEFAULTS.get(setting.env, "(none)")
    path = Path(setting.default)
    if path.is_absolute() and path.is_relative_to(PROJECT_ROOT):
        return str(path.relative_to(PROJECT_ROOT))
    return setting.default


def test_every_setting_is_documented_with_its_default():
    table = readme_defaults()
    assert sorted(table) == sorted(s.env for s in SETTINGS.values())  # no setting missing, no stale row
    wrong = {s.env: (table[s.env], documented(s)) for s in SETTINGS.values() if table[s.env] != documented(s)}
    assert wrong == {}


@pytest.mark.parametrize(
    "hostile",
    ["a" * 16_000, "password" * 2_000, "a." * 8_000, "a://b:" * 2_700, "%" * 16_000, "bearer " + " " * 16_000],
    ids=["word", "password", "dots", "schemes", "percent", "bearer"],
)
def test_masking_a_log_line_takes_time_linear_in_its_length(hostile):
    """Access log lines carry what clients send (the request line, the user agent): masking reads each once."""
    ordinary = ("GET /api/v1/search?q=news&api_key=k HTTP/1.1 Mozilla/5.0 " * 500)[: len(hostile)]
    limit = LINEAR_FACTOR * seconds(lambda: redact(ordinary))
    took = seconds(lambda: redact(hostile), within=limit)
    assert took <= limit, f"{took:.3f} s, {took / limit * LINEAR_FACTOR:.0f} times an ordinary line as long"


def test_a_secret_parameter_is_masked_however_its_name_is_percent_encoded():
    line = redact("GET /alerts/a/feed.atom?%74oken=S1&tok%65n=S2&api%5Fkey=S3&ACCESS_TOKEN=S4&q=S5 HTTP/1.1")
    assert not {"S1", "S2", "S3", "S4"} & set(re.findall(r"S\d", line)) and "q=S5" in line
