// The console's only script of its own (CSP forbids inline scripts): small conveniences that
// every page works without.
document.addEventListener("change", function (event) {
  var field = event.target;
  if (field.matches("[data-submit-on-change]") && field.form) {
    field.form.requestSubmit();
  }
  if (field.matches("[data-check-all]")) {
    var table = field.closest("table");
    table.querySelectorAll("input[type=checkbox][name=ids]").forEach(function (box) {
      box.checked = field.checked;
    });
  }
});
document.addEventListener("submit", function (event) {
  var message = event.target.getAttribute("data-confirm");
  if (message && !window.confirm(message)) {
    event.preventDefault();
  }
});
