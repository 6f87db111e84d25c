// The API key the writing pages ask for (ingest, jobs, alerts): in this tab's sessionStorage only, never a cookie
// or a URL, so once typed on any of them it serves every later request of the tab. One name for every page.
const API_KEY_STORAGE = "mt-api-key";
const storedApiKey = () => sessionStorage.getItem(API_KEY_STORAGE);
const keepApiKey = (key) => sessionStorage.setItem(API_KEY_STORAGE, key);
const forgetApiKey = () => sessionStorage.removeItem(API_KEY_STORAGE);

// A page's key form: on submit, keep the typed key, hide the form, clear the message and go on.
function onKeyEntered(keyForm, say, then) {
  keyForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const typed = keyForm.querySelector("input").value.trim();
    if (!typed) return;
    keepApiKey(typed);
    keyForm.hidden = true;
    say("");
    then();
  });
}

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
