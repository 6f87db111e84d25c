// Search page: a filter applies as soon as it changes (a checkbox, a menu, a date), so no Search press is needed.
// Without this script the page still works: the Apply button submits the same form.
document.addEventListener("DOMContentLoaded", () => {
  // The focus request has done its work (the server gave the changed control autofocus): keep it out of the
  // address, so a bookmark or a copied link does not carry it.
  const address = new URL(window.location.href);
  if (address.searchParams.has("focus")) {
    address.searchParams.delete("focus");
    history.replaceState(history.state, "", address);
  }
  setUpResultShortcuts();
  setUpTimelineArrows();
  const form = document.getElementById("search-form");
  const apply = document.getElementById("apply-filters");
  if (!form || !apply) return;
  apply.hidden = true;
  // On a phone the results come first: the filters fold away unless one is chosen (the summary says how many).
  const panel = document.getElementById("filter-panel");
  const narrow = window.matchMedia("(max-width: 50rem)").matches;
  // It stays open when the page was reloaded for a change made in it: the changed control has the focus.
  if (panel && narrow && panel.dataset.chosen === "0" && panel.dataset.focused === "0") panel.open = false;
  const query = form.querySelector("[name=q]");
  // The changed control is named in the request (focus=…), so the new page gives it the focus back.
  const focus = document.createElement("input");
  focus.type = "hidden";
  focus.name = "focus";
  const search = (field) => {
    focus.value = field.dataset.focus || field.name;
    form.append(focus);
    form.requestSubmit();
  };
  // A date typed digit by digit changes at each complete value: it applies when the field is left (or on Enter).
  let dateChanged = null;
  document.addEventListener("change", (event) => {
    const field = event.target;
    if (field.form !== form || field === query) return; // the query itself waits for Enter or the Search button
    if ((field.type === "date" || field.type === "text") && document.activeElement === field) {
      dateChanged = field;
      return;
    }
    search(field);
  });
  document.addEventListener("focusout", (event) => {
    if (event.target !== dateChanged) return;
    dateChanged = null;
    search(event.target);
  });
});

// The timeline: pressing on a bar and dragging across others searches their whole range (a brushed range); a
// plain click still follows the bar's own link. Without this script the bars, the presets and the From and To
// fields narrow the dates as before. Touch drags scroll the bars instead.
document.addEventListener("DOMContentLoaded", () => {
  const strip = document.getElementById("timeline-bars");
  if (!strip) return;
  const bars = [...strip.querySelectorAll(".bar")];
  const link = strip.querySelector("a.bar");
  // On a phone the bars scroll in their box: bring the chosen range into view rather than leave it off-screen.
  const chosen = strip.querySelector(".bar[aria-current]");
  if (chosen && strip.scrollWidth > strip.clientWidth) {
    const offset = chosen.getBoundingClientRect().left - strip.getBoundingClientRect().left;
    strip.scrollLeft += offset - strip.clientWidth / 2;
  }
  let first = null;
  let last = null;
  let dragged = false;
  const barAt = (event) => {
    const found = document.elementFromPoint(event.clientX, event.clientY);
    return found ? found.closest("#timeline-bars .bar") : null;
  };
  const span = () => {
    const [a, b] = [bars.indexOf(first), bars.indexOf(last)].sort((x, y) => x - y);
    return bars.slice(a, b + 1);
  };
  const mark = () => {
    const chosen = new Set(span());
    for (const bar of bars) bar.classList.toggle("brushed", chosen.has(bar));
  };
  strip.addEventListener("pointerdown", (event) => {
    if (event.pointerType === "touch" || event.button !== 0) return;
    first = last = barAt(event);
    dragged = false;
    if (first) event.preventDefault(); // no text selection while brushing
  });
  strip.addEventListener("pointermove", (event) => {
    if (!first) return;
    const bar = barAt(event);
    if (bar && bar !== last) {
      last = bar;
      dragged = true;
      mark();
    }
  });
  document.addEventListener("pointerup", () => {
    if (!first) return;
    const chosen = span();
    first = last = null;
    if (!dragged || chosen.length < 2) return;
    const url = new URL(link.href);
    url.searchParams.set("from", chosen[0].dataset.from);
    url.searchParams.set("to", chosen[chosen.length - 1].dataset.to);
    window.location.assign(url);
  });
  strip.addEventListener("click", (event) => {
    if (dragged) event.preventDefault(); // the drag ended on a bar: the range, not that bar
  });
});

// j and k move the focus to the next and previous result's title link (issue 21 item 18); the note above the
// results says so. Typing in a field, or a key held with Ctrl, Alt or Meta, is left alone.
function setUpResultShortcuts() {
  const hits = [...document.querySelectorAll(".hits > .hit")];
  const note = document.getElementById("keyboard-shortcuts");
  if (!hits.length || !note) return;
  note.hidden = false;
  document.addEventListener("keydown", (event) => {
    if (!isPlainLetter(event) || (event.key !== "j" && event.key !== "k")) return;
    const current = hits.findIndex((hit) => hit.contains(document.activeElement));
    let next;
    if (current === -1) next = event.key === "j" ? 0 : hits.length - 1;
    else next = Math.min(hits.length - 1, Math.max(0, current + (event.key === "j" ? 1 : -1)));
    const link = hits[next].querySelector("h2 a");
    if (!link) return;
    event.preventDefault();
    link.focus({ preventScroll: true });
    link.scrollIntoView({ block: "nearest" });
  });
}

// The timeline's bars are one tab stop, not one per month: Tab reaches the first bar, the arrow keys (and Home,
// End) move between them. Without this script each bar is its own tab stop, as links are.
function setUpTimelineArrows() {
  const bars = [...document.querySelectorAll(".timeline a.bar")];
  if (bars.length < 2) return;
  bars.forEach((bar, index) => bar.setAttribute("tabindex", index === 0 ? "0" : "-1"));
  const moves = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 };
  for (const [index, bar] of bars.entries()) {
    bar.addEventListener("keydown", (event) => {
      let next;
      if (event.key in moves) next = Math.min(bars.length - 1, Math.max(0, index + moves[event.key]));
      else if (event.key === "Home") next = 0;
      else if (event.key === "End") next = bars.length - 1;
      else return;
      event.preventDefault();
      bars[index].setAttribute("tabindex", "-1");
      bars[next].setAttribute("tabindex", "0");
      bars[next].focus();
    });
  }
}
