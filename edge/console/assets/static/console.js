// relay console: small enhancements only. Every page and form works
// without this file; it adds confirmation dialogs and copy buttons.
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

  // Copy buttons are useless without the clipboard API: show them only
  // when it is there.
  if (navigator.clipboard) {
    document.documentElement.classList.add("can-copy");
  }
})();
