// The editor: a form built from the manifest, a live preview (the last request wins), lint
// outlines over the image, a signed URL for the values shown.
"use strict";

import { apiKey, ask, auth, el, errorBody, keyInput } from "./page.js";
import { setupAudience } from "./audience.js";
import { setupTestSend } from "./testsend.js";
import { short, showVersions } from "./versions.js";

const NUMBERS = { int: "numeric", money: "decimal" };
let template = null;
let findings = [];
let shownBoxes = []; // [[element id, x, y, w, h]] of the text in the image shown
let controller = null; // the preview request in flight; a newer one aborts it
let shownVersion = null; // a kept version previewed instead of the one served
const $ = (id) => document.getElementById(id);

export async function showEditor(app, studio, name, note = "") {
  app.replaceChildren($("editor").content.cloneNode(true));
  shownVersion = null;
  const response = await fetch("/v1/templates/" + name);
  if (!response.ok) {
    app.replaceChildren(el("p", { class: "message", role: "alert", text: (await errorBody(response)).message }));
    return;
  }
  template = await response.json();
  $("title").textContent = template.name;
  $("description").textContent = template.description;
  $("format").value = template.format;
  const form = $("fields");
  form.append(el("datalist", { id: "timezones" },
    ...Intl.supportedValuesOf("timeZone").map((zone) => el("option", { value: zone }))));
  for (const [field, spec] of Object.entries(template.fields)) form.append(fieldControl(field, spec));
  fill("sample");
  let timer = null;
  const schedule = () => { clearTimeout(timer); timer = setTimeout(() => preview(studio), 300); };
  $("sample").addEventListener("click", () => { fill("sample"); preview(studio); });
  $("extreme").addEventListener("click", () => { fill("extreme"); preview(studio); });
  $("copy-url").addEventListener("click", copyUrl);
  form.addEventListener("input", () => { $("url-message").textContent = ""; schedule(); });
  form.addEventListener("submit", (event) => { event.preventDefault(); clearTimeout(timer); preview(studio); });
  $("format").addEventListener("change", () => { clearTimeout(timer); preview(studio); });
  $("budget").addEventListener("input", schedule);
  $("key-prompt-focus").addEventListener("click", () => keyInput.focus());
  new ResizeObserver(drawBoxes).observe($("preview"));
  const actions = {
    select(version, said = "") { // preview a kept version (null: the one served)
      shownVersion = version;
      $("version-banner").hidden = !version;
      $("version-banner-text").textContent = version
        ? `Previewing version ${short(version)}, not the one served (signed URLs are made for the one served). ` : "";
      $("copy-url").disabled = Boolean(version);
      preview(studio);
      if (version) $("stage-column").scrollIntoView({ block: "start" });
      showVersions(template, version, actions, said);
    },
    reload: (said) => showEditor(app, studio, name, said),
  };
  $("version-back").addEventListener("click", () => actions.select(null));
  $("delete-template").addEventListener("click", () => deleteTemplate(studio));
  setupTestSend(signedUrl);
  studio.refresh = () => { preview(studio); showVersions(template, shownVersion, actions); };
  showVersions(template, null, actions, note);
  setupAudience(template, settings, (row) => {
    // exactly what the row sent: the defaults apply to the rest, as they did in the grid
    for (const field of Object.keys(template.fields)) setValue(form.elements[field], row[field] ?? "");
    window.scrollTo(0, 0);
    preview(studio);
  });
  preview(studio);
  showLint();
}

/** One labelled control per manifest field, with its rules spelled out and a place for its error. */
function fieldControl(name, spec) {
  const id = "field-" + name;
  const attrs = { name, id, "aria-describedby": `${id}-hint ${id}-error`, required: spec.required };
  let input;
  if (spec.choices) {
    const blank = spec.required ? [] : [el("option", { value: "", text: "(default)" })];
    input = el("select", attrs, ...blank, ...spec.choices.map((c) => el("option", { text: c })));
  } else if (spec.type === "datetime") {
    input = el("input", { ...attrs, type: "datetime-local", step: "1" });
  } else if (spec.type === "timezone") {
    input = el("input", { ...attrs, list: "timezones", autocomplete: "off", spellcheck: "false" });
  } else {
    input = el("input", { ...attrs, inputmode: NUMBERS[spec.type], maxlength: spec.max_length });
  }
  if (spec.live) input.placeholder = `from the ${spec.live} feed`;
  const label = el("label", { for: id }, name);
  if (spec.required) label.append(el("abbr", { class: "required", title: "required", text: " *" }));
  return el("div", { class: "field" + (spec.live ? " live" : ""), "data-field": name },
    label, input, spec.type === "datetime" ? el("span", { class: "offset" }) : "",
    el("small", { id: `${id}-hint`, class: "hint", text: hint(spec) }),
    el("small", { id: `${id}-error`, class: "field-error", "aria-live": "polite" }));
}

