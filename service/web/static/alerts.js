// "Save this search" (search page) and the Alerts page. Alerts are private to the key this browser signed in with:
// requests go with the sign-in cookie and the page's CSRF token (app.js's sessionFetch), never with a key.
// Everything shown is set with textContent, never as markup.
const SHOWN_MATCHES = 20;

const keyed = (url, options = {}) => sessionFetch(url, { ...options, cache: "no-store" });
const reason = async (response) => {
  const answer = await response.json().catch(() => ({}));
  return answer.error ? answer.error.message : `the service answered ${response.status}`;
};

// The webhook secret in a field of its own (selectable whole, never broken at a hyphen) with a copy button.
const secretField = (secret) => {
  const box = document.createElement("span"); // inside the status paragraph
  box.className = "webhook-secret-box";
  const label = document.createElement("label");
  label.textContent = "Webhook secret, shown this once (deliveries are signed with it) ";
  const field = document.createElement("input");
  Object.assign(field, { readOnly: true, value: secret, className: "webhook-secret", spellcheck: false });
  field.setAttribute("autocomplete", "off");
  label.append(field);
  const copy = document.createElement("button");
  copy.type = "button";
  copy.textContent = "Copy secret";
  const copied = document.createElement("span");
  copied.setAttribute("role", "status");
  copy.addEventListener("click", async () => {
    field.select();
    try {
      await navigator.clipboard.writeText(secret);
      copied.textContent = " Copied.";
    } catch {
      copied.textContent = " Selected: copy it with Ctrl+C.";
    }
  });
  box.append(label, " ", copy, copied);
  return box;
};

// Search page: the form carries the search (query and filters, as the API names them) in data-search.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("save-search-form");
  if (!form) return;
  form.hidden = false;
  const status = document.getElementById("save-search-status");
  const say = (text, isError) => {
    status.textContent = text;
    status.classList.toggle("error", Boolean(isError));
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const search = JSON.parse(form.dataset.search);
    const body = { name: form.querySelector("[name=name]").value.trim(), ...search };
    const webhook = form.querySelector("[name=webhook_url]").value.trim();
    if (webhook) body.webhook_url = webhook;
    if (form.querySelector("[name=backfill]").checked) body.backfill = true;
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    say("Saving…", false);
    let response;
    try {
      response = await keyed("/api/v1/alerts", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
    } catch {
      say("The service cannot be reached; try again.", true);
      button.disabled = false;
      return;
    }
    button.disabled = false;
    if (!response.ok) {
      say(`Not saved: ${await reason(response)}.`, true);
      if (response.status === 401 || response.status === 403) status.append(" ", signInAgainLink());
      return;
    }
    const alert = await response.json();
    const link = document.createElement("a");
    link.href = `/alerts?highlight=${encodeURIComponent(alert.id)}`;
    link.textContent = "See it on the Alerts page";
    say(`Saved “${alert.name}”. `, false);
    status.append(link);
    if (alert.warning) {
      const warning = document.createElement("span");
      warning.className = "save-warning";
      warning.textContent = `Note: ${alert.warning}.`;
      status.append(warning);
    }
    if (alert.webhook_secret) status.append(secretField(alert.webhook_secret));
  });
});

