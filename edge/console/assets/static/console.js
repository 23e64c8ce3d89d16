// relay console: small enhancements only. Every page and form works
// without this file; it adds confirmation dialogs, copy buttons and the
// live feed of the overview.
(function () {
  "use strict";

  // <form data-confirm="question"> asks before submitting.
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      ev.preventDefault();
    }
  });

  // <button data-copy="#id"> copies the text of the element #id.
  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest ? ev.target.closest("[data-copy]") : null;
    if (!btn || !navigator.clipboard) {
      return;
    }
    var src = document.querySelector(btn.getAttribute("data-copy"));
    if (!src) {
      return;
    }
    navigator.clipboard.writeText(src.textContent.trim()).then(function () {
      btn.setAttribute("data-copied", "true");
      setTimeout(function () { btn.removeAttribute("data-copied"); }, 1500);
    });
  });

  // The live feed: the overview's latest requests, kept current from the
  // server-sent events of /console/live. Cells get text only (never HTML).
  var live = document.getElementById("live");
  if (live && window.EventSource) {
    var body = live.tBodies[0];
    var state = document.getElementById("live-state");
    var maxRows = 50;
    var show = function (text) {
      state.textContent = text;
      state.hidden = false;
    };
    var cell = function (tr, text, cls, title) {
      var td = document.createElement("td");
      if (cls) { td.className = cls; }
      if (title) { td.title = title; }
      td.textContent = text;
      tr.appendChild(td);
      return td;
    };
    var source = new EventSource(live.getAttribute("data-src"));
    source.onopen = function () { show(state.getAttribute("data-live-on")); };
    source.onerror = function () { show(state.getAttribute("data-live-off")); };
    // The session ended (signed out elsewhere, password changed): stop,
    // rather than reconnect to a sign-in page.
    source.addEventListener("ended", function () {
      source.close();
      show(state.getAttribute("data-live-ended"));
    });
    source.addEventListener("gap", function (ev) {
      show(state.getAttribute("data-live-gap").replace("%d", ev.data));
    });
    source.addEventListener("request", function (ev) {
      var r = JSON.parse(ev.data);
      var tr = document.createElement("tr");
      tr.className = "fresh";
      cell(tr, r.time, "", r.timeFull);
      cell(tr, r.key, "name");
      cell(tr, r.account, "hide-s");
      var model = cell(tr, "", "");
      var code = document.createElement("code");
      code.textContent = r.model;
      model.appendChild(code);
      var status = cell(tr, "", "num");
      var badge = document.createElement("span");
      badge.className = "badge " + (r.ok ? "state-active" : "state-error");
      badge.textContent = String(r.status);
      status.appendChild(badge);
      cell(tr, r.tokens, "num", r.tokensTitle);
      cell(tr, r.cost, "num");
      cell(tr, r.ttft, "num hide-s");
      cell(tr, r.duration, "num hide-s");
      var empty = body.querySelector("tr.empty");
      if (empty) { empty.remove(); }
      body.insertBefore(tr, body.firstChild);
      while (body.rows.length > maxRows) { body.deleteRow(body.rows.length - 1); }
    });
    window.addEventListener("pagehide", function () { source.close(); });
  }

  // Copy buttons are useless without the clipboard API: show them only
  // when it is there.
  if (navigator.clipboard) {
    document.documentElement.classList.add("can-copy");
  }
})();
