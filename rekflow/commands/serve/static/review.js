// The review page: Approve and Reject post the decision (with the page's CSRF token: search.js's rekflow.post)
// and show the page again, or say why the decision was refused (decided already, unknown).
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const error = document.getElementById("review-error");
  for (const button of document.querySelectorAll(".review button[data-decision]")) {
    button.addEventListener("click", async () => {
      const card = button.closest(".review");
      for (const other of card.querySelectorAll("button")) other.disabled = true;
      const answer = await window.rekflow.post("/api/review", {
        asset: card.dataset.asset,
        decision: button.dataset.decision,
        note: card.querySelector(".note").value,
      });
      if (answer.ok) {
        window.location.reload();
        return;
      }
      const refused = await answer.json().catch(() => ({}));
      error.textContent = (refused.error && refused.error.message) || `refused (${answer.status})`;
      error.hidden = false;
      for (const other of card.querySelectorAll("button")) other.disabled = false;
    });
  }
});
