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
    text(row, ".reason", job.reason ? `— ${job.reason}` : "");
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
    // Before the first item is done there is no rate or ETA to give: zeros and a dash would look stalled.
    const starting = ACTIVE.includes(job.state) && job.counts.done === 0;
    const failedSoFar = job.counts.failed ? ` · ${job.counts.failed} of ${job.counts.total} failed (see below)` : "";
    text(row, ".starting", `Starting…${failedSoFar}`);
    row.querySelector(".starting").hidden = !starting;
    row.querySelector(".figures").hidden = starting;
    text(row, ".done", job.counts.done);
    text(row, ".failed", job.counts.failed);
    text(row, ".total", job.counts.total);
    text(row, ".rate", job.tokens_per_second);
    text(row, ".eta", job.eta_seconds ?? "");
    row.querySelector(".eta-part").hidden = job.eta_seconds == null || !ACTIVE.includes(job.state);
    row.querySelector(".cancel").hidden = !ACTIVE.includes(job.state);
    row.querySelector(".errors").hidden = job.counts.failed === 0;
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
    if (job.state !== "done" || !(job.options || {}).index || job.counts.done === 0 || box.dataset.shown) return;
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
      // A demo model's English title is noise: the Arabic one tells the articles apart.
      const demo = article.translation && article.translation.demo;
      link.textContent = (demo ? article.title : article.title_en) || article.title || String(article.id);
      link.dir = "auto";
      item.append(link);
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
    for (const [selector, path, suffix] of [[".results", "/results", "results"], [".errors", "/errors", "errors"]]) {
      const link = row.querySelector(selector);
      link.href = base + path;
      link.addEventListener("click", (event) => {
        event.preventDefault();
        download(base + path, `job-${id}-${suffix}.jsonl`);
      });
    }
    const cancel = row.querySelector(".cancel");
    cancel.addEventListener("click", async () => {
      cancel.disabled = true;
      let response = null;
      try {
        response = await call(base, { method: "DELETE" });
      } catch {
        say("The service cannot be reached; try again.");
      }
      cancel.disabled = false;
      if (response && usable(response)) {
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
