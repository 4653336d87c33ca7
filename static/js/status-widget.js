// Status widget: shows this site's overall status on another site.
//
//   <script src="https://status.example.com/static/js/status-widget.js"
//           data-status-url="https://status.example.com" async></script>
//
// It reads /api/v2/summary.json (Statuspage's structure: status.indicator,
// status.description, page.url) and renders a link with a coloured dot and the status in
// words. Everything from the network is written with textContent, never as HTML, and the link
// only ever points to an http(s) address. Options (attributes of the script element):
//   data-status-url  the status site's address (default: where this script came from)
//   data-target      the id of an element to render into (default: right after the script)
//   data-refresh     seconds between refreshes (default 300, at least 60; 0 turns it off)
//   data-lang        the status site's language to ask for (de, fr, es, ja, ar...): the JSON
//                    is fetched with ?lang= and the link opens the page in that language
//
// Served from /widget.js, the script's own words ("Checking status…") are in that language
// too: the server fills WORDS below from its catalogs (statuspage/public/widget.py), one entry
// per language and "" for the site's default language. As a plain static file it speaks English.
(function () {
  "use strict";

  var WORDS = null;  // statuspage: widget words
  var ENGLISH = {
    checking: "Checking status…",
    unknown: "Status unknown",
    unavailable: "Status unavailable"
  };

  var COLOURS = {
    none: "#1a7f37",
    maintenance: "#0b5cad",
    minor: "#9a6700",
    major: "#bc4c00",
    critical: "#b42318"
  };
  var UNKNOWN_COLOUR = "#6e7781";

  var script = document.currentScript;
  if (!script) {
    var candidates = document.querySelectorAll("script[data-status-url]");
    script = candidates[candidates.length - 1];
  }
  if (!script) { return; }

  function httpUrl(value, base) {
    try {
      var url = new URL(String(value), base);
      return url.protocol === "http:" || url.protocol === "https:" ? url : null;
    } catch (error) {
      return null;
    }
  }

  var site = httpUrl(script.getAttribute("data-status-url") || script.src || "", document.baseURI);
  if (!site) { return; }
  var siteHref = site.href.replace(/\/+$/, "");
  if (!script.getAttribute("data-status-url")) {
    siteHref = site.origin;  // from the script's own address: the site it is served by
  }
  var summaryUrl = siteHref + "/api/v2/summary.json";
  var language = (script.getAttribute("data-lang") || "").toLowerCase();
  if (/^[a-z]{2}$/.test(language)) {
    summaryUrl += "?lang=" + language;
    siteHref += "/?lang=" + language;
  } else {
    language = "";
  }
  var words = (WORDS && (WORDS[language] || WORDS[""])) || ENGLISH;

  var refresh = parseInt(script.getAttribute("data-refresh") || "300", 10);
  if (isNaN(refresh)) { refresh = 300; }
  if (refresh > 0 && refresh < 60) { refresh = 60; }

  var link = document.createElement("a");
  link.className = "status-widget";
  if (language) { link.lang = language; }
  link.href = siteHref;
  link.rel = "noopener";
  link.setAttribute("aria-live", "polite");
  link.style.display = "inline-flex";
  link.style.alignItems = "center";
  link.style.gap = "0.4em";
  link.style.font = "inherit";
  link.style.color = "inherit";
  var dot = document.createElement("span");
  dot.setAttribute("aria-hidden", "true");
  dot.style.display = "inline-block";
  dot.style.width = "0.7em";
  dot.style.height = "0.7em";
  dot.style.borderRadius = "50%";
  dot.style.background = UNKNOWN_COLOUR;
  var label = document.createElement("span");
  label.textContent = words.checking;
  link.appendChild(dot);
  link.appendChild(label);

  function show(description, indicator, pageUrl, pageName) {
    label.textContent = description;
    if (pageName) {
      // The page's name as staff set it (Admin > Settings > Your page), on hover and for
      // screen readers; the visible text stays the status.
      link.title = pageName;
      link.setAttribute("aria-label", pageName + ": " + description);
    }
    dot.style.background = Object.prototype.hasOwnProperty.call(COLOURS, indicator)
      ? COLOURS[indicator] : UNKNOWN_COLOUR;
    var target = pageUrl && httpUrl(pageUrl);
    if (target && language) { target.searchParams.set("lang", language); }
    link.href = target ? target.href : siteHref;
  }

  function load() {
    fetch(summaryUrl, { credentials: "omit", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (data) {
        var status = (data && data.status) || {};
        var description = typeof status.description === "string" && status.description
          ? status.description.slice(0, 200) : words.unknown;
        var page = (data && data.page) || {};
        var name = typeof page.name === "string" ? page.name.slice(0, 120) : "";
        show(description, String(status.indicator), page.url, name);
      })
      .catch(function () {
        show(words.unavailable, "", null);
      });
  }

  function mount() {
    var id = script.getAttribute("data-target");
    var target = id && document.getElementById(id);
    if (target) {
      target.appendChild(link);
    } else if (script.parentNode && script.parentNode !== document.head) {
      script.parentNode.insertBefore(link, script.nextSibling);
    } else {
      document.body.appendChild(link);
    }
    load();
    if (refresh > 0) { setInterval(load, refresh * 1000); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", mount);
  } else {
    mount();
  }
})();