function hint(spec) {
  const rules = [spec.type];
  if (spec.min !== null && spec.max !== null) rules.push(`${spec.min} to ${spec.max}`);
  else if (spec.min !== null) rules.push(`at least ${spec.min}`);
  else if (spec.max !== null) rules.push(`at most ${spec.max}`);
  if (spec.max_length) rules.push(`up to ${spec.max_length} characters`);
  if (spec.choices) rules.push("one of " + spec.choices.join(", "));
  if (spec.default !== null && !spec.live) rules.push(`default ${spec.default}`);
  const parts = [rules.join(" · ")];
  if (spec.live) parts.push(`Live: read from the ${spec.live} feed when the image is fetched; leave empty.`);
  if (spec.description) parts.push(spec.description);
  return parts.join(" — ");
}

/** Sample or extreme values into the form; live fields stay empty (the feed fills them). */
function fill(which) {
  const form = $("fields");
  for (const [field, spec] of Object.entries(template.fields)) {
    setValue(form.elements[field], spec.live ? "" : (spec[which] ?? spec.default ?? ""));
  }
}

/** A date-time picker holds no offset: "…T05:00:00Z" shows 05:00:00 and keeps "Z" beside it. */
function setValue(input, value) {
  if (input.type !== "datetime-local") {
    input.value = value;
    return;
  }
  const [, local, offset] = value.match(/^(.*?)(Z|[+-]\d\d:?\d\d)?$/i);
  input.value = local;
  input.dataset.offset = offset || "";
  input.parentElement.querySelector(".offset").textContent = offset ? `offset ${offset}` : "";
}

/** Format and budget as the editor has them: the audience grid renders with the same. */
function settings() {
  const out = { format: $("format").value };
  const budget = $("budget").value.trim();
  if (budget) out.budget = budget;
  return out;
}

function values() {
  const out = {};
  for (const input of $("fields").elements) {
    if (input.name && input.value !== "") out[input.name] = input.value + (input.dataset.offset || "");
  }
  return out;
}

function showFieldErrors(problems) {
  for (const node of document.querySelectorAll(".field")) {
    const problem = problems.find((p) => p.field === node.dataset.field);
    node.classList.toggle("invalid", Boolean(problem));
    node.querySelector(".field-error").textContent = problem ? problem.message : "";
    const input = node.querySelector("input, select");
    if (problem) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  }
}

function setBusy(busy) {
  $("stage-column").classList.toggle("busy", busy);
  $("stage-column").setAttribute("aria-busy", String(busy));
}

async function preview(studio) {
  const message = $("message");
  const hasKey = Boolean(apiKey());
  $("key-prompt").hidden = hasKey;
  $("stage-column").classList.toggle("no-key", !hasKey);
  if (!hasKey) return;
  if (controller) controller.abort();
  const mine = (controller = new AbortController());
  const body = { fields: values(), ...settings() };
  if (shownVersion) body.version = shownVersion;
  setBusy(true);
  $("stage-column").classList.add("stale");
  const started = performance.now();
  let response, blob;
  try {
    response = await fetch(`/v1/templates/${template.name}/preview`, {
      method: "POST", signal: mine.signal, body: JSON.stringify(body),
      headers: { ...auth(), "Content-Type": "application/json" },
    });
    blob = response.ok ? await response.blob() : null;
  } catch (error) {
    if (error.name === "AbortError") return; // a newer preview replaced this one
    throw error;
  }
  if (mine !== controller) return;
  const elapsed = Math.round(performance.now() - started);
  if (!response.ok) {
    const error = await errorBody(response);
    if (mine !== controller) return;
    setBusy(false);
    showFieldErrors(error.fields || []);
    message.textContent = error.fields ? "Fix the marked field to see a new preview." : error.message;
    return;
  }
  const digest = await sha256(blob);
  if (mine !== controller) return;
  showFieldErrors([]);
  message.textContent = "";
  show(studio, response, blob, digest, body, elapsed);
}

