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

// Jobs page: poll each unfinished job's status and update its progress bar, counts, rate and ETA.
document.addEventListener("DOMContentLoaded", () => {
  for (const item of document.querySelectorAll(".job")) {
    const update = async () => {
      if (!["queued", "running", "paused"].includes(item.dataset.state)) return;
      const job = await (await fetch(`/api/v1/jobs/${item.dataset.job}`)).json();
      item.dataset.state = job.state;
      item.querySelector(".state").textContent = job.state;
      item.querySelector("progress").value = job.counts.done + job.counts.failed;
      item.querySelector(".done").textContent = job.counts.done;
      item.querySelector(".failed").textContent = job.counts.failed;
      item.querySelector(".rate").textContent = job.tokens_per_second;
      item.querySelector(".eta").textContent = job.eta_seconds ?? "—";
      const cancel = item.querySelector(".cancel");
      if (cancel && !["queued", "running", "paused"].includes(job.state)) cancel.hidden = true;
      setTimeout(update, 1000);
    };
    update();
  }
});
