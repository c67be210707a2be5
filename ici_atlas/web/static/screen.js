// Keyboard screening: i include, e exclude, s skip, r not retrieved (full text), u undo,
// n focuses the note (Esc leaves it). A key submits the page's own form, so the decision
// is saved by the server (and the next record rendered) before anything else is shown.
(function () {
  "use strict";
  var busy = false;
  function submit(form, decision) {
    if (busy || !form) { return; }
    busy = true;
    document.body.classList.add("busy");
    if (decision) {
      var field = document.createElement("input");
      field.type = "hidden"; field.name = "decision"; field.value = decision;
      form.appendChild(field);
    }
    form.submit();
  }
  document.addEventListener("keydown", function (event) {
    var note = document.getElementById("note");
    if (event.target === note) {
      if (event.key === "Escape") { note.blur(); event.preventDefault(); }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    var decide = document.getElementById("decide");
    var keys = { i: "include", e: "exclude", s: "skip" };
    if (document.getElementById("not-retrieved")) { keys.r = "not-retrieved"; }
    if (keys[event.key] && decide) { event.preventDefault(); submit(decide, keys[event.key]); }
    else if (event.key === "u" && document.getElementById("undo-button")) {
      event.preventDefault(); submit(document.getElementById("undo"), null);
    } else if (event.key === "n" && note) { event.preventDefault(); note.focus(); }
  });
  document.addEventListener("submit", function () { busy = true; document.body.classList.add("busy"); });
}());
