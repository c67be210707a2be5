// ici-atlas dashboard: submit a filter form as soon as one of its menus changes.
// The pages work without this script (the Apply button submits the same form).
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () {
      var form = select.form;
      var page = form.querySelector("input[name=page]");
      if (page) { page.value = "1"; }
      form.submit();
    });
  });
});
