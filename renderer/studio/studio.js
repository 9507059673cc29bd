// mms-renderer studio: the gallery, a live preview form per template, lint, upload.
// Plain JavaScript against the service's own API; no build step, no dependencies.
"use strict";

const app = document.getElementById("app");
const keyInput = document.getElementById("api-key");
keyInput.value = sessionStorage.getItem("apiKey") || "";
keyInput.addEventListener("input", () => {
  sessionStorage.setItem("apiKey", keyInput.value.trim()); // this tab only, never persisted
  if (studio.refresh) studio.refresh();
});

const studio = { lastPreview: null, refresh: null };
window.studio = studio;

function auth() {
  return { Authorization: "Bearer " + keyInput.value.trim() };
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "text") node.textContent = value;
    else if (name === "style") node.style.cssText = value; // CSSOM: allowed by the CSP
    else node.setAttribute(name, value);
  }
  node.append(...children);
  return node;
}

async function errorText(response) {
  try {
    const body = await response.json();
    return body.error ? body.error.message : response.statusText;
  } catch {
    return response.statusText;
  }
}

function route() {
  const match = location.hash.match(/^#\/t\/([a-z0-9_-]+)$/);
  studio.refresh = null;
  if (match) showEditor(match[1]);
  else showGallery();
}
window.addEventListener("hashchange", route);

async function showGallery() {
  app.replaceChildren(document.getElementById("gallery").content.cloneNode(true));
  const listing = await (await fetch("/v1/templates")).json();
  const cards = document.getElementById("cards");
  for (const t of listing.templates) {
    cards.append(el("a", { class: "card", href: "#/t/" + t.name, "data-template": t.name },
      el("img", { src: `/v1/templates/${t.name}/sample.jpg?v=${t.version}`, alt: t.name, loading: "lazy" }),
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

async function showEditor(name) {
  app.replaceChildren(document.getElementById("editor").content.cloneNode(true));
  const response = await fetch("/v1/templates/" + name);
  if (!response.ok) {
    app.replaceChildren(el("p", { class: "message", text: await errorText(response) }));
    return;
  }
  const template = await response.json();
  document.getElementById("title").textContent = template.name;
  document.getElementById("description").textContent = template.description;
  document.getElementById("format").value = template.format;
  const form = document.getElementById("fields");
  for (const [field, spec] of Object.entries(template.fields)) {
    const input = spec.choices
      ? el("select", { name: field }, ...spec.choices.map((c) => el("option", { text: c })))
      : el("input", { name: field, type: spec.type === "int" ? "number" : "text" });
    if (spec.max_length) input.setAttribute("maxlength", spec.max_length);
    form.append(el("label", { text: `${field} (${spec.type}${spec.live ? ", live" : ""})` }, input));
  }
  const fill = (which) => {
    for (const [field, spec] of Object.entries(template.fields)) {
      form.elements[field].value = spec[which] ?? spec.default ?? "";
    }
  };
  fill("sample");
  document.getElementById("sample").onclick = () => { fill("sample"); schedule(); };
  document.getElementById("extreme").onclick = () => { fill("extreme"); schedule(); };
  document.getElementById("copy-url").onclick = () => copyUrl(template);
  let timer = null;
  const schedule = () => { clearTimeout(timer); timer = setTimeout(() => preview(template), 300); };
  form.addEventListener("input", schedule);
  document.getElementById("format").addEventListener("change", schedule);
  document.getElementById("budget").addEventListener("input", schedule);
  studio.refresh = () => preview(template);
  preview(template);
  showLint(template);
}

function values() {
  const form = document.getElementById("fields");
  const out = {};
  for (const input of form.elements) if (input.value !== "") out[input.name] = input.value;
  return out;
}

let latest = 0;
async function preview(template) {
  const message = document.getElementById("message");
  if (!keyInput.value.trim()) {
    message.textContent = "Enter an API key (top right) to preview.";
    return;
  }
  const ticket = ++latest;
  const body = { fields: values(), format: document.getElementById("format").value };
  const budget = document.getElementById("budget").value.trim();
  if (budget) body.budget = budget;
  const response = await fetch(`/v1/templates/${template.name}/preview`, {
    method: "POST", headers: { ...auth(), "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  if (ticket !== latest) return; // a newer preview is on its way
  if (!response.ok) {
    message.textContent = await errorText(response);
    return;
  }
  message.textContent = "";
  const blob = await response.blob();
  const digest = Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", await blob.arrayBuffer())))
    .map((b) => b.toString(16).padStart(2, "0")).join("");
  if (ticket !== latest) return;
  const url = URL.createObjectURL(blob);
  for (const id of ["preview", "phone-ios", "phone-android"]) {
    const img = document.getElementById(id);
    if (img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
    img.src = url;
  }
  const img = document.getElementById("preview");
  img.dataset.sha256 = digest;
  img.dataset.values = JSON.stringify(body.fields);
  const h = (name) => response.headers.get(name);
  const bytes = Number(h("X-Render-Bytes")), limit = Number(h("X-Render-Budget"));
  const setting = h("X-Render-Quality") ? `quality ${h("X-Render-Quality")}` : `${h("X-Render-Colors") || "all"} colours`;
  document.getElementById("stats").innerHTML = "";
  document.getElementById("stats").append(
    el("span", { class: bytes > limit ? "over" : "", text: `${(bytes / 1000).toFixed(0)} KB of ${(limit / 1000).toFixed(0)} KB` }),
    ` · ${body.format} · ${setting} · ${h("X-Render-Encodes")} encodes · ${h("X-Render-Ms")} ms (${h("X-Cache")})`);
  studio.lastPreview = { sha256: digest, bytes: blob.size, values: body.fields };
  img.onload = () => drawBoxes(template);
}

let findings = [];
async function showLint(template) {
  const list = document.getElementById("findings");
  const report = await (await fetch(`/v1/templates/${template.name}/lint`)).json();
  findings = report.findings || [];
  list.replaceChildren(...(findings.length ? findings.map((f) =>
    el("li", { class: f.severity, text: `${f.rule}: ${f.message}${f.element ? " (" + f.element + ")" : ""}` }))
    : [el("li", { text: "No findings." })]));
  drawBoxes(template);
}

function drawBoxes(template) {
  const img = document.getElementById("preview");
  const boxes = document.getElementById("boxes");
  if (!img || !boxes || !img.clientWidth) return;
  const scale = img.clientWidth / template.width;
  boxes.replaceChildren(...findings.filter((f) => f.box).map((f) => {
    const [x, y, w, h] = f.box;
    return el("div", { class: "box", title: f.message,
      style: `left:${x * scale}px;top:${y * scale}px;width:${w * scale}px;height:${h * scale}px` });
  }));
}

async function copyUrl(template) {
  const output = document.getElementById("signed-url");
  const response = await fetch("/v1/urls", {
    method: "POST", headers: { ...auth(), "Content-Type": "application/json" },
    body: JSON.stringify({ template: template.name, format: document.getElementById("format").value,
      at: Math.floor(Date.now() / 1000), recipients: [values()] }),
  });
  const body = await response.json();
  const url = response.ok ? body.urls[0] : null;
  output.value = url || (body.errors && body.errors[0] ? body.errors[0].message : body.error.message);
  output.select();
  if (url && navigator.clipboard) navigator.clipboard.writeText(url).catch(() => {});
}

route();
