// Long work shows progress instead of a button that seems to hang (issue 23). The CSP forbids
// inline scripts and htmx's own indicator styles are off, so the behaviour lives here:
//
// * a form marked data-busy, once submitted (plainly or through htmx), disables its submit
//   button and shows the button's spinner with its data-busy-text ("正在生成…"). A form that
//   answers with a download (data-busy-download) leaves the page in place: its button comes
//   back after a few seconds or when the page is shown again (back/forward cache).
// * an element marked data-upload-progress inside an htmx form follows the upload
//   (htmx:xhr:progress) as a percentage in its <progress> and [data-upload-percent] children.
(function () {
  "use strict";
  var DOWNLOAD_RESTORE_MS = 8000;

  function busy(form, button) {
    if (!button || button.dataset.busyOn === "1") return;
    button.dataset.busyOn = "1";
    button.dataset.busyLabel = button.innerHTML;
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    var text = button.dataset.busyText || form.dataset.busyText || "";
    var spinner = document.createElement("span");
    spinner.className = "spinner-border spinner-border-sm me-1";
    spinner.setAttribute("aria-hidden", "true");
    button.textContent = "";
    button.appendChild(spinner);
    button.appendChild(document.createTextNode(text || button.dataset.busyLabel));
  }

  function restore(button) {
    if (!button || button.dataset.busyOn !== "1") return;
    button.innerHTML = button.dataset.busyLabel || button.innerHTML;
    button.disabled = false;
    button.removeAttribute("aria-busy");
    delete button.dataset.busyOn;
  }

  function submitButton(form, submitter) {
    if (submitter && form.contains(submitter)) return submitter;
    return form.querySelector("button[type=submit], button:not([type])");
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-busy")) return;
    if (form.hasAttribute("hx-post")) return; // htmx takes it from here (htmx:beforeRequest)
    var button = submitButton(form, event.submitter);
    // After the submission has started: a disabled submitter would drop its name/value.
    window.setTimeout(function () { busy(form, button); }, 0);
    if (form.hasAttribute("data-busy-download")) {
      window.setTimeout(function () { restore(button); }, DOWNLOAD_RESTORE_MS);
    }
  });

  window.addEventListener("pageshow", function () {
    document.querySelectorAll("[data-busy-on='1']").forEach(restore);
  });

  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = event.detail.elt;
    if (form instanceof HTMLFormElement && form.hasAttribute("data-busy")) {
      busy(form, submitButton(form, null));
    }
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail.elt;
    if (form instanceof HTMLFormElement && form.hasAttribute("data-busy")) {
      restore(submitButton(form, null));
    }
  });

  document.addEventListener("htmx:xhr:progress", function (event) {
    var form = event.detail.elt;
    if (!(form instanceof Element) || !event.detail.lengthComputable) return;
    var box = form.querySelector("[data-upload-progress]");
    if (!box) return;
    var percent = Math.round((event.detail.loaded / event.detail.total) * 100);
    box.classList.remove("d-none");
    var bar = box.querySelector("progress");
    if (bar) bar.value = percent;
    var label = box.querySelector("[data-upload-percent]");
    if (label) label.textContent = percent + "%";
  });
})();
