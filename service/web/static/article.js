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

  const visibleCell = (match) =>
    [...match.querySelectorAll("td, p.en")].find((cell) => cell.offsetParent !== null) || match;

  const show = (index) => {
    if (current !== null) matches[current].classList.remove("current-match");
    current = (index + matches.length) % matches.length; // past the last comes the first again
    const match = matches[current];
    match.classList.add("current-match");
    match.scrollIntoView({ block: "center" });
    const cell = visibleCell(match);
    if (!cell.hasAttribute("tabindex")) cell.setAttribute("tabindex", "-1");
    cell.focus({ preventScroll: true });
    count.textContent = `Match ${current + 1} of ${matches.length} · ${summary}`;
  };

  nav.hidden = false;
  document.getElementById("previous-match").addEventListener("click", () => show(current === null ? -1 : current - 1));
  document.getElementById("next-match").addEventListener("click", () => show(current === null ? 0 : current + 1));
}
