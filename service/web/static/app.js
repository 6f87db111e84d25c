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
