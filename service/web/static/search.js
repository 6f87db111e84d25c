// Search page: a filter applies as soon as it changes (a checkbox, a menu, a date), so no Search press is needed.
// Without this script the page still works: the Apply button submits the same form.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("search-form");
  const apply = document.getElementById("apply-filters");
  if (!form || !apply) return;
  apply.hidden = true;
  // On a phone the results come first: the filters fold away unless one is chosen (the summary says how many).
  const panel = document.getElementById("filter-panel");
  const narrow = window.matchMedia("(max-width: 50rem)").matches;
  if (panel && narrow && panel.dataset.chosen === "0") panel.open = false;
  const query = form.querySelector("[name=q]");
  const search = () => {
    if (query.value.trim()) form.requestSubmit(); // nothing to search yet: the choice waits for a query
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
    search();
  });
  document.addEventListener("focusout", (event) => {
    if (event.target !== dateChanged) return;
    dateChanged = null;
    search();
  });
});
