// The search page: runs the query through GET /api/search and shows each hit with the boxes of what matched,
// its evidence, and for a video the player at the first matching moment with every moment to seek to.
"use strict";

const rekflow = {
  // For pages that change state (the review page): every POST carries the page's CSRF token (csrf.py).
  post(url, data) {
    const token = document.querySelector('meta[name="csrf-token"]').content;
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": token },
      body: JSON.stringify(data),
    });
  },
};
window.rekflow = rekflow;

function element(tag, className, text) {
  const made = document.createElement(tag);
  if (className) made.className = className;
  if (text !== undefined) made.textContent = text;
  return made;
}

function seconds(value) {
  return `${Number(value.toFixed(3))} s`;
}

function describe(evidence) {
  const name = evidence.kind === "text" ? `"${evidence.name}"` : evidence.name;
  const confidence = evidence.confidence ? ` ${evidence.confidence.toFixed(1)}%` : "";
  return `${evidence.kind} ${name}${confidence}`;
}

function drawBoxes(holder, boxes) {
  for (const old of holder.querySelectorAll(".box")) old.remove();
  for (const box of boxes) {
    const drawn = element("div", `box box-${box.kind}`);
    drawn.title = box.title;
    drawn.dataset.kind = box.kind;
    drawn.style.left = `${box.left}%`;
    drawn.style.top = `${box.top}%`;
    drawn.style.width = `${box.width}%`;
    drawn.style.height = `${box.height}%`;
    holder.append(drawn);
  }
}

function frame(hit) {
  const holder = element("div", "frame");
  const image = element("img", "thumb");
  image.src = hit.thumbnail;
  image.alt = hit.key;
  holder.append(image);
  drawBoxes(holder, hit.boxes);
  return holder;
}

// A video's boxes are those of the frame the player shows: the moment of the match within half a second of it
// (Rekognition samples a video's frames; between two moments nothing is drawn).
const NEAR_SECONDS = 0.5;

function videoFrame(hit, video) {
  const holder = element("div", "frame");
  holder.append(video);
  const follow = () => {
    const near = hit.momentBoxes.find((m) => Math.abs(m.seconds - video.currentTime) <= NEAR_SECONDS);
    drawBoxes(holder, near ? near.boxes : []);
    holder.dataset.boxesAt = near ? near.seconds : "";
  };
  for (const event of ["loadedmetadata", "timeupdate", "seeked"]) video.addEventListener(event, follow);
  return holder;
}

function player(hit) {
  const video = element("video", "player");
  video.controls = true;
  video.preload = "auto";
  video.muted = true;
  if (hit.thumbnail) video.poster = hit.thumbnail;
  // A media fragment: the player starts at the first moment of the match (https://www.w3.org/TR/media-frags/).
  video.src = hit.atSeconds === null ? hit.media : `${hit.media}#t=${hit.atSeconds}`;
  return video;
}

function moments(evidence, video) {
  const list = element("ol", "moments");
  for (const moment of evidence.moments) {
    const item = element("li");
    const shot = moment.shot ? ` (shot ${moment.shot.index + 1})` : "";
    const button = element("button", "moment", seconds(moment.seconds) + shot);
    button.type = "button";
    button.dataset.seconds = moment.seconds;
    button.addEventListener("click", () => {
      video.currentTime = moment.seconds;
    });
    item.append(button);
    list.append(item);
  }
  return list;
}

function card(hit) {
  const article = element("article", "hit");
  article.dataset.key = hit.key;
  article.append(element("h2", "", hit.key));
  const what = [hit.kind, hit.format, hit.status];
  if (hit.durationSeconds !== null) what.push(seconds(hit.durationSeconds));
  article.append(element("p", "what", what.join(", ")));
  let video = null;
  if (hit.kind === "video" && hit.media) {
    video = player(hit);
    article.append(videoFrame(hit, video));
  } else if (hit.thumbnail) {
    article.append(frame(hit));
  } else {
    article.append(element("p", "no-preview", "no preview"));
  }
  const evidence = element("ul", "evidence");
  for (const found of hit.evidence) {
    const item = element("li", `evidence-${found.kind}`, describe(found));
    if (video && found.moments.length) item.append(moments(found, video));
    evidence.append(item);
  }
  article.append(evidence);
  return article;
}

let latest = 0; // the answer to the last query asked wins, whatever order the answers come back in

async function run(query, sort) {
  const asked = ++latest;
  const error = document.getElementById("error");
  const summary = document.getElementById("summary");
  const hits = document.getElementById("hits");
  const params = new URLSearchParams({ q: query, sort });
  const response = await fetch(`/api/search?${params}`);
  const answer = await response.json();
  if (asked !== latest) return;
  hits.replaceChildren();
  if (!response.ok) {
    // The parser's message names the bad token, with the query and a caret under it.
    error.textContent = answer.error.message;
    error.dataset.position = answer.error.position ?? "";
    error.hidden = false;
    summary.textContent = "";
    document.body.dataset.answered = query;
    return;
  }
  error.hidden = true;
  error.textContent = "";
  hits.append(...answer.hits.map(card));
  const count = answer.hits.length;
  summary.textContent = count ? `${count} asset(s)${answer.more ? " (more match)" : ""}` : "no assets match";
  document.body.dataset.answered = query;
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("search");
  if (!form) return; // a page that loads this file for rekflow.post only (/review)
  const input = document.getElementById("q");
  const sort = document.getElementById("sort");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const params = new URLSearchParams({ q: input.value, sort: sort.value });
    history.replaceState(null, "", `/?${params}`);
    run(input.value, sort.value);
  });
  sort.addEventListener("change", () => form.requestSubmit());
  run(input.value, sort.value); // an empty query lists every asset, the latest analysed first
  input.focus();
});
