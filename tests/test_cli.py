"""The command line as users run it: `python -m service ...` in a subprocess."""

import json

import pytest
from helpers import PROJECT_ROOT, run_cli

ARTICLE = PROJECT_ROOT / "examples" / "article.txt"


@pytest.fixture
def env(tiny_model_dir, tmp_path):
    return {"MT_MODEL_DIR": str(tiny_model_dir), "MT_MEMORY_PATH": str(tmp_path / "tm.sqlite3")}


def test_text_file_gives_one_english_paragraph_per_arabic_paragraph(env):
    done = run_cli("translate", str(ARTICLE), env=env)
    assert done.returncode == 0, done.stderr
    source = [line for line in ARTICLE.read_text(encoding="utf-8").splitlines() if line.strip()]
    output = [line for line in done.stdout.decode().splitlines() if line.strip()]
    assert len(output) == len(source)
    assert b"NOISE" in done.stderr  # the demo model is labelled


def test_blank_and_non_arabic_lines_are_kept_in_place(env, tmp_path):
    text = tmp_path / "mixed.txt"
    persian = "این یک متن فارسی است که برای آزمایش نوشته شده است و باید فارسی تشخیص داده شود"
    text.write_text(f"قال الرئيس.\n\nStocks rose.\n{persian}\n", encoding="utf-8")
    done = run_cli("translate", str(text), env=env)
    lines = done.stdout.decode().split("\n")
    assert lines[1:4] == ["", "Stocks rose.", persian] and lines[0]
    assert b"line 4: language is fa" in done.stderr


def test_stdin_and_output_file(env, tmp_path):
    out = tmp_path / "out.txt"
    done = run_cli("translate", "-", "-o", str(out), env=env, stdin="قال الرئيس.\nثم غادر.\n".encode())
    assert done.returncode == 0
    assert len(out.read_text(encoding="utf-8").splitlines()) == 2


def test_jsonl_keeps_good_records_in_order_and_reports_bad_ones(env, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_bytes(
        b'{"id": "1", "title": "\xd8\xb9\xd9\x86\xd9\x88\xd8\xa7\xd9\x86", "body": "\xd9\x82\xd8\xa7\xd9\x84."}\n'
        b"not json\n"
        b'{"id": "3"}\n'
        b'{"id": "4", "body": "\xff\xfe"}\n'
        b'{"id": "5", "body": "Stocks rose on Monday."}\n'
    )
    done = run_cli("translate", "--jsonl", str(source), env=env)
    assert done.returncode == 1
    records = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert [r["id"] for r in records] == ["1", "5"]
    assert {"title_en", "body_en", "sentences", "translation", "language"} <= set(records[0])
    errors = done.stderr.decode()
    assert "line 2: invalid JSON" in errors and "line 3: missing or empty 'body'" in errors
    assert "line 4: invalid UTF-8" in errors and "translated 2, rejected 3" in errors


def test_binary_file_is_refused(env, tmp_path):
    binary = tmp_path / "blob.bin"
    binary.write_bytes(b"\x00\x01\x02" * 100)
    done = run_cli("translate", str(binary), env=env)
    assert done.returncode == 2
    assert done.stderr.decode().strip().endswith("looks like a binary file, not UTF-8 text")


def test_invalid_utf8_text_is_refused_before_any_output(env, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes("قال الرئيس.\n".encode() + b"\xff\xfe broken\n")
    done = run_cli("translate", str(bad), env=env)
    assert done.returncode == 2 and done.stdout == b""
    assert b"line 2: invalid UTF-8" in done.stderr


def test_missing_file_is_a_one_line_error(env):
    done = run_cli("translate", "/nonexistent/file.txt", env=env)
    assert done.returncode == 2
    assert done.stderr.decode().splitlines() == ["error: /nonexistent/file.txt: no such file"]


def test_progress_bar_on_request(env):
    done = run_cli("translate", str(ARTICLE), "--progress", env=env)
    assert b"100%" in done.stderr


def test_no_model_names_the_install_command(tmp_path):
    done = run_cli("translate", str(ARTICLE), env={"MT_MODEL_DIR": str(tmp_path / "none")})
    assert done.returncode == 2
    assert b"python -m service model install" in done.stderr
    assert len(done.stderr.decode().strip().splitlines()) == 1


def test_bad_configuration_is_a_one_line_error(env):
    done = run_cli("translate", str(ARTICLE), env={**env, "MT_BEAM_SIZE": "zero"})
    assert done.returncode == 2
    assert done.stderr.decode().startswith("error: MT_BEAM_SIZE='zero'")


def test_generate_then_serve_the_generated_model(tmp_path):
    out = tmp_path / "m"
    done = run_cli("model", "generate", "--size", "tiny", str(out))
    assert done.returncode == 0, done.stderr
    info = run_cli("model", "info", env={"MT_MODEL_DIR": str(out)})
    manifest = json.loads(info.stdout)
    assert manifest["demo"] is True and manifest["kind"] == "opus-mt" and manifest["quantization"] == "int8"


def test_install_from_a_local_directory_offline(tiny_model_dir, tmp_path):
    done = run_cli("model", "install", "--source", str(tiny_model_dir), "--dest", str(tmp_path / "m"))
    assert done.returncode == 0, done.stderr
    assert b"installed generated-tiny@" in done.stdout  # still labelled a demo model


def test_generate_and_install_an_en_ar_model(tmp_path):
    done = run_cli("model", "generate", "--direction", "en-ar", str(tmp_path / "generated"))
    assert done.returncode == 0, done.stderr
    dest = tmp_path / "opus-mt-en-ar"
    done = run_cli(
        "model", "install", "--direction", "en-ar", "--source", str(tmp_path / "generated"), "--dest", str(dest)
    )
    assert done.returncode == 0, done.stderr
    manifest = json.loads((dest / "manifest.json").read_text())
    assert (manifest["direction"], manifest["target_token"], manifest["demo"]) == ("en-ar", ">>ara<<", True)


def test_install_without_network_is_a_clear_error(tmp_path):
    done = run_cli(
        "model", "install", "--source", "http://127.0.0.1:9/opus-2019-12-18.zip", "--dest", str(tmp_path / "m")
    )
    assert done.returncode == 2
    assert b"error: could not download http://127.0.0.1:9/opus-2019-12-18.zip" in done.stderr


def test_install_an_argos_package_offline(tiny_model_dir, tmp_path):
    from service.modelstore import argos

    package = argos.write_package(tiny_model_dir, tmp_path / "ar_en.argosmodel", tiny_model_dir / "source.spm")
    dest = tmp_path / "m"
    done = run_cli("model", "install", "--source", str(package), "--dest", str(dest))
    assert done.returncode == 0, done.stderr
    assert b"installed argos-translate-ar_en@" in done.stdout
    translated = run_cli(
        "translate", "-", env={"MT_MODEL_DIR": str(dest), "MT_MEMORY": "off"}, stdin="قال الرئيس.\n".encode()
    )
    assert translated.returncode == 0 and translated.stdout.strip(), translated.stderr
    refused = run_cli(
        "model", "install", "--direction", "en-ar", "--source", str(package), "--dest", str(tmp_path / "r")
    )
    assert refused.returncode != 0
    assert refused.stderr.decode().strip().splitlines() == [f"error: {package} translates ar-en, not en-ar"]
