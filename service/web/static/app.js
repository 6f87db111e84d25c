// The pages' own API calls (jobs, alerts, ingest) go with the browser's sign-in: its HttpOnly cookie, which no
// script can read, and the session's CSRF token from the page, which every state change must carry. No key is
// ever typed into, kept by or sent from a script.
const csrfToken = () => (document.querySelector("meta[name=csrf-token]") || {}).content || "";
const sessionFetch = (url, options = {}) =>
  fetch(url, { ...options, credentials: "same-origin", headers: { ...(options.headers || {}), "X-CSRF-Token": csrfToken() } });

// Where a page sends the reader whose sign-in has ended (signed out in another tab, expired, key withdrawn).
const signInAgainLink = () => {
  const link = document.createElement("a");
  link.href = `/signin?next=${encodeURIComponent(window.location.pathname + window.location.search)}`;
  link.textContent = "Sign in again";
  return link;
};

// Sentence alignment: hovering, focusing or clicking one side highlights its counterpart in the same row.
document.addEventListener("DOMContentLoaded", () => {
  for (const row of document.querySelectorAll(".aligned tbody tr")) {
    const on = () => row.classList.add("active");
    const off = () => row.classList.remove("active");
    // the row is the tab stop (one per sentence pair); a cell takes the focus only when a script gives it
    for (const target of [row, ...row.querySelectorAll("td")]) {
      target.addEventListener("focus", on);
      target.addEventListener("blur", off);
    }
    row.addEventListener("mouseenter", on);
    row.addEventListener("mouseleave", off);
    row.addEventListener("click", () => {
      for (const other of document.querySelectorAll(".aligned tr.pinned")) other.classList.remove("pinned", "active");
      row.classList.add("pinned", "active");
    });
  }
});

// A single-letter keyboard shortcut (search.js, article.js) applies only outside fields and without modifiers.
function isPlainLetter(event) {
  if (event.defaultPrevented || event.ctrlKey || event.altKey || event.metaKey || event.isComposing) return false;
  const target = event.target;
  if (target.isContentEditable) return false;
  return !(target.closest && target.closest("input, textarea, select, [contenteditable]"));
}

// ? opens the list of keyboard shortcuts on every page (the notes beside the results and matches point to it);
// Esc, or its Close button, closes it, and the focus goes back where it was.
document.addEventListener("keydown", (event) => {
  const help = document.getElementById("shortcut-help");
  if (event.key !== "?" || !help || help.open || !isPlainLetter(event)) return;
  event.preventDefault();
  help.showModal();
});
