// The ingest and jobs pages. Their requests go with the browser's sign-in (app.js's sessionFetch: the cookie and
// the page's CSRF token), in every tab, cancels included; no key is handled here.
const SHOWN_ERRORS = 100; // error lines shown on the page; the download holds them all
const SHOWN_ARTICLES = 10;

// The first `limit` JSON lines of a streamed answer, reading no further than needed.
async function firstLines(response, limit) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  const lines = [];
  while (lines.length < limit) {
    const { done, value } = await reader.read();
    buffered += decoder.decode(value || new Uint8Array(), { stream: !done });
    const parts = buffered.split("\n");
    buffered = done ? "" : parts.pop();
    lines.push(...parts.filter((line) => line.trim()));
    if (done) break;
  }
  reader.cancel().catch(() => {});
  return lines.slice(0, limit).map((line) => JSON.parse(line));
}

// Ingest page: the upload goes to the jobs API from here, so a refused key leaves the chosen file in place.
// Without JavaScript the form posts to the page itself, as before.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector("form.ingest");
  if (!form) return;
  const status = document.getElementById("ingest-status");

  const say = (text, isError) => {
    status.textContent = text;
    status.classList.toggle("error", Boolean(isError));
    status.setAttribute("role", isError ? "alert" : "status");
  };

  // A plain-text file can only be translated (the service refuses to index it): choose that for the user, and say so.
  const file = form.querySelector("input[type=file]");
  file.addEventListener("change", () => {
    const name = file.files.length ? file.files[0].name.toLowerCase() : "";
    if (name && !name.endsWith(".jsonl") && !name.endsWith(".json")) {
      form.querySelector("#do-translate").checked = true;
      say("A plain-text file is translated only: its English comes back as a download, nothing is indexed.", false);
    } else {
      say("", false);
    }
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = new FormData(form);
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    say("Uploading…", false);
    let response;
    try {
      response = await sessionFetch("/api/v1/jobs", { method: "POST", body });
    } catch {
      say("The service cannot be reached; try again.", true);
      button.disabled = false;
      return;
    }
    const answer = await response.json().catch(() => ({}));
    button.disabled = false;
    if (!response.ok) {
      const reason = answer.error ? answer.error.message : `the service answered ${response.status}`;
      say(`Not submitted: ${reason}. Your file is still chosen.`, true);
      if (response.status === 401 || response.status === 403) status.append(" ", signInAgainLink());
      return;
    }
    window.location.assign(`/jobs?highlight=${encodeURIComponent(answer.id)}`);
  });
});

// Figures in the units a reader weighs: "about 2 minutes left", "40 articles per minute", not seconds and tokens.
function timeLeft(seconds) {
  if (seconds < 60) return "less than a minute left";
  const minutes = Math.round(seconds / 60);
  if (minutes < 90) return `about ${minutes} minute${minutes === 1 ? "" : "s"} left`;
  const hours = Math.round(minutes / 60);
  return `about ${hours} hour${hours === 1 ? "" : "s"} left`;
}

const plural = (count, noun) => `${count} ${count === 1 ? noun.replace(/s$/, "") : noun}`;
const stay = (count) => (count === 1 ? "stays" : "stay");
const nounOf = (job) => ((job.options || {}).index ? "articles" : "texts");

// What a settled job left behind, in words: whether its indexed articles stay, whether it failed outright.
function outcomeOf(job) {
  const noun = nounOf(job);
  const indexing = Boolean((job.options || {}).index);
  const dropped = job.counts.total - job.counts.done - job.counts.failed;
  if (job.state === "cancelled") {
    const done = job.counts.done;
    const kept = indexing
      ? `the ${plural(done, noun)} indexed before the cancel ${stay(done)} searchable`
      : `the ${plural(done, "translations")} made before the cancel ${stay(done)} downloadable`;
    const gone = `${plural(dropped, noun)} not yet done ${dropped === 1 ? "was" : "were"} dropped`;
    return `Cancelled: ${done ? kept : "nothing was done before the cancel"}; ${gone}.`;
  }
  if (job.state === "failed") return `Failed: none of its ${plural(job.counts.total, noun)} could be done; the reasons are below.`;
  return "";
}

