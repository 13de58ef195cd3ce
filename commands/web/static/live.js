// Live pages: the server announces each new event position of the store (/events, server-sent
// events; a grant's page is told only of writes to its grant); the page then fetches itself again
// (body's data-live-from, or this address) and swaps in the regions whose ids body's data-live
// lists, so other people's writes show without a reload. No form sits inside a live region, so
// nothing being typed is lost. The refresh says so (X-Live-Refresh): it is no activity of the
// person, and restarts no idle time of the session.
(function () {
  var body = document.body;
  if (!body || !body.dataset.events || typeof EventSource === "undefined") return;
  var known = parseInt(body.dataset.position || "0", 10);
  var busy = false;
  var again = false;

  function refresh() {
    var ids = (body.dataset.live || "").split(" ").filter(Boolean);
    if (!ids.length) return;
    if (busy) { again = true; return; }
    busy = true;
    var url = body.dataset.liveFrom || window.location.href;
    fetch(url, { credentials: "same-origin", headers: { "HX-Request": "true", "X-Live-Refresh": "true" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (text) {
        if (text === null) return;
        var fresh = new DOMParser().parseFromString(text, "text/html");
        ids.forEach(function (id) {
          var old = document.getElementById(id);
          var now = fresh.getElementById(id);
          if (!old || !now) return;
          old.replaceWith(now);
          if (window.htmx) window.htmx.process(now);
        });
        document.dispatchEvent(new CustomEvent("ledger:refreshed"));
      })
      .catch(function () {})
      .then(function () {
        busy = false;
        if (again) { again = false; refresh(); }
      });
  }

  var events = body.dataset.events;
  var source = new EventSource(events + (events.indexOf("?") < 0 ? "?" : "&") + "after=" + known);
  source.addEventListener("ledger", function (event) {
    var at = parseInt(event.data, 10);
    if (at > known) { known = at; refresh(); }
  });
})();
