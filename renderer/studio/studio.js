// mms-renderer studio: the gallery and upload, and the router to the editor (editor.js).
// Plain JavaScript modules against the service's own API; no build step, no dependencies,
// no inline scripts or handlers (a strict Content-Security-Policy holds).
"use strict";

import { auth, el, keyInput } from "./page.js";
import { showEditor } from "./editor.js";

const app = document.getElementById("app");
const studio = { lastPreview: null, refresh: null };
window.studio = studio;

keyInput.value = sessionStorage.getItem("apiKey") || "";
keyInput.addEventListener("input", () => {
  sessionStorage.setItem("apiKey", keyInput.value.trim()); // this tab only, never persisted
  if (studio.refresh) studio.refresh();
});

function route() {
  const match = location.hash.match(/^#\/t\/([a-z0-9_-]+)$/);
  studio.refresh = null;
  if (match) showEditor(app, studio, match[1]);
  else showGallery();
}
window.addEventListener("hashchange", route);

async function showGallery() {
  app.replaceChildren(document.getElementById("gallery").content.cloneNode(true));
  const listing = await (await fetch("/v1/templates")).json();
  const cards = document.getElementById("cards");
  for (const t of listing.templates) {
    cards.append(el("a", { class: "card", href: "#/t/" + t.name, "data-template": t.name },
      el("img", { src: `/v1/templates/${t.name}/sample.jpg?v=${t.version}`, alt: `${t.name} with sample values`, loading: "lazy" }),
      el("b", { text: t.name }),
      el("span", { class: "muted", text: `${t.width}x${t.height} · ${t.format} · ${Math.round(t.budget / 1000)} KB` })));
  }
  for (const broken of listing.errors) {
    cards.append(el("div", { class: "card", text: "broken: " + broken.error }));
  }
  document.getElementById("upload").addEventListener("submit", upload);
}

async function upload(event) {
  event.preventDefault();
  const file = document.getElementById("upload-file").files[0];
  const result = document.getElementById("upload-result");
  if (!file) return;
  const response = await fetch("/v1/templates", {
    method: "POST", headers: { ...auth(), "Content-Type": "application/zip" }, body: file,
  });
  const body = await response.json();
  const report = body.lint || (body.error && body.error.lint);
  result.replaceChildren(el("li", { class: response.ok ? "" : "error",
    text: response.ok ? `stored ${body.template} (version ${body.version})` : body.error.message }));
  for (const f of (report ? report.findings : [])) {
    result.append(el("li", { class: f.severity, text: `${f.rule}: ${f.message}` }));
  }
  if (response.ok) showGallery();
}

route();
