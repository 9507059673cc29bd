// Send a test MMS: the image on screen, signed, through the service's provider, to a number
// typed on the page; the provider's answer, then each delivery receipt as it arrives.
"use strict";

import { auth, el, errorBody } from "./page.js";

const $ = (id) => document.getElementById(id);
const POLL_MS = 1000, POLL_FOR_MS = 120000; // receipts usually come within seconds
let following = 0; // the message whose receipts are polled; a newer send stops the older poll

/** `signedUrl()` gives the signed URL of the values in the form (null when they cannot). */
export function setupTestSend(signedUrl) {
  $("test-send").addEventListener("submit", async (event) => {
    event.preventDefault();
    const log = $("test-log"), mine = ++following;
    const say = (text, className = "") => log.append(el("li", { class: className, text }));
    log.replaceChildren();
    if (!$("test-to").value.trim()) return say("Type the phone number to send to.", "error");
    if (!$("test-consent").checked) return say("Tick that the number's owner agreed to receive test messages.", "error");
    const url = await signedUrl();
    if (!url) return say("The values in the form cannot make an image: fix the marked field.", "error");
    say("Sending…");
    const response = await fetch("/v1/test-sends", {
      method: "POST", headers: { ...auth(), "Content-Type": "application/json" },
      body: JSON.stringify({ to: $("test-to").value, media_url: url, consent: true }),
    });
    log.replaceChildren();
    if (!response.ok) return say((await errorBody(response)).message, "error");
    const sent = await response.json();
    say(`${sent.provider} accepted it for ${sent.to}: ${sent.sid} (${sent.provider_status}).`);
    follow(sent.sid, mine, log);
  });
}

/** Show every receipt of `sid` as it arrives, until it is delivered or failed. */
async function follow(sid, mine, log) {
  const shown = el("li", { class: "receipts", text: "Waiting for the delivery receipt…" });
  log.append(shown);
  for (let waited = 0; waited < POLL_FOR_MS && mine === following; waited += POLL_MS) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    const response = await fetch(`/v1/test-sends/${sid}`, { headers: auth() });
    if (!response.ok || mine !== following) return;
    const message = await response.json();
    if (message.receipts.length) {
      shown.replaceChildren(...message.receipts.map((r) => el("div", { class: r.state === "failed" ? "error" : "",
        text: `${r.state}${r.error ? ` (error ${r.error})` : ""} at ${new Date(r.at * 1000).toLocaleTimeString()}` })));
    }
    shown.dataset.state = message.state;
    if (message.state === "delivered" || message.state === "failed") return;
  }
  if (mine === following) shown.append(el("div", { class: "muted", text: "No final receipt yet; the provider may still send one." }));
}
