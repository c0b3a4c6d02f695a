// The review page: Approve and Reject post the decision (with the page's CSRF token: search.js's rekflow.post)
// and show the page again, or say why the decision was refused (decided already, unknown).
"use strict";

// A picture that does not load says why it may not have: offline, the folder no longer holds that version (a newer
// analysis of the key); on a stack, the user's credentials may not read it (a held upload: ReviewAdminRoleArn only).
const UNLOADED = "This picture could not be loaded: the file is no longer the analysed version, or your credentials "
  + "may not read it (a held upload is readable by the review admin role only).";

function sayWhenUnloaded(picture) {
  const say = () => {
    const note = document.createElement("p");
    note.className = "unshown";
    note.textContent = UNLOADED;
    picture.replaceWith(note);
  };
  const failed = picture.tagName === "VIDEO" ? picture.error !== null : picture.complete && picture.naturalWidth === 0;
  if (failed) say();
  else picture.addEventListener("error", say);
}

document.addEventListener("DOMContentLoaded", () => {
  for (const picture of document.querySelectorAll(".review img, .review video")) sayWhenUnloaded(picture);
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
