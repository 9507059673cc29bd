// Uploading a template zip: a dry run first (lint, and the would-be sample render); a zip that
// would replace a template shows the sample served now beside the new one, and the pixels that
// changed, and is stored only when the marketer says so.
"use strict";

import { ask, auth, el, errorBody } from "./page.js";
import { short } from "./versions.js";

const DIFF_WIDTH = 360; // the difference is computed at this width: enough to see what moved

async function send(file, query) {
  const response = await fetch("/v1/templates" + query, {
    method: "POST", headers: { ...auth(), "Content-Type": "application/zip" }, body: file,
  });
  return { response, body: response.ok ? await response.json() : { error: await errorBody(response) } };
}

/** Upload the chosen zip; `done(notice)` is called once it is stored. */
export async function upload(file, result, done) {
  if (!file) {
    result.replaceChildren(el("li", { class: "error", text: "Choose a template zip first." }));
    return;
  }
  result.replaceChildren(el("li", { text: `Checking ${file.name}…` }));
  const dry = await send(file, "?dry_run=1");
  if (!dry.response.ok) return showRefusal(result, dry.body.error);
  const { template, replaces, version } = dry.body;
  if (replaces === version) {
    result.replaceChildren(el("li", { text: `${template} already serves exactly these files (version ${short(version)}): nothing to store.` }));
    return;
  }
  if (replaces && !(await ask(`Replace ${template}?`, diff(dry.body), "Replace"))) {
    result.replaceChildren(el("li", { text: `Not uploaded: ${template} still serves version ${short(replaces)}.` }));
    return;
  }
  const stored = await send(file, "");
  if (!stored.response.ok) return showRefusal(result, stored.body.error);
  result.replaceChildren();
  const was = stored.body.replaces ? ` (it replaced version ${short(stored.body.replaces)})` : "";
  done({ text: `Stored ${template}, version ${short(stored.body.version)}${was}.`, open: template });
}

function showRefusal(result, error) {
  result.replaceChildren(el("li", { class: "error", text: error.message }));
  for (const f of (error.lint ? error.lint.findings : [])) {
    result.append(el("li", { class: f.severity, text: `${f.rule}: ${f.message}` }));
  }
}

/** The dialog's body: the sample served now, the sample after the upload, what changed. */
function diff(answer) {
  const before = el("img", { src: `/v1/templates/${answer.template}/sample.jpg?v=${answer.replaces}`, alt: `${answer.template} now, with its sample values` });
  const after = el("img", { src: answer.sample, alt: `${answer.template} after the upload, with its sample values` });
  const canvas = el("canvas", { id: "diff-canvas", role: "img", "aria-label": "the pixels that change, in red" });
  const summary = el("p", { id: "diff-summary", class: "muted", text: "Comparing…" });
  const warnings = answer.lint.findings.map((f) => el("li", { class: f.severity, text: `${f.rule}: ${f.message}` }));
  compare(before, after, canvas, summary);
  return [
    el("div", { class: "diff" },
      el("figure", {}, before, el("figcaption", { text: `Served now (${short(answer.replaces)})` })),
      el("figure", {}, after, el("figcaption", { text: `After the upload (${short(answer.version)})` })),
      el("figure", {}, canvas, el("figcaption", { text: "Changed pixels, in red" }))),
    summary,
    warnings.length ? el("ul", { class: "findings" }, ...warnings) : el("p", { class: "muted", text: "Lint: no findings." }),
  ];
}

/** Draw the new sample dimmed with every pixel that differs from the old one in red. */
async function compare(before, after, canvas, summary) {
  try {
    await Promise.all([before.decode(), after.decode()]);
  } catch {
    summary.textContent = "One of the samples did not load: compare them by eye.";
    return;
  }
  const width = Math.min(DIFF_WIDTH, after.naturalWidth);
  const height = Math.round((after.naturalHeight * width) / after.naturalWidth);
  const pixels = (image) => {
    const context = el("canvas", { width, height }).getContext("2d", { willReadFrequently: true });
    context.drawImage(image, 0, 0, width, height);
    return context.getImageData(0, 0, width, height);
  };
  const a = pixels(before), b = pixels(after);
  let changed = 0;
  for (let i = 0; i < b.data.length; i += 4) {
    const delta = Math.abs(a.data[i] - b.data[i]) + Math.abs(a.data[i + 1] - b.data[i + 1]) + Math.abs(a.data[i + 2] - b.data[i + 2]);
    const hit = delta > 48; // JPEG noise stays under this
    changed += hit;
    b.data[i] = hit ? 239 : 255 - (255 - b.data[i]) / 3;
    b.data[i + 1] = hit ? 68 : 255 - (255 - b.data[i + 1]) / 3;
    b.data[i + 2] = hit ? 68 : 255 - (255 - b.data[i + 2]) / 3;
  }
  Object.assign(canvas, { width, height });
  canvas.getContext("2d").putImageData(b, 0, 0);
  const share = (100 * changed) / (width * height);
  const size = before.naturalWidth === after.naturalWidth && before.naturalHeight === after.naturalHeight
    ? "" : ` The size changes: ${before.naturalWidth}x${before.naturalHeight} → ${after.naturalWidth}x${after.naturalHeight}.`;
  canvas.dataset.changed = share.toFixed(1);
  summary.textContent = `${share.toFixed(1)}% of the pixels change.${size}`;
}
