"""Uploads and the jobs page in a real browser (Debian's chromium under Playwright), at desktop (1440x900) and phone
(390x844) sizes, against the real app with the tiny model and no search cluster: plain text is translated only, a
cancel asks first and says what stays, a card says cancelled or failed in words, and results download as CSV."""

import csv
import io
import json
import re
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from browsing import CHROMIUM, SECRET_KEY, expect, served, shot, sign_in
from test_ui_accessibility import AXE, BLOCKING_IMPACTS

from service.jobs.worker import Worker
from service.web.services import services_of

KEY = "jobs-key-0123456"
VIEWPORTS = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="chromium is not installed (make test installs it)")


@pytest.fixture
def web_app(make_offline_app):
    return make_offline_app(api_keys=(KEY,), secret_key=SECRET_KEY)


@pytest.fixture
def site(web_app):
    with served(web_app) as url:
        yield url


@pytest.fixture(params=list(VIEWPORTS))
def page(browser, request):
    context = browser.new_context(viewport=VIEWPORTS[request.param], accept_downloads=True)
    tab = context.new_page()
    tab.width_name = request.param
    yield tab
    context.close()


def submit(web_app, name: str, lines: list[str], index: bool) -> str:
    """A job of KEY's, uploaded through the API as a person's script would: its id."""
    data = {"file": (io.BytesIO("\n".join(lines).encode()), name), "index": "true" if index else "false"}
    answer = web_app.test_client().post("/api/v1/jobs", data=data, headers={"X-API-Key": KEY})
    assert answer.status_code == 202, answer.json
    return answer.json["id"]


def articles(count: int) -> list[str]:
    return [
        json.dumps(
            {"id": f"w{n}", "title": f"خبر رقم {n}", "body": "قال الوزير إن المحادثات مستمرة."}, ensure_ascii=False
        )
        for n in range(count)
    ]


def indexed(n: int) -> dict:
    """What an indexing job stores for an article it indexed (the worker's job_result shape)."""
    return {
        "id": f"w{n}",
        "doc_id": f"w{n}",
        "outcome": "indexed",
        "title": f"خبر رقم {n}",
        "title_en": f"News number {n}",
        "translation": {"model": "opus-mt-ar-en@1", "demo": False, "translated": True},
    }


def work_on(web_app, job_id: str, done: int, failed: int = 0) -> None:
    """A worker's claim and commit of the job's first items, as if it had indexed `done` and failed `failed`."""
    store = services_of(web_app).job_store
    _job, items = store.claim("test-worker", done + failed, job_id)
    store.finish(
        job_id,
        "test-worker",
        [(item.seq, indexed(n)) for n, item in enumerate(items[:done])],
        [(item.seq, "a reason of this test") for item in items[done:]],
        tokens=50 * done,
    )


def axe_violations(page) -> list:
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [
        (v["id"], [n["target"] for n in v["nodes"][:3]])
        for v in result["violations"]
        if v["impact"] in BLOCKING_IMPACTS
    ]


