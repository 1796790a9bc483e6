// Apply the remembered theme before first paint, so a dark-theme user never sees a white flash.
(function () {
  try {
    var theme = localStorage.getItem("varro-theme");
    if (theme === "light" || theme === "dark") document.documentElement.setAttribute("data-theme", theme);
  } catch (e) { /* storage blocked: follow the system setting */ }
})();
