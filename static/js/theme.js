// Apply the remembered theme before first paint, so a dark-theme user never sees a white flash.
(function () {
  try {
    var theme = localStorage.getItem("varro-theme");
    if (theme === "light" || theme === "dark") document.documentElement.setAttribute("data-theme", theme);
  } catch (e) { /* storage blocked: follow the system setting */ }
})();

// Alpine's CSP build reads every global once as it loads, and reading `window.fence` (the Fenced Frames API: null
// outside a fenced frame, which this page never is) makes Chromium report a deprecation. Nothing here uses it.
try { delete window.fence; } catch (e) { /* not there */ }
