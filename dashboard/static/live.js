// Live pages: ask the server every few seconds whether what this page shows has changed (a new
// call, a scorecard made, a rubric judged); if it has, load the page again. No manual reload.
(function () {
  "use strict";
  const body = document.body;
  const url = body.dataset.poll;
  if (!url) return;
  const every = Number(body.dataset.pollMs) || 2000;
  async function check() {
    try {
      const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
      if (response.ok) {
        const { stamp } = await response.json();
        if (stamp !== body.dataset.stamp) {
          location.reload();
          return;
        }
      }
    } catch (_) {
      // The server is restarting or the network blinked: try again on the next tick.
    }
    setTimeout(check, every);
  }
  setTimeout(check, every);
})();
