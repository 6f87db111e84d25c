import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from ctranslate2.converters.marian import load_vocab

from service.config import Settings
from service.modelstore import argos, generate, install, marian_spec, sources
from service.modelstore.manifest import Manifest, ModelNotInstalled, resolve_model_dir, resolve_reverse_model_dir
from service.translation import open_reverse_translator
from service.translation.engine import Translator


@pytest.fixture(scope="module")
def release_dir(tmp_path_factory):
    """An unpacked OPUS-MT release (generated tiny), as the official zip holds it."""
    return generate.write_opus_mt_dir("tiny", tmp_path_factory.mktemp("release"))


@pytest.fixture(scope="module")
def release_zip(release_dir, tmp_path_factory):
    path = tmp_path_factory.mktemp("zip") / "opus-tiny.zip"
    with zipfile.ZipFile(path, "w") as zipped:
        for file in release_dir.iterdir():
            zipped.write(file, file.name)
    return path


def test_generated_release_has_the_opus_mt_layout(release_dir):
    names = {p.name for p in release_dir.iterdir()}
    assert {"decoder.yml", generate.NPZ_NAME, generate.VOCAB_NAME, "source.spm", "target.spm"} <= names
    weights = np.load(release_dir / generate.NPZ_NAME)
    arch = marian_spec.SIZES["tiny"]
    for name, shape in marian_spec.parameter_shapes(arch).items():
        assert weights[name].shape == shape, name
    vocab = load_vocab(release_dir / generate.VOCAB_NAME)  # CTranslate2's own reader
    assert len(vocab) == arch.vocab_size and vocab[:2] == ["</s>", "<unk>"]


def test_base_size_matches_opus_mt_ar_en():
    arch = marian_spec.SIZES["base"]
    assert (arch.enc_depth, arch.dec_depth, arch.dim_emb, arch.dim_ffn, arch.heads, arch.activation) == (
        6,
        6,
        512,
        2048,
        8,
        "swish",
    )
    params = sum(np.prod(shape) for shape in marian_spec.parameter_shapes(arch).values())
    assert 70e6 < params < 80e6  # about 76M, which is 77-80 MB in int8


def test_install_from_zip_converts_and_writes_manifest(release_zip, tmp_path):
    dest = tmp_path / "model"
    manifest = sources.install(str(release_zip), dest)
    assert {"model.bin", "source.spm", "target.spm", "manifest.json"} <= {p.name for p in dest.iterdir()}
    recorded = json.loads((dest / "manifest.json").read_text())
    assert recorded["kind"] == "opus-mt" and recorded["quantization"] == "int8"
    assert recorded["converter"].startswith("ctranslate2 ")
    assert recorded["id"] == manifest.id == Manifest.read(dest).id
    assert recorded["sha256"] == install.file_sha256(release_zip)


def test_known_release_zip_is_checked_against_its_published_checksum(release_zip, tmp_path):
    fake = tmp_path / "opus-2019-12-18.zip"
    fake.write_bytes(release_zip.read_bytes())
    with pytest.raises(install.InstallError, match="checksum mismatch"):
        sources.install(str(fake), tmp_path / "model")


def test_explicit_checksum_mismatch_is_refused(release_zip, tmp_path):
    with pytest.raises(install.InstallError, match="checksum mismatch"):
        sources.install(str(release_zip), tmp_path / "model", sha256="0" * 64)


def test_zip_with_unsafe_paths_is_refused(tmp_path):
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zipped:
        zipped.writestr("../outside.txt", "x")
    with pytest.raises(install.InstallError, match="unsafe path"):
        sources.install(str(evil), tmp_path / "model")
    assert not (tmp_path / "outside.txt").exists()


def test_install_from_converted_directory_copies_it(tiny_model_dir, tmp_path):
    manifest = sources.install(str(tiny_model_dir), tmp_path / "copy")
    assert manifest == Manifest.read(tiny_model_dir)  # a copied demo model stays labelled as noise
    assert manifest.demo
    assert (tmp_path / "copy" / "model.bin").read_bytes() == (tiny_model_dir / "model.bin").read_bytes()