async function sha256(blob) {
  const hash = await crypto.subtle.digest("SHA-256", await blob.arrayBuffer());
  return Array.from(new Uint8Array(hash)).map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The new image and its figures together: the stats never describe a different image. */
function show(studio, response, blob, digest, body, elapsed) {
  const url = URL.createObjectURL(blob);
  const img = $("preview");
  const old = img.src;
  img.addEventListener("load", () => {
    if (old.startsWith("blob:")) URL.revokeObjectURL(old);
    const h = (name) => response.headers.get(name);
    const bytes = Number(h("X-Render-Bytes")), limit = Number(h("X-Render-Budget"));
    const setting = h("X-Render-Quality") ? `quality ${h("X-Render-Quality")}` : `${h("X-Render-Colors") || "all"} colours`;
    const timing = h("X-Cache") === "render" ? `rendered in ${h("X-Render-Ms")} ms` : `cached (${h("X-Cache")}), ${elapsed} ms`;
    $("stats").replaceChildren(
      el("span", { class: bytes > limit ? "over" : "", text: `${(bytes / 1000).toFixed(0)} KB of ${(limit / 1000).toFixed(0)} KB` }),
      ` · ${body.format} · ${setting} · ${h("X-Render-Encodes")} encodes · ${timing}`);
    if (h("X-Render-Notes")) {  // what the render gave up: animation steps, characters no font has
      $("stats").append(el("div", { class: "notes", text: h("X-Render-Notes") }));
    }
    shownBoxes = JSON.parse(h("X-Render-Boxes") || "[]");
    img.dataset.sha256 = digest;
    img.dataset.format = body.format;
    img.dataset.values = JSON.stringify(body.fields);
    studio.lastPreview = { sha256: digest, bytes: blob.size, values: body.fields };
    setBusy(false);
    $("stage-column").classList.remove("stale");
    drawBoxes();
  }, { once: true });
  img.src = url;
  $("phone-ios").src = url;
  $("phone-android").src = url;
}

async function showLint() {
  const report = await (await fetch(`/v1/templates/${template.name}/lint`)).json();
  findings = report.findings || [];
  const groups = new Map(); // one line per rule and message, however many elements it names
  for (const f of findings) {
    const key = `${f.severity}|${f.rule}|${f.message}`;
    if (!groups.has(key)) groups.set(key, { ...f, elements: [] });
    if (f.element) groups.get(key).elements.push(f.element);
  }
  $("findings").replaceChildren(...(groups.size ? [...groups.values()].map((f) => el("li", { class: f.severity,
    text: `${f.rule}: ${f.message}${f.elements.length ? ` (${[...new Set(f.elements)].join(", ")})` : ""}` }))
    : [el("li", { text: "No findings." })]));
  drawBoxes();
}

/** Outline what lint flagged where it is in the image shown: an element the preview set at the
 * form's values (X-Render-Boxes) at that place, other findings at the box lint measured; one
 * outline per element, however many findings name it. */
function drawBoxes() {
  const img = $("preview"), boxes = $("boxes");
  if (!img || !boxes || !img.clientWidth || !template) return;
  const scale = img.clientWidth / template.width;
  const where = new Map(); // element id -> its box now (null when two elements share the id)
  for (const [id, ...box] of shownBoxes) {
    if (id !== "text") where.set(id, where.has(id) ? null : box); // "text": an element without an id
  }
  const outlines = new Map();
  for (const f of findings) {
    const now = f.element ? where.get(f.element) : null;
    const box = now || f.box;
    if (!box) continue;
    const key = now ? "element:" + f.element : "box:" + box.join(",");
    if (!outlines.has(key)) outlines.set(key, { box, element: now ? f.element : null, notes: new Set() });
    outlines.get(key).notes.add(`${f.rule}: ${f.message}`);
  }
  boxes.replaceChildren(...[...outlines.values()].map(({ box, element, notes }) => {
    const [x, y, w, h] = box.map((n) => n * scale);
    const node = el("div", { class: "box", title: [...notes].join("\n"), "data-element": element });
    Object.assign(node.style, { left: `${x}px`, top: `${y}px`, width: `${w}px`, height: `${h}px` });
    return node;
  }));
}

/** A signed URL of the image for the values in the form, pinned at now; null (with the
 * problems marked on their fields) when the values cannot make one. */
async function signedUrl() {
  const message = $("url-message");
  message.textContent = "";
  const response = await fetch("/v1/urls", {
    method: "POST", headers: { ...auth(), "Content-Type": "application/json" },
    body: JSON.stringify({ template: template.name, format: $("format").value,
      at: Math.floor(Date.now() / 1000), recipients: [values()] }),
  });
  const body = response.ok ? await response.json() : { error: await errorBody(response) };
  const url = response.ok && body.urls[0];
  if (!url) { // per-recipient errors name their field: mark it, as a preview's error does
    const problems = body.errors && body.errors.length ? body.errors : [body.error];
    message.textContent = problems.map((p) => (p.field ? `${p.field} ${p.message}` : p.message)).join("; ");
    showFieldErrors(problems.filter((p) => p.field));
    return null;
  }
  return url;
}

async function copyUrl() {
  const output = $("signed-url");
  output.value = "";
  const url = await signedUrl();
  if (!url) return;
  output.value = url;
  output.select();
  if (navigator.clipboard) navigator.clipboard.writeText(url).catch(() => {});
}

/** Stop serving the template everywhere, once asked; the gallery then offers to undo it. */
async function deleteTemplate(studio) {
  const yes = await ask(`Delete ${template.name}?`, [
    el("p", { text: "Every worker stops serving it within a second; its images' URLs answer 404 Not Found." }),
    el("p", { text: "Its versions are kept: Undo, or a roll-back, brings it back." }),
  ], "Delete template");
  if (!yes) return;
  const response = await fetch(`/v1/templates/${template.name}`, { method: "DELETE", headers: auth() });
  if (!response.ok) {
    $("url-message").textContent = (await errorBody(response)).message;
    return;
  }
  studio.notice = { text: `Deleted ${template.name}.`, undo: { name: template.name, version: template.version } };
  location.hash = "#/";
}