def test_a_plain_text_file_is_translated_only_and_its_english_downloads_as_csv(
    page, site, web_app, translator, tmp_path
):
    notes = tmp_path / "interview notes.txt"
    notes.write_text("قال الوزير إن المحادثات مستمرة.\nوأضاف أن الحكومة ستعمل.\n", encoding="utf-8")
    sign_in(page, site, KEY, then="/ingest")
    expect(page.locator("h1")).not_to_be_empty()
    assert axe_violations(page) == []
    index, translate_only = page.get_by_label("Translate and index for search"), page.get_by_label("Translate only")
    expect(index).to_be_checked()
    page.get_by_label("File").set_input_files(str(notes))
    expect(translate_only).to_be_checked()  # chosen for the user, and said
    expect(page.locator("#ingest-status")).to_contain_text("translated only")

    index.check()  # asked to index it anyway, the service refuses, saying why and what to do instead
    page.get_by_role("button", name="Submit job").click()
    expect(page.locator("#ingest-status")).to_contain_text("cannot be indexed for search")
    expect(page.locator("#ingest-status")).to_contain_text("translate only")
    assert services_of(web_app).job_store.list() == []  # nothing stored, nothing indexed
    shot(page, f"jobs21-ingest-refused-{page.width_name}")

    translate_only.check()
    page.get_by_role("button", name="Submit job").click()
    job = page.locator(".job.highlight")
    expect(job.locator(".kind")).to_have_text("translate")
    services = services_of(web_app)
    Worker(services.job_store, translator, None, services.alias).run(threading.Event(), until_idle=True)
    expect(job.locator(".state")).to_have_text("done", timeout=15_000)
    with page.expect_download() as downloaded:
        job.get_by_role("link", name="Results (CSV)").click()
    name = downloaded.value.suggested_filename
    assert name.startswith("interview notes-results-") and name.endswith(".csv"), name  # says what it holds
    text = Path(downloaded.value.path()).read_text(encoding="utf-8")
    assert text.startswith("\ufeff")  # Excel reads the Arabic column as UTF-8
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    assert [row["body"] for row in rows] == ["قال الوزير إن المحادثات مستمرة.", "وأضاف أن الحكومة ستعمل."]
    assert all(row["body_en"] and row["translation"] in ("machine", "demo") for row in rows)


def test_a_jobs_parallel_text_downloads_as_tmx_and_tsv(page, site, web_app, translator):
    job_id = submit(web_app, "wire copy.jsonl", articles(2), index=False)
    services = services_of(web_app)
    Worker(services.job_store, translator, None, services.alias).run(threading.Event(), until_idle=True)
    sign_in(page, site, KEY, then="/jobs")
    card = page.locator(f'.job[data-job="{job_id}"]')
    expect(card.locator(".state")).to_have_text("done")
    with page.expect_download() as downloaded:
        card.get_by_role("link", name="Parallel text (TMX)").click()
    assert downloaded.value.suggested_filename.startswith("wire copy-results-")
    assert downloaded.value.suggested_filename.endswith(".tmx")
    units = ET.parse(downloaded.value.path()).getroot().findall("body/tu")
    assert [unit.get("tuid") for unit in units] == ["w0-0", "w0-1", "w1-0", "w1-1"]  # each title, then its body
    assert units[1].find("tuv/seg").text == "قال الوزير إن المحادثات مستمرة."
    with page.expect_download() as downloaded:
        card.get_by_role("link", name="Parallel text (TSV)").click()
    assert downloaded.value.suggested_filename.endswith(".tsv")
    rows = list(csv.reader(io.StringIO(Path(downloaded.value.path()).read_text(encoding="utf-8")), delimiter="\t"))
    assert rows[0][:6] == ["position", "field", "paragraph", "score", "ar", "en"]
    assert [row[4] for row in rows[1:]] == [
        "خبر رقم 0",
        "قال الوزير إن المحادثات مستمرة.",
        "خبر رقم 1",
        "قال الوزير إن المحادثات مستمرة.",
    ]
    assert all(row[5] for row in rows[1:])  # each with its English


