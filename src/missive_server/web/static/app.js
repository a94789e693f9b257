// missive-server inbox: small progressive enhancements, no inline script (the pages are served
// with a Content-Security-Policy that forbids it). Everything works without JavaScript.
"use strict";

// Copy buttons (Settings › API): data-copy holds the text; the button says "Copied" briefly.
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const text = button.getAttribute("data-copy");
  const done = () => {
    button.classList.add("copied");
    button.setAttribute("data-state", "copied");
    setTimeout(() => { button.classList.remove("copied"); button.removeAttribute("data-state"); }, 1500);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, () => fallbackCopy(text, done));
  } else {
    fallbackCopy(text, done);
  }
});

// http:// on a LAN address is not a secure context: the Clipboard API is missing there.
function fallbackCopy(text, done) {
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.appendChild(area);
  area.select();
  try { if (document.execCommand("copy")) done(); } finally { area.remove(); }
}

// Reset-password page: the link's secret is in the URL fragment (never sent to the server, so
// never in a log); move it into the form and out of the address bar and history.
document.addEventListener("DOMContentLoaded", () => {
  const field = document.querySelector("input[data-from-fragment]");
  if (!field || location.hash.length < 2) return;
  field.value = decodeURIComponent(location.hash.slice(1));
  history.replaceState(null, "", location.pathname);
  const next = document.getElementById("password");
  if (next) next.focus();
});

// Live updates: pages that show conversations (body[data-live]) listen to /events (Server-Sent
// Events; the browser resumes with Last-Event-ID after a drop) and reload when a change
// concerns them, unless the user is typing: then a notice offers the reload instead.
document.addEventListener("DOMContentLoaded", () => {
  const scope = document.body.dataset.live;
  if (!scope || !window.EventSource) return;
  const source = new EventSource("/events");
  // A form being sent is about to load the next page: the change it causes must not reload
  // this one (a reload would race the form's own navigation and could win).
  document.addEventListener("submit", () => source.close());
  source.addEventListener("change", (event) => {
    const change = JSON.parse(event.data);
    if (scope === "list" || scope === "conversation:" + change.conversation) refresh();
  });
});

function refresh() {
  const typing = [...document.querySelectorAll("textarea, input[type=text], input:not([type])")]
    .some((field) => field.value.trim() !== "" && field.defaultValue !== field.value);
  if (!typing) {
    location.reload();
    return;
  }
  if (document.getElementById("live-notice")) return;
  const notice = document.createElement("p");
  notice.id = "live-notice";
  notice.className = "notice live-notice";
  notice.setAttribute("role", "status");
  const button = document.createElement("button");
  button.type = "button";
  button.className = "link";
  button.textContent = "New activity: reload";
  button.addEventListener("click", () => location.reload());
  notice.appendChild(button);
  document.getElementById("main").prepend(notice);
}
