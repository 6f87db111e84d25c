// Translate page: copy the English to the clipboard, or save it as a text file, paragraphs kept.
document.addEventListener("DOMContentLoaded", () => {
  const text = document.getElementById("translation-text");
  if (!text) return;
  const tools = document.querySelector(".output-tools");
  const status = document.getElementById("copy-status");
  const english = () => [...text.querySelectorAll("p")].map((p) => p.textContent.trim()).join("\n\n") + "\n";
  tools.hidden = false;

  document.getElementById("copy-translation").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(english());
      status.textContent = "Copied.";
    } catch {
      status.textContent = "The browser did not allow copying: select the text and copy it instead.";
    }
  });

  document.getElementById("download-translation").addEventListener("click", () => {
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([english()], { type: "text/plain;charset=utf-8" }));
    link.download = "translation.txt";
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  });
});
