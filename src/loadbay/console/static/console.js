// Drag and drop onto the upload field, and the chosen file's name. The plain file
// input works without this script, from the keyboard as from the mouse.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-drop]").forEach(function (zone) {
    var input = zone.querySelector("input[type=file]");
    var shown = zone.querySelector("[data-chosen]");
    function show() {
      if (shown && input.files && input.files.length) {
        shown.textContent = "Chosen: " + input.files[0].name;
      }
    }
    input.addEventListener("change", show);
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) {
        event.preventDefault();
        zone.classList.add("over");
      });
    });
    ["dragleave", "drop"].forEach(function (name) {
      zone.addEventListener(name, function () { zone.classList.remove("over"); });
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      if (event.dataTransfer && event.dataTransfer.files.length) {
        input.files = event.dataTransfer.files;
        show();
      }
    });
  });
});

// A review row answered after an edit replaces the one holding the focus: when the
// button pressed is gone (the row is valid now), the focus goes to the row's number
// instead of the top of the page, so a keyboard user carries on from the same row.
(function () {
  var rowId = null;
  document.addEventListener("htmx:beforeRequest", function (event) {
    var row = event.target.closest ? event.target.closest("[data-row]") : null;
    rowId = row ? row.id : null;
  });
  document.addEventListener("htmx:afterSettle", function () {
    if (!rowId) return;
    var active = document.activeElement;
    if (!active || active === document.body) {
      var head = document.querySelector("#" + rowId + " th");
      if (head) head.focus();
    }
    rowId = null;
  });
})();
