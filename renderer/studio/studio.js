// mms-renderer studio: the gallery and upload, and the router to the editor (editor.js).
// Plain JavaScript modules against the service's own API; no build step, no dependencies,
// no inline scripts or handlers (a strict Content-Security-Policy holds).
"use strict";

import { auth, el, errorBody, keyInput } from "./page.js";
import { showEditor } from "./editor.js";
import { upload } from "./upload.js";

const app = document.getElementById("app");
const studio = { lastPreview: null, refresh: null, notice: null };
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
  showNotice();
  document.getElementById("upload").addEventListener("submit", (event) => {
    event.preventDefault();
    upload(document.getElementById("upload-file").files[0], document.getElementById("upload-result"), (notice) => {
      studio.notice = notice;
      showGallery();
    });
  });
}

/** What the last action did (stored, deleted), said once at the top of the gallery; a delete
 * can be undone there (the template's last version is kept). */
function showNotice() {
  const notice = studio.notice, node = document.getElementById("notice");
  studio.notice = null;
  node.hidden = !notice;
  if (!notice) return;
  node.replaceChildren(notice.text, " ");
  if (notice.open) node.append(el("a", { href: "#/t/" + notice.open, text: `Open ${notice.open}` }));
  if (notice.undo) {
    const undo = el("button", { type: "button", class: "link", text: "Undo" });
    undo.addEventListener("click", async () => {
      const { name, version } = notice.undo;
      const response = await fetch(`/v1/templates/${name}/versions/${version}/restore`, { method: "POST", headers: auth() });
      studio.notice = response.ok ? { text: `${name} is back.`, open: name } : { text: (await errorBody(response)).message };
      showGallery();
    });
    node.append(undo);
  }
}

route();
