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
