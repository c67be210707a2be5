// ici-atlas dashboard: submit a filter form as soon as one of its menus or boxes changes.
// The pages work without this script (the Apply button submits the same form).
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("select[data-autosubmit], input[data-autosubmit]").forEach(function (el) {
    el.addEventListener("change", function () {
      var form = el.form;
      var page = form.querySelector("input[name=page]");
      if (page) { page.value = "1"; }
      form.submit();
    });
  });
});