def test_without_javascript_a_plain_text_upload_to_index_is_refused_in_words(browser, site, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("نص أول\nنص ثان\n", encoding="utf-8")
    for width, viewport in VIEWPORTS.items():
        context = browser.new_context(viewport=viewport, java_script_enabled=False)
        page = context.new_page()
        page.goto(f"{site}/signin?next=/ingest")
        page.get_by_label("API key").fill(KEY)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_label("File").set_input_files(str(notes))
        page.get_by_role("button", name="Submit job").click()
        error = page.locator("#ingest-error")
        expect(error).to_contain_text("A plain-text file holds texts, not articles")
        expect(page.get_by_label("Translate and index for search")).to_be_checked()  # the choice as it was sent
        shot(page, f"jobs21-ingest-refused-nojs-{width}")
        context.close()


def test_cancel_asks_first_says_what_stays_and_the_card_says_so(page, site, web_app):
    job_id = submit(web_app, "gaza-wires.jsonl", articles(12), index=True)
    work_on(web_app, job_id, done=2, failed=1)
    sign_in(page, site, KEY, then="/jobs")
    card = page.locator(f".job[data-job='{job_id}']")
    expect(card.locator(".state")).to_have_text("running")
    expect(card.locator(".rate")).to_have_text(re.compile(r"^[\d.]+ articles per minute$"))
    expect(card.locator(".eta")).to_have_text(re.compile(r"left$"))  # not "ETA 125 s"
    assert "tokens/s" not in card.inner_text()

    card.get_by_role("button", name="Cancel…").click()
    question = card.locator(".confirm-cancel")
    expect(question).to_contain_text("9 articles not yet done will be dropped")
    expect(question).to_contain_text("the 2 articles already indexed stay searchable")
    assert axe_violations(page) == []
    shot(page, f"jobs21-jobs-cancel-asks-{page.width_name}")
    card.get_by_role("button", name="Keep it running").click()
    expect(question).to_be_hidden()
    page.wait_for_timeout(500)
    assert services_of(web_app).job_store.status(job_id).state == "running"  # nothing was sent

    card.get_by_role("button", name="Cancel…").click()
    card.get_by_role("button", name="Cancel the job").click()
    expect(card.locator(".state")).to_have_text("cancelled")
    expect(card.locator(".outcome")).to_have_text(
        "Cancelled: the 2 articles indexed before the cancel stay searchable; 9 articles not yet done were dropped."
    )
    rate = card.locator(".rate").inner_text()
    page.wait_for_timeout(2500)  # a poll later: a cancelled job's rate stays as it was
    page.reload()
    expect(card.locator(".rate")).to_have_text(rate)
    expect(card.get_by_role("button", name="Cancel…")).to_be_hidden()
    shot(page, f"jobs21-jobs-cancelled-{page.width_name}")


def test_a_job_whose_every_item_failed_reads_failed_with_its_reasons(page, site, web_app):
    job_id = submit(web_app, "broken.jsonl", ["{not json", "[1, 2]"], index=True)
    sign_in(page, site, KEY, then="/jobs")
    card = page.locator(f".job[data-job='{job_id}']")
    expect(card.locator(".state")).to_have_text("failed")  # not "done"
    expect(card.locator(".outcome")).to_have_text(
        "Failed: none of its 2 articles could be done; the reasons are below."
    )
    expect(card.locator(".job-errors li")).to_have_count(2)
    expect(card.get_by_role("link", name="Results (CSV)")).to_be_hidden()  # nothing to download


def test_starting_is_never_shown_beside_a_moving_bar(page, site, web_app):
    job_id = submit(web_app, "slow.jsonl", articles(4), index=True)
    work_on(web_app, job_id, done=0, failed=1)  # the bar moves: one of four settled, none done
    sign_in(page, site, KEY, then="/jobs")
    card = page.locator(f".job[data-job='{job_id}']")
    expect(card.locator(".figures")).to_be_visible()
    expect(card.locator(".starting")).to_be_hidden()
    assert card.locator("progress").evaluate("bar => bar.value / bar.max") > 0


def test_a_finished_jobs_articles_show_english_titles_beside_arabic(page, site, web_app):
    job_id = submit(web_app, "two.jsonl", articles(2), index=True)
    work_on(web_app, job_id, done=2)
    sign_in(page, site, KEY, then="/jobs")
    card = page.locator(f".job[data-job='{job_id}']")
    expect(card.locator(".state")).to_have_text("done")
    first = card.locator(".job-articles li").first
    expect(first.locator("a")).to_have_text("News number 0")
    expect(first.locator(".original-title")).to_have_text("خبر رقم 0")
    assert first.locator(".original-title").get_attribute("lang") == "ar"
    assert axe_violations(page) == []
    shot(page, f"jobs21-jobs-done-{page.width_name}")