// Said before a cancel is sent: what stays and what goes.
function cancelQuestion(job) {
  const noun = nounOf(job);
  const left = job.counts.total - job.counts.done - job.counts.failed;
  const stays = (job.options || {}).index
    ? `the ${plural(job.counts.done, noun)} already indexed stay searchable`
    : `the ${plural(job.counts.done, "translations")} already made stay downloadable`;
  return `Cancel this job? ${plural(left, noun)} not yet done will be dropped; ${stays}. This cannot be undone.`;
}

// Jobs page: one request for the whole list per poll, sent with the tab's key. The interval grows while
// nothing changes and after errors, a 429 waits for its Retry-After, and the last values stay on screen.
// Rows are built from a <template> and filled with textContent only.
document.addEventListener("DOMContentLoaded", () => {
  const list = document.getElementById("jobs");
  const template = document.getElementById("job-template");
  if (!list || !template || list.dataset.signedIn !== "yes") return; // the page asks to sign in, in its markup
  const message = document.getElementById("jobs-message");
  const empty = document.getElementById("jobs-empty");
  const ACTIVE = ["queued", "running", "paused"];
  const FIRST_DELAY = 2000;
  const MAX_DELAY = 15000;
  let delay = FIRST_DELAY;
  let timer = null;
  let lastSeen = "";

  const say = (text) => { message.textContent = text; };
  const schedule = (ms) => { clearTimeout(timer); timer = setTimeout(poll, ms); };
  const slower = () => { delay = Math.min(MAX_DELAY, Math.round(delay * 1.5)); return delay; };

  const askToSignIn = (why) => {
    clearTimeout(timer);
    say(why);
    message.append(" ", signInAgainLink());
  };

  const call = (url, options = {}) => sessionFetch(url, { ...options, cache: "no-store" });

  // Whether the answer is usable; otherwise says why, and when to try again.
  const usable = (response) => {
    if (response.status === 401 || response.status === 403) {
      askToSignIn("This browser is no longer signed in (signed out elsewhere, or the sign-in expired).");
      return false;
    }
    if (response.status === 429) {
      const seconds = Number(response.headers.get("Retry-After"));
      say("Too many requests for this key just now; the figures below resume updating shortly.");
      schedule(Math.max(slower(), Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : MAX_DELAY));
      return false;
    }
    if (!response.ok) {
      say(`The service answered ${response.status}; trying again.`);
      schedule(slower());
      return false;
    }
    return true;
  };

  const text = (row, selector, value) => { row.querySelector(selector).textContent = String(value); };
  const submitted = (seconds) =>
    new Date(seconds * 1000).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });

  const fill = (row, job) => {
    const options = job.options || {};
    const settled = job.counts.done + job.counts.failed;
    row.dataset.state = job.state;
    row.classList.toggle("highlight", job.id === list.dataset.highlight);
    text(row, ".name", options.file_name || `Job ${job.id}`);
    text(row, ".state", job.state);
    text(row, ".reason", job.reason && job.state !== "failed" ? `— ${job.reason}` : ""); // a failed card says why
    text(row, ".id", job.id);
    text(row, ".kind", options.index ? "translate and index" : "translate");
    text(row, ".key", options.key_label || "—");
    const time = row.querySelector(".submitted");
    time.dateTime = new Date(job.created * 1000).toISOString();
    time.textContent = submitted(job.created);
    const progress = row.querySelector("progress");
    progress.max = Math.max(1, job.counts.total);
    progress.value = settled;
    progress.setAttribute("aria-label", `Progress of ${options.file_name || `job ${job.id}`}`);
    // Before the first item settles there is nothing to show: the bar stays empty beside "Starting…", and no
    // zero rate suggests a stall.
    const starting = ACTIVE.includes(job.state) && settled === 0;
    text(row, ".starting", "Starting…");
    row.querySelector(".starting").hidden = !starting;
    row.querySelector(".figures").hidden = starting;
    text(row, ".done", job.counts.done);
    text(row, ".failed", job.counts.failed);
    text(row, ".total", job.counts.total);
    const rate = job.items_per_minute ?? 0;
    text(row, ".rate", `${rate >= 10 ? Math.round(rate) : rate} ${nounOf(job)} per minute`);
    row.querySelector(".rate-part").hidden = !job.counts.done;
    text(row, ".eta", job.eta_seconds == null ? "" : timeLeft(job.eta_seconds));
    row.querySelector(".eta-part").hidden = job.eta_seconds == null || job.state !== "running";
    const outcome = outcomeOf(job);
    text(row, ".outcome", outcome);
    row.querySelector(".outcome").hidden = !outcome;
    row.querySelector(".cancel").hidden = !ACTIVE.includes(job.state);
    if (!ACTIVE.includes(job.state)) row.querySelector(".confirm-cancel").hidden = true;
    row.querySelector(".confirm-text").textContent = cancelQuestion(job);
    row.querySelector(".errors").hidden = job.counts.failed === 0;
    for (const results of row.querySelectorAll(".results, [class^='results-']")) results.hidden = job.counts.done === 0;
  };

  // A keyed GET, or null after saying why not.
  const keyedGet = async (url) => {
    try {
      const response = await call(url);
      return usable(response) ? response : null;
    } catch {
      say("The service cannot be reached; try again.");
      return null;
    }
  };

  // Failed items, with their line numbers, on the page; fetched again only when the count of failures changes.
  const showErrors = async (row, job) => {
    const box = row.querySelector(".job-errors");
    if (job.counts.failed === 0 || box.dataset.failed === String(job.counts.failed)) return;
    box.dataset.failed = String(job.counts.failed);
    const response = await keyedGet(`/api/v1/jobs/${encodeURIComponent(job.id)}/errors`);
    if (!response) {
      delete box.dataset.failed; // try again at the next poll
      return;
    }
    const errors = await firstLines(response, SHOWN_ERRORS);
    const items = errors.map(({ line, error }) => {
      const item = document.createElement("li");
      item.textContent = `Line ${line}: ${error}`;
      return item;
    });
    box.querySelector("ol").replaceChildren(...items);
    const more = job.counts.failed > errors.length ? ` (the first ${errors.length}; download them all)` : "";
    box.querySelector(".errors-heading").textContent =
      `${job.counts.failed} item${job.counts.failed === 1 ? "" : "s"} failed${more}`;
    box.hidden = false;
  };

  // A finished indexing job links to the articles it indexed (the first few, from its results).
  const showArticles = async (row, job) => {
    const box = row.querySelector(".job-articles");
    if (!["done", "cancelled"].includes(job.state) || !(job.options || {}).index || job.counts.done === 0 || box.dataset.shown) return;
    box.dataset.shown = "yes";
    const response = await keyedGet(`/api/v1/jobs/${encodeURIComponent(job.id)}/results`);
    if (!response) {
      delete box.dataset.shown; // try again at the next poll
      return;
    }
    const articles = (await firstLines(response, SHOWN_ARTICLES)).filter((result) => result.id != null);
    const items = articles.map((article) => {
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.href = `/articles/${encodeURIComponent(article.id)}`;
      // The English title first, the Arabic beside it; a demo model's English is noise, so its Arabic stands alone.
      const demo = article.translation && article.translation.demo;
      const english = demo ? "" : article.title_en || "";
      const arabic = article.title || "";
      link.textContent = english || arabic || String(article.id);
      link.dir = "auto";
      item.append(link);
      if (english && arabic && english !== arabic) {
        const original = document.createElement("span");
        original.className = "original-title";
        original.lang = "ar";
        original.dir = "rtl";
        original.textContent = arabic;
        item.append(" · ", original);
      }
      return item;
    });
    if (job.counts.done > items.length) {
      const item = document.createElement("li");
      item.textContent = `and ${job.counts.done - items.length} more (in the results download)`;
      items.push(item);
    }
    box.querySelector("ul").replaceChildren(...items);
    box.hidden = items.length === 0;
  };

  // Results and errors need the key, which a plain link cannot send: fetch them, then save the file.
  const download = async (url, filename) => {
    const response = await keyedGet(url);
    if (!response) return;
    const link = document.createElement("a");
    link.href = URL.createObjectURL(await response.blob());
    link.download = filename;
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  };

  const makeRow = (id) => {
    const row = template.content.firstElementChild.cloneNode(true);
    row.dataset.job = id;
    const base = `/api/v1/jobs/${encodeURIComponent(id)}`;
    const day = new Date().toISOString().slice(0, 10);
    const downloads = [
      [".results-csv", "/results?format=csv", `results-${day}.csv`],
      [".results", "/results", `results-${day}.jsonl`],
      [".results-tsv", "/results?format=tsv", `results-${day}.tsv`],
      [".results-tmx", "/results?format=tmx", `results-${day}.tmx`],
      [".errors", "/errors", `errors-${day}.jsonl`],
    ];
    for (const [selector, path, suffix] of downloads) {
      const link = row.querySelector(selector);
      link.href = base + path;
      link.addEventListener("click", (event) => {
        event.preventDefault();
        const name = (row.querySelector(".name").textContent || `job-${id}`).replace(/\.[^.]*$/, "");
        download(base + path, `${name}-${suffix}`);
      });
    }
    // Cancelling cannot be undone: the first click asks, saying what stays and what goes.
    const cancel = row.querySelector(".cancel");
    const confirmBox = row.querySelector(".confirm-cancel");
    cancel.addEventListener("click", () => {
      confirmBox.hidden = false;
      confirmBox.querySelector(".keep").focus();
    });
    confirmBox.querySelector(".keep").addEventListener("click", () => {
      confirmBox.hidden = true;
      cancel.focus();
    });
    const confirm = confirmBox.querySelector(".confirm");
    confirm.addEventListener("click", async () => {
      confirm.disabled = true;
      let response = null;
      try {
        response = await call(base, { method: "DELETE" });
      } catch {
        say("The service cannot be reached; try again.");
      }
      confirm.disabled = false;
      if (response && usable(response)) {
        confirmBox.hidden = true;
        delay = FIRST_DELAY;
        schedule(0);
      }
    });
    return row;
  };

  const render = (jobs) => {
    const rows = new Map([...list.children].map((row) => [row.dataset.job, row]));
    jobs.forEach((job, index) => {
      const row = rows.get(job.id) || makeRow(job.id);
      rows.delete(job.id);
      fill(row, job);
      showErrors(row, job);
      showArticles(row, job);
      if (list.children[index] !== row) list.insertBefore(row, list.children[index] || null);
    });
    for (const gone of rows.values()) gone.remove();
    empty.hidden = jobs.length > 0;
  };

  async function poll() {
    let jobs;
    try {
      const response = await call("/api/v1/jobs");
      if (!usable(response)) return;
      jobs = (await response.json()).jobs;
    } catch {
      say("The service cannot be reached; trying again.");
      schedule(slower());
      return;
    }
    say("");
    render(jobs);
    const seen = JSON.stringify(jobs.map((job) => [job.id, job.state, job.counts]));
    delay = seen === lastSeen ? Math.min(MAX_DELAY, Math.round(delay * 1.5)) : FIRST_DELAY;
    lastSeen = seen;
    schedule(delay);
  }

  poll();
});
