// Audience preview: CSV rows (pasted or a file) rendered side by side through the preview API,
// each flagged (fitted smaller, cut with "…", field error, over budget) with its size.
"use strict";

import { auth, el, errorBody } from "./page.js";

export const MAX_ROWS = 50;
const AT_ONCE = 2; // renders in flight; the service's pool is shared with everyone else

/** Rows of a CSV text (RFC 4180: quoted fields, doubled quotes, CRLF), the first row the header. */
export function parseCsv(text) {
  const rows = [[]];
  let field = "", quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") { rows.at(-1).push(field); field = ""; }
    else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      rows.at(-1).push(field); field = ""; rows.push([]);
    } else field += c;
  }
  rows.at(-1).push(field);
  const filled = rows.filter((row) => row.some((cell) => cell.trim() !== ""));
  if (filled.length < 2) throw new Error("Give a header row of field names and at least one row of values.");
  const [header, ...body] = filled;
  return body.map((row) => Object.fromEntries(header.map((name, i) => [name.trim(), row[i] ?? ""])
    .filter(([name, value]) => name && value !== "")));
}

/** Wire the audience panel of the editor: `settings()` gives format and budget, `open(values)`
 * loads a row into the editor. */
export function setupAudience(template, settings, open) {
  const text = document.getElementById("audience-csv");
  const message = document.getElementById("audience-message");
  document.getElementById("audience-file").addEventListener("change", async (event) => {
    const file = event.target.files[0];
    if (file) text.value = await file.text();
  });
  document.getElementById("audience").addEventListener("submit", (event) => {
    event.preventDefault();
    message.textContent = "";
    let rows;
    try {
      rows = parseCsv(text.value);
    } catch (error) {
      message.textContent = error.message;
      return;
    }
    const unknown = Object.keys(Object.assign({}, ...rows)).filter((name) => !(name in template.fields));
    if (unknown.length) message.textContent = `Not fields of ${template.name}, ignored: ${unknown.join(", ")}.`;
    if (rows.length > MAX_ROWS) message.textContent += ` Showing the first ${MAX_ROWS} of ${rows.length} rows.`;
    const known = rows.slice(0, MAX_ROWS).map((row) =>
      Object.fromEntries(Object.entries(row).filter(([name]) => name in template.fields)));
    renderGrid(template, known, settings(), open);
  });
}

let generation = 0;
async function renderGrid(template, rows, settings, open) {
  const mine = ++generation;
  const grid = document.getElementById("audience-grid");
  const cells = rows.map((values, i) => {
    const cell = el("button", { type: "button", class: "audience-cell busy", "data-row": i + 1,
      "aria-label": `Row ${i + 1}: open in the editor` },
    el("div", { class: "thumb" }), el("span", { class: "row-label", text: `row ${i + 1}` }),
    el("ul", { class: "flags" }));
    cell.addEventListener("click", () => open(values));
    return cell;
  });
  grid.replaceChildren(...cells);
  let next = 0;
  const worker = async () => {
    while (next < rows.length && mine === generation) {
      const i = next++;
      await renderCell(template, rows[i], settings, cells[i]);
    }
  };
  await Promise.all(Array.from({ length: AT_ONCE }, worker));
}

async function renderCell(template, values, settings, cell) {
  const response = await fetch(`/v1/templates/${template.name}/preview`, {
    method: "POST", headers: { ...auth(), "Content-Type": "application/json" },
    body: JSON.stringify({ fields: values, ...settings }),
  });
  const flags = [];
  if (response.ok) {
    const h = (name) => response.headers.get(name) || "";
    const blob = await response.blob();
    const img = el("img", { alt: `render of row ${cell.dataset.row}` });
    img.src = URL.createObjectURL(blob);
    cell.querySelector(".thumb").append(img);
    const bytes = Number(h("X-Render-Bytes")), budget = Number(h("X-Render-Budget"));
    flags.push(["bytes", `${(bytes / 1000).toFixed(0)} KB`]);
    if (bytes > budget) flags.push(["over", `over budget (${(budget / 1000).toFixed(0)} KB)`]);
    for (const part of h("X-Render-Fit").split(", ").filter(Boolean)) {
      const [id, how] = part.split("=");
      flags.push(how.startsWith("cut") ? ["cut", `${id} cut with “…”`] : ["fitted", `${id} fitted smaller`]);
    }
  } else {
    const error = await errorBody(response);
    const problems = error.fields || [{ field: "", message: error.message }];
    for (const p of problems) flags.push(["field-error", `${p.field} ${p.message}`.trim()]);
  }
  cell.querySelector(".flags").replaceChildren(
    ...flags.map(([kind, text]) => el("li", { class: "flag " + kind, "data-flag": kind, text })));
  cell.classList.remove("busy");
  cell.dataset.done = flags.some(([kind]) => kind === "field-error") ? "error" : "ok";
}
