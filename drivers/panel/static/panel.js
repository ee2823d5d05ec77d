// The page follows the counter: it reloads when the state changes (a citizen confirmed a
// document, rated, the queue moved) unless the officer is typing in a form.
(function () {
  var main = document.getElementById("main");
  if (!main) return;
  var version = main.getAttribute("data-version");
  var typing = false;
  document.addEventListener("input", function () { typing = true; });
  function poll() {
    fetch("/status.json", {credentials: "same-origin", cache: "no-store"})
      .then(function (r) { return r.status === 401 ? {signed_in: false} : r.json(); })
      .then(function (s) {
        if (!s.signed_in || s.version !== version) {
          if (!typing) { location.reload(); return; }
        }
        setTimeout(poll, 2000);
      })
      .catch(function () { setTimeout(poll, 5000); });
  }
  setTimeout(poll, 2000);
})();
