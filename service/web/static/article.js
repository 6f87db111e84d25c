// Article page: step between the search query's matches; on a phone, one language at a
// time. The server marks the matches (rows or paragraphs with data-match="1", "2", …); this only moves focus.
document.addEventListener("DOMContentLoaded", () => {
  const article = document.getElementById("article");
  if (!article) return;
  setUpLanguageToggle(article);
  setUpMatchNavigation(article);
  printTheWholeArticle(article);
});

// A printed reading view holds every Arabic original, opened for the print and closed again after, as they were.
function printTheWholeArticle(article) {
  let closed = [];
  window.addEventListener("beforeprint", () => {
    closed = [...article.querySelectorAll("details:not([open])")];
    for (const details of closed) details.open = true;
  });
  window.addEventListener("afterprint", () => {
    for (const details of closed) details.open = false;
  });
}

// Below the phone breakpoint (the CSS's 50rem) the table shows one column; buttons choose which.
function setUpLanguageToggle(article) {
  const toggle = article.querySelector(".language-toggle");
  if (!toggle) return;
  article.classList.add("one-language");
  article.dataset.show = "en";
  toggle.hidden = false;
  const buttons = [...toggle.querySelectorAll("button")];
  for (const button of buttons) {
    button.addEventListener("click", () => {
      article.dataset.show = button.dataset.show;
      for (const other of buttons) other.setAttribute("aria-pressed", String(other === button));
    });
  }
}

// The page opens at its top, the title in view (issue 21 item 20); "Next match" goes to the first match, and
// "Previous match" to the last. One match needs no stepping: the "first match" link is enough.
function setUpMatchNavigation(article) {
  const matches = [...article.querySelectorAll("[data-match]")];
  const nav = article.querySelector(".match-nav");
  if (matches.length < 2 || !nav) return;
  const count = document.getElementById("match-count");
  const summary = count.textContent.replace(/\s+/g, " ").trim();
  let current = null;

  // The match itself (the row: one tab stop per sentence pair) takes the focus, and screen readers hear it is the
  // current one (aria-current) besides the ring.
  const show = (index) => {
    if (current !== null) {
      matches[current].classList.remove("current-match");
      matches[current].removeAttribute("aria-current");
    }
    current = (index + matches.length) % matches.length; // past the last comes the first again
    const match = matches[current];
    match.classList.add("current-match");
    match.setAttribute("aria-current", "true");
    match.scrollIntoView({ block: "center" });
    if (!match.hasAttribute("tabindex")) match.setAttribute("tabindex", "-1");
    match.focus({ preventScroll: true });
    count.textContent = `Match ${current + 1} of ${matches.length} · ${summary}`;
  };
  const next = () => show(current === null ? 0 : current + 1);
  const previous = () => show(current === null ? -1 : current - 1);

  nav.hidden = false;
  document.getElementById("previous-match").addEventListener("click", previous);
  document.getElementById("next-match").addEventListener("click", next);
  // n and p step like the buttons (the note under them says so), outside fields and without modifiers
  const note = document.getElementById("keyboard-shortcuts");
  if (note) note.hidden = false;
  document.addEventListener("keydown", (event) => {
    if (!isPlainLetter(event) || (event.key !== "n" && event.key !== "p")) return;
    event.preventDefault();
    if (event.key === "n") next();
    else previous();
  });
}
