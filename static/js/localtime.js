// Shows times in the reader's own time zone, naming it. Without this script the page shows
// UTC, also named; the exact instant always stays in the <time datetime> attribute.
(function () {
  "use strict";
  if (!window.Intl || !Intl.DateTimeFormat) { return; }
  var locale = document.documentElement.lang || undefined;
  var withDate = new Intl.DateTimeFormat(locale, {
    day: "numeric", month: "short", year: "numeric",
    hour: "2-digit", minute: "2-digit", timeZoneName: "short"
  });
  var timeOnly = new Intl.DateTimeFormat(locale, {
    hour: "2-digit", minute: "2-digit", timeZoneName: "short"
  });
  var nodes = document.querySelectorAll("time[data-localize]");
  for (var i = 0; i < nodes.length; i++) {
    var node = nodes[i];
    var instant = new Date(node.getAttribute("datetime"));
    if (isNaN(instant.getTime())) { continue; }
    var format = node.getAttribute("data-localize") === "time" ? timeOnly : withDate;
    node.title = node.textContent;  // the UTC text stays available on hover
    node.textContent = format.format(instant);
  }
  var note = document.getElementById("zone-note");
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  // The sentence comes translated from the page (data-local-text), with "{zone}" to fill in.
  var text = note && note.getAttribute("data-local-text");
  if (text && zone) {
    note.textContent = text.replace("{zone}", zone);
  }
})();