// Alerts page: every alert of the key with its matches, the count of those new since the last visit, and its feed.
document.addEventListener("DOMContentLoaded", () => {
  const list = document.getElementById("alerts");
  if (!list || list.dataset.signedIn !== "yes") return; // the page asks to sign in, in its markup
  const message = document.getElementById("alerts-message");
  const empty = document.getElementById("alerts-empty");
  const alertTemplate = document.getElementById("alert-template");
  const matchTemplate = document.getElementById("match-template");
  const say = (text) => {
    message.textContent = text;
    message.hidden = !text;
  };
  const text = (node, selector, value) => { node.querySelector(selector).textContent = String(value); };
  // One date format on the page, as the start and story pages write it (storypage.ago): "3 hours ago", the
  // instant itself in the <time> element's datetime and, on hover, in UTC.
  const ago = (iso) => {
    const seconds = (Date.now() - new Date(iso).getTime()) / 1000;
    if (Number.isNaN(seconds)) return "no date";
    if (seconds < 0) return "in the future";
    const units = [["year", 365 * 86400], ["month", 30 * 86400], ["day", 86400], ["hour", 3600], ["minute", 60]];
    for (const [unit, length] of units) {
      if (seconds >= length) {
        const count = Math.floor(seconds / length);
        return `${count} ${unit}${count === 1 ? "" : "s"} ago`;
      }
    }
    return "just now";
  };
  const setTime = (node, iso) => {
    node.dateTime = iso;
    node.title = `${new Date(iso).toISOString().slice(0, 16).replace("T", " ")} UTC`;
    node.textContent = ago(iso);
  };
  // A match's webhook delivery, in words: delivered, retrying (with the last error) or given up.
  const deliveryText = (webhook) => {
    if (!webhook) return "";
    const tried = webhook.attempts ? ` after ${webhook.attempts} attempt${webhook.attempts === 1 ? "" : "s"}` : "";
    if (webhook.state === "delivered") return ` · webhook: delivered${tried}`;
    if (webhook.state === "dropped") return " · webhook: not sent (the alert was paused)";
    if (webhook.state === "failed") return ` · webhook: given up${tried}${webhook.last_error ? ` (${webhook.last_error})` : ""}`;
    return ` · webhook: ${webhook.attempts ? `retrying${tried}${webhook.last_error ? ` (${webhook.last_error})` : ""}` : "waiting to be sent"}`;
  };

  const askToSignIn = (why) => {
    say(why);
    message.append(" ", signInAgainLink());
  };

  // A keyed GET's JSON, or null after saying why not.
  const getJson = async (url) => {
    let response;
    try {
      response = await keyed(url);
    } catch {
      say("The service cannot be reached; reload the page to try again.");
      return null;
    }
    if (response.status === 401 || response.status === 403) {
      askToSignIn("This browser is no longer signed in (signed out elsewhere, or the sign-in expired).");
      return null;
    }
    if (!response.ok) {
      say(`Not shown: ${await reason(response)}.`);
      return null;
    }
    return response.json();
  };

  const matchRow = (match, lastSeen) => {
    const row = matchTemplate.content.firstElementChild.cloneNode(true);
    const link = row.querySelector(".title");
    link.href = `/articles/${encodeURIComponent(match.url_article_id)}`;
    link.textContent = match.title_en || match.title_ar || match.story_id;
    text(row, ".outlets", match.outlets.join(", ") || "unknown outlet");
    const titleAr = row.querySelector(".title-ar");
    titleAr.textContent = match.title_en && match.title_ar ? match.title_ar : "";
    titleAr.hidden = !titleAr.textContent;
    const date = row.querySelector(".date");
    if (match.published) setTime(date, match.published);
    else date.textContent = "no date";
    setTime(row.querySelector(".matched"), match.matched_at);
    const story = row.querySelector(".story");
    story.href = `/stories/${encodeURIComponent(match.story_id)}`;
    const count = match.article_ids.length;
    story.textContent = count > 1 ? `the story (${count} articles)` : "the story";
    text(row, ".webhook-state", deliveryText(match.webhook));
    row.querySelector(".new-badge").hidden = Boolean(lastSeen) && match.matched_at <= lastSeen;
    row.querySelector(".backfill").hidden = !match.backfill;
    const snippet = match.snippet;
    row.querySelector(".snippet").hidden = !snippet;
    if (snippet) {
      const by = { meaning: "Matched in meaning:", lead: "Its lead:" };
      text(row, ".snippet-by", by[snippet.by] || "Matched by its words:");
      text(row, ".snippet-ar", snippet.ar);
      text(row, ".snippet-en", snippet.en);
    }
    return row;
  };

  const filtersText = (filters) => {
    const parts = Object.entries(filters || {})
      .filter(([, value]) => value && value.length !== 0 && value !== "auto")
      .map(([name, value]) => `${name}: ${[].concat(value).join(", ")}`);
    return parts.length ? ` (${parts.join("; ")})` : "";
  };

  const showAlert = async (alert) => {
    const row = alertTemplate.content.firstElementChild.cloneNode(true);
    row.dataset.alert = alert.id;
    row.classList.toggle("highlight", alert.id === list.dataset.highlight);
    text(row, ".name", alert.name);
    showWhat(row, alert);
    setTime(row.querySelector(".created"), alert.created);
    const feed = row.querySelector(".feed");
    feed.href = `/alerts/${encodeURIComponent(alert.id)}/feed.atom?token=${encodeURIComponent(alert.feed_token)}`;
    feed.setAttribute("aria-label", `Atom feed of ${alert.name}`);
    text(row, ".webhook", alert.webhook_url ? ` · webhook to ${alert.webhook_url}` : "");
    showPaused(row, alert);
    row.querySelector(".pause-alert").addEventListener("click", () => togglePause(alert.id, row));
    const form = row.querySelector(".edit-alert-form");
    form.elements.name.value = alert.name;
    form.elements.query.value = alert.query;
    form.elements.digest_email.value = alert.digest_email || "";
    form.elements.digest_cadence.value = alert.digest_cadence || "off";
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      editAlert(alert.id, row, form);
    });
    const remove = row.querySelector(".delete-alert");
    remove.setAttribute("aria-label", `Delete ${alert.name}`);
    remove.addEventListener("click", () => deleteAlert(alert, row));
    list.append(row);
    const base = `/api/v1/alerts/${encodeURIComponent(alert.id)}`;
    const since = alert.last_seen ? `&since=${encodeURIComponent(alert.last_seen)}` : "";
    const [page, fresh] = await Promise.all([
      getJson(`${base}/matches?size=${SHOWN_MATCHES}`),
      getJson(`${base}/matches?size=1${since}`),
    ]);
    if (!page || !fresh) return;
    text(row, ".new-count", `· ${fresh.total} new since your last visit`);
    const states = page.matches.map((match) => match.webhook && match.webhook.state).filter(Boolean);
    if (states.length) {
      const count = (state) => states.filter((s) => s === state).length;
      text(row, ".webhook-summary", ` (of the newest ${states.length}: ${count("delivered")} delivered, `
        + `${count("pending")} retrying or waiting, ${count("failed")} given up)`);
    }
    row.querySelector(".alert-matches").replaceChildren(...page.matches.map((m) => matchRow(m, alert.last_seen)));
    row.querySelector(".no-matches").hidden = page.total > 0;
    const more = row.querySelector(".more-matches");
    more.hidden = page.total <= page.matches.length;
    more.textContent = `The newest ${page.matches.length} of ${page.total} stories; the feed and the API list them all.`;
    await keyed(`${base}/seen`, { method: "POST" }).catch(() => {}); // the next visit counts from now
  };

  // What the alert follows: its query and filters, or, without words, its filters in the server's words.
  const showWhat = (row, alert) => {
    text(row, ".query", alert.query);
    text(row, ".alert-filters", filtersText(alert.filters));
    text(row, ".watching", alert.watching || "");
    row.querySelector(".query-words").hidden = Boolean(alert.watching);
    row.querySelector(".watching").hidden = !alert.watching;
  };

  const cadenceWords = { hourly: "hourly", daily: "daily" };
  const showPaused = (row, alert) => {
    const cadence = cadenceWords[alert.digest_cadence];
    text(row, ".digest-state", cadence && alert.digest_email
      ? `E-mail digest: ${cadence} to ${alert.digest_email}${alert.paused ? " (none while paused)" : ""}`
      : "No e-mail digest.");
    row.dataset.paused = alert.paused ? "yes" : "no";
    row.dataset.name = alert.name;
    row.querySelector(".paused-badge").hidden = !alert.paused;
    row.querySelector(".paused-note").hidden = !alert.paused;
    const button = row.querySelector(".pause-alert");
    button.textContent = alert.paused ? "Resume" : "Pause";
    button.setAttribute("aria-label", `${alert.paused ? "Resume" : "Pause"} ${alert.name}`);
  };

  // A keyed PATCH of the alert; the changed alert, or null after saying why not (through tell).
  const patchAlert = async (alertId, changes, tell) => {
    let response;
    try {
      response = await keyed(`/api/v1/alerts/${encodeURIComponent(alertId)}`, {
        method: "PATCH",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(changes),
      });
    } catch {
      tell("The service cannot be reached; nothing was changed.");
      return null;
    }
    if (!response.ok) {
      tell(`Not changed: ${await reason(response)}.`);
      return null;
    }
    return response.json();
  };

  const togglePause = async (alertId, row) => {
    const pausing = row.dataset.paused !== "yes";
    const alert = await patchAlert(alertId, { paused: pausing }, say);
    if (!alert) return;
    showPaused(row, alert);
    say(`${pausing ? "Paused" : "Resumed"} “${alert.name}”.`);
  };

  const editAlert = async (alertId, row, form) => {
    const status = form.querySelector(".edit-status");
    const changes = { name: form.elements.name.value.trim() };
    const query = form.elements.query.value.trim();
    if (query !== row.querySelector(".query").textContent) changes.query = query; // spares a new translation
    changes.digest_cadence = form.elements.digest_cadence.value;
    changes.digest_email = form.elements.digest_email.value.trim() || null;
    status.textContent = "Saving…";
    const alert = await patchAlert(alertId, changes, (why) => { status.textContent = why; });
    if (!alert) return;
    text(row, ".name", alert.name);
    showWhat(row, alert);
    showPaused(row, alert);
    row.querySelector(".feed").setAttribute("aria-label", `Atom feed of ${alert.name}`);
    row.querySelector(".delete-alert").setAttribute("aria-label", `Delete ${alert.name}`);
    status.textContent = `Saved: “${alert.name}”.${alert.warning ? ` Note: ${alert.warning}.` : ""}`;
  };

  const deleteAlert = async (alert, row) => {
    const name = row.dataset.name; // as renamed on this page
    if (!window.confirm(`Delete the alert “${name}”? Its matches and its feed go with it.`)) return;
    let response;
    try {
      response = await keyed(`/api/v1/alerts/${encodeURIComponent(alert.id)}`, { method: "DELETE" });
    } catch {
      say("The service cannot be reached; the alert was not deleted.");
      return;
    }
    if (!response.ok && response.status !== 404) { // a 404: deleted already, elsewhere
      say(`Not deleted: ${await reason(response)}.`);
      return;
    }
    row.remove();
    empty.hidden = list.children.length > 0;
    say(`Deleted “${name}”.`);
  };

  async function load() {
    const answer = await getJson("/api/v1/alerts");
    if (!answer) return;
    list.replaceChildren();
    empty.hidden = answer.alerts.length > 0;
    await Promise.all(answer.alerts.map(showAlert));
    list.dataset.loaded = "yes"; // every alert shown and marked seen
  }

  load();
});
