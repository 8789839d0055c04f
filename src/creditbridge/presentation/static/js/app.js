// Small progressive enhancements shared by all pages; every page works without them.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    // Forms marked data-autosubmit submit when a select changes (the version picker); their
    // submit button stays for readers without JavaScript and is hidden here.
    document.querySelectorAll("form[data-autosubmit]").forEach(function (form) {
      form.querySelectorAll("[data-autosubmit-button]").forEach(function (button) {
        button.classList.add("d-none");
      });
      form.querySelectorAll("select").forEach(function (select) {
        select.addEventListener("change", function () { form.requestSubmit(); });
      });
    });
  });
})();
