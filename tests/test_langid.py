import pytest

from service.text.langid import detect


def test_long_arabic_in_the_arabic_alphabet_needs_no_langdetect():
    result = detect("قال الرئيس إن الحكومة ستعمل على تحسين الاقتصاد في العام المقبل")
    assert (result.language, result.method) == ("ar", "script")


@pytest.mark.parametrize(
    "text,language",
    [
        ("The minister said the government would improve the economy next year", "en"),
        ("این یک متن فارسی است که برای آزمایش نوشته شده است و باید فارسی تشخیص داده شود", "fa"),
        ("یہ ایک اردو جملہ ہے جو زبان کی شناخت کی جانچ کے لیے لکھا گیا ہے اور اسے اردو ہونا چاہیے", "ur"),
        ("Le président a dit que le gouvernement allait travailler sur l'économie", "fr"),
    ],
)
def test_detects_long_text_with_langdetect(text, language):
    result = detect(text)
    assert (result.language, result.method) == (language, "langdetect")
    assert result.confidence > 0.9


def test_short_text_is_judged_by_script():
    assert detect("مرحبا").language == "ar"
    assert detect("Reuters").language == "en"
    assert detect("مرحبا").method == "script"


def test_arabic_with_latin_names_is_arabic():
    text = "قالت وكالة رويترز إن شركة Apple وشركة Microsoft أعلنتا عن تعاون جديد في مجال الذكاء الاصطناعي"
    assert detect(text).language == "ar"


def test_no_letters_is_undetermined():
    assert detect("2020 - 12 : 30").language == "und"
    assert detect("").confidence == 0.0


def test_detection_is_deterministic():
    text = "Ceci est un court texte ambigu"
    assert len({detect(text) for _ in range(5)}) == 1
