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