def test_foreign_converted_directory_gets_a_manifest(tiny_model_dir, tmp_path):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    for name in ("model.bin", "config.json", "shared_vocabulary.json", *install.TOKENIZER_FILES):
        (foreign / name).write_bytes((tiny_model_dir / name).read_bytes())
    manifest = sources.install(str(foreign), tmp_path / "m")
    assert (manifest.kind, manifest.quantization, manifest.demo) == ("ctranslate2", "preconverted", False)


def test_hugging_face_directory_names_what_to_install(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "pytorch_model.bin").write_bytes(b"")
    for name in install.TOKENIZER_FILES:
        (tmp_path / name).write_bytes(b"")
    with pytest.raises(install.InstallError, match="pip install transformers torch"):
        sources.install(str(tmp_path), tmp_path.parent / "hf-model")


def test_unknown_source_and_quantization_are_refused(tmp_path):
    with pytest.raises(install.InstallError, match="not a URL, a zip file or a model directory"):
        sources.install(str(tmp_path / "nothing-here"), tmp_path / "model")
    with pytest.raises(install.InstallError, match="unknown quantization"):
        sources.install(str(tmp_path), tmp_path / "model", quantization="int3")


def test_failed_install_keeps_the_previous_model(tiny_model_dir, tmp_path):
    dest = tmp_path / "model"
    sources.install(str(tiny_model_dir), dest)
    before = Manifest.read(dest)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "decoder.yml").write_text("models: [missing.npz]\nvocabs: [v.yml, v.yml]\n")
    for name in install.TOKENIZER_FILES:
        (broken / name).write_bytes(b"")
    with pytest.raises(FileNotFoundError):
        sources.install(str(broken), dest)
    assert Manifest.read(dest) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_missing_model_error_names_the_install_command(tmp_path):
    with pytest.raises(ModelNotInstalled, match="python -m service model install"):
        Manifest.read(tmp_path)


def test_configured_model_dir_wins(tmp_path):
    assert resolve_model_dir(tmp_path) == tmp_path


@pytest.fixture(scope="module")
def en_ar_release_dir(tmp_path_factory):
    """An unpacked English→Arabic release (generated tiny): English source.spm, Arabic target.spm."""
    return generate.write_opus_mt_dir("tiny", tmp_path_factory.mktemp("en-ar"), direction="en-ar")


def test_en_ar_install_records_its_direction_and_target_token(en_ar_release_dir, tmp_path):
    manifest = sources.install(str(en_ar_release_dir), tmp_path / "opus-mt-en-ar", direction="en-ar")
    assert (manifest.name, manifest.direction, manifest.target_token) == ("opus-mt-en-ar", "en-ar", ">>ara<<")
    assert Manifest.read(tmp_path / "opus-mt-en-ar") == manifest
    assert ">>ara<<" in load_vocab(en_ar_release_dir / generate.VOCAB_NAME), "the token is one vocabulary entry"


def test_en_ar_default_source_is_the_official_tatoeba_release():
    release = install.RELEASES["en-ar"]
    assert release.url == "https://object.pouta.csc.fi/Tatoeba-MT-models/eng-ara/opus-2020-07-03.zip"
    assert release.target_token == ">>ara<<"
    with pytest.raises(install.InstallError, match="unknown direction"):
        sources.install(None, Path("unused"), direction="fr-en")


def test_an_en_ar_model_starts_every_sentence_with_its_target_token(tiny_reverse_model_dir):
    translator = Translator(tiny_reverse_model_dir, Settings(inter_threads=1))
    assert (translator.manifest.direction, translator.demo) == ("en-ar", True)
    assert translator.tokenize("ceasefire in Gaza")[0] == ">>ara<<"
    assert translator.tokenize("") == [], "empty input still skips the model"
    assert translator.translate(["ceasefire in Gaza"])[0].target


def test_ar_en_manifests_written_before_directions_read_as_ar_en(tiny_model_dir):
    data = json.loads((tiny_model_dir / "manifest.json").read_text())
    old = {key: value for key, value in data.items() if key not in ("direction", "target_token")}
    assert Manifest(**{k: v for k, v in old.items() if k != "id"}).direction == "ar-en"
    assert Manifest.read(tiny_model_dir).target_token is None


