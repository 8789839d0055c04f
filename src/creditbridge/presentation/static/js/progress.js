// Long work shows progress instead of a button that seems to hang (issue 23). The CSP forbids
// inline scripts and htmx's own indicator styles are off, so the behaviour lives here:
//
// * a form marked data-busy, once submitted (plainly or through htmx), disables its submit
//   button and shows the button's spinner with its data-busy-text ("正在生成…"). A form that
//   answers with a download (data-busy-download) leaves the page in place: its button comes
//   back after a few seconds or when the page is shown again (back/forward cache).
// * an element marked data-upload-progress inside a form follows the upload as a percentage in
//   its <progress> and [data-upload-percent] children, and as bytes sent in [data-upload-bytes]
//   (its data-bytes-text, "已发送 {sent} / {total}"). In an htmx form htmx sends the file
//   (htmx:xhr:progress); a plain form is sent here by XMLHttpRequest, whose upload reports its
//   progress where a native post shows nothing, and the answer then replaces the page as the
//   native post's would have. Without script, or if the request cannot be made, the form posts
//   as it always did.
(function () {
  "use strict";
  var DOWNLOAD_RESTORE_MS = 8000;

  function megabytes(bytes) {
    return (bytes / (1024 * 1024)).toFixed(1) + " MB";
  }

  function showProgress(box, loaded, total) {
    var percent = total > 0 ? Math.min(100, Math.round((loaded / total) * 100)) : 0;
    box.classList.remove("d-none");
    var bar = box.querySelector("progress");
    if (bar) bar.value = percent;
    box.setAttribute("data-percent", String(percent));
    var label = box.querySelector("[data-upload-percent]");
    if (label) label.textContent = percent + "%";
    var bytes = box.querySelector("[data-upload-bytes]");
    if (bytes && total > 0) {
      var text = bytes.dataset.bytesText || "{sent} / {total}";
      bytes.textContent = text.replace("{sent}", megabytes(loaded)).replace("{total}", megabytes(total));
    }
  }

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
    showProgress(box, event.detail.loaded, event.detail.total);
  });

  function chosenFiles(form) {
    var inputs = form.querySelectorAll("input[type=file]");
    for (var i = 0; i < inputs.length; i += 1) {
      if (inputs[i].files && inputs[i].files.length) return true;
    }
    return false;
  }

  function replacePage(form, xhr) {
    var action = new URL(form.action, window.location.href).href;
    if (xhr.responseURL && xhr.responseURL !== action) {
      // The post was answered with a redirect (303 to the batch): go there as the browser
      // would have, so the address bar and history name the page shown.
      window.location.assign(xhr.responseURL);
      return;
    }
    // The answer is the next page itself (the header check, or the form with its refusal):
    // written over this one, its scripts load again from this origin as the CSP allows.
    document.open();
    document.write(xhr.responseText);
    document.close();
  }

  function sendWithProgress(form, box, button) {
    var xhr = new XMLHttpRequest();
    var body = new FormData(form);
    xhr.open((form.getAttribute("method") || "post").toUpperCase(), form.action);
    // The answer is a whole page, as for a native post: no HX-Request header is sent.
    xhr.setRequestHeader("Accept", "text/html");
    xhr.upload.addEventListener("loadstart", function (event) {
      showProgress(box, 0, event.lengthComputable ? event.total : 0);
    });
    xhr.upload.addEventListener("progress", function (event) {
      if (event.lengthComputable) showProgress(box, event.loaded, event.total);
    });
    xhr.upload.addEventListener("load", function (event) {
      // Every byte is sent (the last progress event may come before it): the server now checks.
      var total = event.lengthComputable ? event.total : 1;
      showProgress(box, total, total);
      var waiting = box.querySelector("[data-upload-waiting]");
      if (waiting) waiting.classList.remove("d-none");
    });
    xhr.addEventListener("load", function () { replacePage(form, xhr); });
    xhr.addEventListener("error", function () {
      // The request failed on the way (connection lost): say so, and let the user try again.
      restore(button);
      var failed = box.querySelector("[data-upload-failed]");
      if (failed) failed.classList.remove("d-none");
    });
    xhr.send(body);
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || form.hasAttribute("hx-post")) return;
    var box = form.querySelector("[data-upload-progress]");
    if (!box || event.defaultPrevented || !chosenFiles(form)) return;
    if (typeof FormData === "undefined" || !window.XMLHttpRequest) return;
    event.preventDefault();
    var button = submitButton(form, event.submitter);
    var failed = box.querySelector("[data-upload-failed]");
    if (failed) failed.classList.add("d-none");
    busy(form, button);
    sendWithProgress(form, box, button);
  });
})();
