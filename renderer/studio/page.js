// What every view of the studio shares: the API key (kept per tab), DOM building, errors.
"use strict";

export const keyInput = document.getElementById("api-key");

export function apiKey() {
  return keyInput.value.trim();
}

export function auth() {
  return { Authorization: "Bearer " + apiKey() };
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...children);
  return node;
}

/** The JSON error body of a failed response, or a stand-in when there is none. */
export async function errorBody(response) {
  try {
    const body = await response.json();
    if (body.error) return body.error;
  } catch {
    // not JSON: fall through
  }
  return { code: "http_error", message: `${response.status} ${response.statusText}` };
}

/** Ask before something that cannot be taken back: a modal dialog (Escape or Cancel says no).
 * `body` is the nodes to show; resolves to true only when the `ok` button is pressed. */
export function ask(title, body, ok) {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-body").replaceChildren(...body);
  const button = document.getElementById("confirm-ok");
  button.textContent = ok;
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
  });
}

/** "2026-11-27 10:41" in the browser's time zone, from unix seconds. */
export function when(seconds) {
  const d = new Date(seconds * 1000), two = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}`;
}
