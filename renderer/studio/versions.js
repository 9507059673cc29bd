// Versions: a template's history (who stored each, when, its lint), a preview of any kept
// version, roll back, and retire. Every change is asked for first.
"use strict";

import { apiKey, ask, auth, el, errorBody, when } from "./page.js";

const $ = (id) => document.getElementById(id);
export const short = (version) => version.slice(0, 8);

/** Fill the editor's Versions list. `actions.select(version)` previews a kept version (null: the
 * one served); `actions.reload(note)` reopens the editor after a roll-back, saying `note`. */
export async function showVersions(template, selected, actions, note = "") {
  const list = $("versions"), message = $("versions-message");
  if (!list) return;
  if (!apiKey()) {
    list.replaceChildren();
    message.textContent = "The versions need an API key.";
    return;
  }
  const response = await fetch(`/v1/templates/${template.name}/versions`, { headers: auth() });
  if (!response.ok) {
    message.textContent = (await errorBody(response)).message;
    return;
  }
  const body = await response.json();
  message.textContent = note || `${body.versions.length} kept; the newest 20 keep their files.`;
  list.replaceChildren(...body.versions.map((v) => row(template, v, selected, actions)));
}

function lintSummary(lint) {
  if (!lint) return "not linted yet";
  if (!lint.errors && !lint.warnings) return "lint clean";
  const count = (n, what) => `${n} ${what}${n === 1 ? "" : "s"}`;
  return `lint: ${count(lint.errors, "error")}, ${count(lint.warnings, "warning")}`;
}

function row(template, v, selected, actions) {
  const name = short(v.version);
  const item = el("li", { class: `version${v.current ? " current" : ""}${v.version === selected ? " selected" : ""}`, "data-version": v.version },
    el("div", {}, el("code", { text: name }), v.current ? el("span", { class: "badge", text: "served" }) : ""),
    el("div", { class: "muted", text: `${when(v.stored_at)} · ${v.stored_by} · ${lintSummary(v.lint)}` }));
  if (v.current) return item;
  const button = (text, label, className, run) => {
    const node = el("button", { type: "button", class: className, text, "aria-label": `${label} ${name}` });
    node.addEventListener("click", run);
    return node;
  };
  const previewing = v.version === selected;
  item.append(el("div", { class: "version-actions" },
    button(previewing ? "Previewing" : "Preview", "Preview version", "secondary", () => actions.select(previewing ? null : v.version)),
    button("Roll back", "Roll back to version", "", () => rollBack(template, v, actions)),
    button("Delete", "Delete version", "danger", () => retire(template, v, selected, actions))));
  return item;
}

async function rollBack(template, v, actions) {
  const name = short(v.version);
  const yes = await ask(`Roll ${template.name} back to version ${name}?`, [
    el("p", { text: `Every worker serves version ${name} within a second, stored ${when(v.stored_at)} by ${v.stored_by}.` }),
    el("p", { text: "URLs signed for another kept version keep rendering the version they were signed for." }),
  ], "Roll back");
  if (!yes) return;
  const response = await fetch(`/v1/templates/${template.name}/versions/${v.version}/restore`, { method: "POST", headers: auth() });
  if (!response.ok) {
    $("versions-message").textContent = (await errorBody(response)).message;
    return;
  }
  actions.reload(`Rolled back: version ${name} is served.`);
}

async function retire(template, v, selected, actions) {
  const name = short(v.version);
  const yes = await ask(`Delete version ${name} of ${template.name}?`, [
    el("p", { text: "Its files are dropped (its record stays). Images at URLs signed for it answer 410 Gone from now on." }),
  ], "Delete version");
  if (!yes) return;
  const response = await fetch(`/v1/templates/${template.name}/versions/${v.version}`, { method: "DELETE", headers: auth() });
  const note = response.ok ? `Deleted version ${name}.` : (await errorBody(response)).message;
  if (response.ok && selected === v.version) actions.select(null, note);
  else showVersions(template, selected, actions, note);
}