def test_the_reverse_model_is_optional_and_never_breaks_the_forward_one(tiny_model_dir, tiny_reverse_model_dir):
    assert resolve_reverse_model_dir("off") is None
    assert open_reverse_translator(Settings(model_dir=tiny_model_dir, reverse_model_dir="off")) is None
    absent = Settings(model_dir=tiny_model_dir, reverse_model_dir=Path("/nonexistent/en-ar"))
    assert open_reverse_translator(absent) is None
    wrong_way = Settings(model_dir=tiny_model_dir, reverse_model_dir=tiny_model_dir)
    assert open_reverse_translator(wrong_way) is None, "an ar-en model is refused as the reverse model"
    loaded = open_reverse_translator(Settings(model_dir=tiny_model_dir, reverse_model_dir=tiny_reverse_model_dir))
    assert loaded is not None and loaded.manifest.direction == "en-ar"


@pytest.fixture(scope="module")
def argos_package(tiny_model_dir, tmp_path_factory):
    """The tiny model as LibreTranslate users have their models: one .argosmodel with one SentencePiece model."""
    path = tmp_path_factory.mktemp("argos") / "translate-ar_en-1_0.argosmodel"
    return argos.write_package(tiny_model_dir, path, tiny_model_dir / "source.spm")


def _argos_zip(path: Path, members: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as zipped:
        for name, text in members.items():
            zipped.writestr(name, text)
    return path


ARGOS_METADATA = json.dumps({"from_code": "ar", "to_code": "en", "package_version": "1.9"})


def test_argos_package_installs_with_its_one_sentencepiece_model_and_translates(argos_package, tmp_path):
    dest = tmp_path / "model"
    manifest = sources.install(str(argos_package), dest)
    assert (manifest.kind, manifest.name, manifest.version) == ("argos", "argos-translate-ar_en", "1.0")
    assert (manifest.direction, manifest.quantization, manifest.demo) == ("ar-en", "preconverted", False)
    assert manifest.sha256 == install.file_sha256(argos_package) and manifest.source == str(argos_package)
    assert Manifest.read(dest) == manifest
    with zipfile.ZipFile(argos_package) as zipped:
        spm = zipped.read("translate-ar_en-1_0/sentencepiece.model")
    assert (dest / "source.spm").read_bytes() == spm == (dest / "target.spm").read_bytes()
    translator = Translator(dest, Settings(model_dir=dest, inter_threads=1))
    [result] = translator.translate(["قال الرئيس إن الاجتماع سيعقد غدا."])
    assert result.tokens > 0 and result.target


def test_argos_package_for_another_direction_is_refused(tiny_reverse_model_dir, tmp_path):
    package = argos.write_package(
        tiny_reverse_model_dir, tmp_path / "en_ar.argosmodel", tiny_reverse_model_dir / "source.spm"
    )
    with pytest.raises(install.InstallError, match="translates en-ar, not ar-en"):
        sources.install(str(package), tmp_path / "model")
    assert not (tmp_path / "model").exists()


def test_argos_package_missing_parts_is_refused(tmp_path):
    package = _argos_zip(tmp_path / "bare.argosmodel", {"translate-ar_en/metadata.json": ARGOS_METADATA})
    with pytest.raises(install.InstallError, match=r"lacks model/model\.bin, sentencepiece\.model"):
        sources.install(str(package), tmp_path / "model")
    no_metadata = _argos_zip(tmp_path / "no-metadata.argosmodel", {"translate-ar_en/sentencepiece.model": ""})
    with pytest.raises(install.InstallError, match=r"lacks metadata\.json"):
        sources.install(str(no_metadata), tmp_path / "model")
    not_a_zip = tmp_path / "text.argosmodel"
    not_a_zip.write_text("not a zip")
    with pytest.raises(install.InstallError, match="not a zip file"):
        sources.install(str(not_a_zip), tmp_path / "model")


def test_argos_package_with_unsafe_paths_is_refused(tmp_path):
    members = {"translate-ar_en/metadata.json": ARGOS_METADATA, "translate-ar_en/../../outside.txt": "x"}
    package = _argos_zip(tmp_path / "evil.argosmodel", members)
    with pytest.raises(install.InstallError, match="unsafe path"):
        sources.install(str(package), tmp_path / "sub" / "model")
    assert not (tmp_path / "outside.txt").exists()
