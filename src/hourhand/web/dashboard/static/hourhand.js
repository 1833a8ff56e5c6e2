// hourhand's dashboard script: live refresh of fragments, confirm dialogs, the cron
// preview as you type. Every page works without it. No inline script anywhere (the
// Content-Security-Policy forbids it); this file is the only script.
"use strict";

(function () {
  var REFRESH_EVERY = 5000; // milliseconds

  // -- live refresh: <div data-refresh="/dashboard/fragments/x"> is replaced by the
  // fragment's HTML every few seconds, not while the tab is hidden. The fragment is our
  // own server-rendered (escaped) HTML from the same origin.
  function refresh(element) {
    var url = element.getAttribute("data-refresh");
    if (!url || document.hidden || element.dataset.loading === "1") return;
    element.dataset.loading = "1";
    fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (response) {
        if (response.redirected || !response.ok) throw new Error("refresh " + response.status);
        return response.text();
      })
      .then(function (html) {
        var parsed = new DOMParser().parseFromString(html, "text/html");
        element.replaceChildren.apply(element, Array.prototype.slice.call(parsed.body.childNodes));
        element.classList.remove("stale");
      })
      .catch(function () { element.classList.add("stale"); })
      .then(function () { element.dataset.loading = ""; });
  }

  function refreshAll() {
    document.querySelectorAll("[data-refresh]").forEach(refresh);
  }

  // -- confirm dialogs: a form or a button with data-confirm="text" asks first.
  function confirmSubmit(event) {
    var form = event.target;
    var button = event.submitter;
    var text = (button && button.getAttribute("data-confirm")) || form.getAttribute("data-confirm");
    if (text && !window.confirm(text)) event.preventDefault();
  }

  // -- cron preview: <input data-cron-preview="ID-of-output" data-tz-input="ID-of-tz">
  // fetches {prefix}/fragments/cron-preview?expr=&tz= as you type.
  function cronPreview(input) {
    var target = document.getElementById(input.getAttribute("data-cron-preview"));
    if (!target) return;
    var tzInput = document.getElementById(input.getAttribute("data-tz-input") || "");
    var timer = null;
    function update() {
      var prefix = document.body.getAttribute("data-prefix") || "";
      var params = new URLSearchParams({ expr: input.value, tz: tzInput ? tzInput.value : "UTC" });
      fetch(prefix + "/fragments/cron-preview?" + params.toString(), { credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.text() : Promise.reject(); })
        .then(function (html) {
          var parsed = new DOMParser().parseFromString(html, "text/html");
          target.replaceChildren.apply(target, Array.prototype.slice.call(parsed.body.childNodes));
        })
        .catch(function () { /* the preview stays as it was */ });
    }
    function later() {
      window.clearTimeout(timer);
      timer = window.setTimeout(update, 300);
    }
    input.addEventListener("input", later);
    if (tzInput) tzInput.addEventListener("input", later);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.addEventListener("submit", confirmSubmit, true);
    document.querySelectorAll("[data-cron-preview]").forEach(cronPreview);
    if (document.querySelector("[data-refresh]")) {
      window.setInterval(refreshAll, REFRESH_EVERY);
      document.addEventListener("visibilitychange", function () {
        if (!document.hidden) refreshAll();
      });
    }
  });
})();
