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
