// Sentence alignment: hovering, focusing or clicking one side highlights its counterpart in the same row.
document.addEventListener("DOMContentLoaded", () => {
  for (const row of document.querySelectorAll(".aligned tbody tr")) {
    const on = () => row.classList.add("active");
    const off = () => row.classList.remove("active");
    for (const cell of row.querySelectorAll("td")) {
      cell.addEventListener("focus", on);
      cell.addEventListener("blur", off);
    }
    row.addEventListener("mouseenter", on);
    row.addEventListener("mouseleave", off);
    row.addEventListener("click", () => {
      for (const other of document.querySelectorAll(".aligned tr.pinned")) other.classList.remove("pinned", "active");
      row.classList.add("pinned", "active");
    });
  }
});

// Ingest page: keep the API key the user types in this tab, so the jobs page can list that key's jobs.
const KEY_STORAGE = "mt-api-key";
document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector("form.ingest");
  if (!form) return;
  form.addEventListener("submit", () => {
    const key = form.querySelector("[name=api_key]").value.trim();
    if (key) sessionStorage.setItem(KEY_STORAGE, key);
  });
});

// Jobs page: one request for the whole list per poll, sent with the tab's key. The interval grows while
// nothing changes and after errors, a 429 waits for its Retry-After, and the last values stay on screen.
// Rows are built from a <template> and filled with textContent only.
document.addEventListener("DOMContentLoaded", () => {
  const list = document.getElementById("jobs");
  const template = document.getElementById("job-template");
  if (!list || !template) return;
  const keyForm = document.getElementById("job-key-form");
  const message = document.getElementById("jobs-message");
  const empty = document.getElementById("jobs-empty");
  const ACTIVE = ["queued", "running", "paused"];
  const FIRST_DELAY = 2000;
  const MAX_DELAY = 15000;
  let delay = FIRST_DELAY;
  let timer = null;
  let lastSeen = "";

  const say = (text) => { message.textContent = text; };
  const key = () => sessionStorage.getItem(KEY_STORAGE);
  const schedule = (ms) => { clearTimeout(timer); timer = setTimeout(poll, ms); };
  const slower = () => { delay = Math.min(MAX_DELAY, Math.round(delay * 1.5)); return delay; };

  const askForKey = (why) => {
    clearTimeout(timer);
    keyForm.hidden = false;
    say(why);
    keyForm.querySelector("input").focus();
  };
  keyForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const typed = keyForm.querySelector("input").value.trim();
    if (!typed) return;
    sessionStorage.setItem(KEY_STORAGE, typed);
    keyForm.hidden = true;
    say("");
    delay = FIRST_DELAY;
    schedule(0);
  });

  const call = (url, options = {}) =>
    fetch(url, { ...options, cache: "no-store", headers: { "X-API-Key": key() || "" } });

  // Whether the answer is usable; otherwise says why, and when to try again.
  const usable = (response) => {
    if (response.status === 401 || response.status === 403) {
      sessionStorage.removeItem(KEY_STORAGE);
      askForKey("That API key was not accepted. Enter the key you submitted your jobs with.");
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

  const fill = (row, job) => {
    row.dataset.state = job.state;
    row.classList.toggle("highlight", job.id === list.dataset.highlight);
    text(row, ".id", job.id);
    text(row, ".state", job.state);
    text(row, ".reason", job.reason ? `— ${job.reason}` : "");
    const progress = row.querySelector("progress");
    progress.max = Math.max(1, job.counts.total);
    progress.value = job.counts.done + job.counts.failed;
    progress.setAttribute("aria-label", `Progress of job ${job.id}`);
    text(row, ".done", job.counts.done);
    text(row, ".failed", job.counts.failed);
    text(row, ".total", job.counts.total);
    text(row, ".rate", job.tokens_per_second);
    text(row, ".eta", job.eta_seconds ?? "—");
    row.querySelector(".cancel").hidden = !ACTIVE.includes(job.state);
  };

  // Results and errors need the key, which a plain link cannot send: fetch them, then save the file.
  const download = async (url, filename) => {
    let response;
    try {
      response = await call(url);
    } catch {
      say("The service cannot be reached; try again.");
      return;
    }
    if (!usable(response)) return;
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
      if (list.children[index] !== row) list.insertBefore(row, list.children[index] || null);
    });
    for (const gone of rows.values()) gone.remove();
    empty.hidden = jobs.length > 0;
  };

  async function poll() {
    if (!key()) {
      askForKey("Enter your API key to see your jobs.");
      return;
    }
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
