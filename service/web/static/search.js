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
