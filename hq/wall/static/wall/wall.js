// The live wall: asks /live/data for the tiles changed since its cursor twice a second
// and swaps them in place (no reload). A tile of a station not on the page yet gets one.
(function () {
  "use strict";
  var wall = document.getElementById("wall");
  if (!wall) { return; }
  var cursor = wall.dataset.cursor;
  var live = document.getElementById("wall-live");
  var busy = false;

  function section(site, name) {
    var found = wall.querySelector('section.station[data-site="' + CSS.escape(site) + '"]');
    if (found) { return found.querySelector(".tiles"); }
    var s = document.createElement("section");
    s.className = "station card";
    s.dataset.site = site;
    var h = document.createElement("h2");
    h.textContent = name;
    var tiles = document.createElement("div");
    tiles.className = "tiles";
    s.appendChild(h);
    s.appendChild(tiles);
    wall.appendChild(s);
    return tiles;
  }

  function apply(tiles) {
    tiles.forEach(function (t) {
      var old = wall.querySelector('.tile[data-key="' + CSS.escape(t.key) + '"]');
      var box = document.createElement("div");
      box.innerHTML = t.html;
      var fresh = box.firstElementChild;
      if (old) { old.replaceWith(fresh); } else { section(t.site, t.station).appendChild(fresh); }
    });
  }

  function poll() {
    if (busy) { return; }
    busy = true;
    var q = new URLSearchParams(window.location.search);
    q.set("since", cursor);
    fetch(wall.dataset.url + "?" + q.toString(), {credentials: "same-origin"})
      .then(function (r) {
        if (r.status === 403 || r.redirected) { window.location.reload(); }
        if (!r.ok) { throw new Error(r.status); }
        return r.json();
      })
      .then(function (d) {
        apply(d.tiles);
        cursor = d.cursor;
        live.textContent = "实时更新中";
        live.classList.remove("overdue");
      })
      .catch(function () {
        live.textContent = "与平台的连接中断，正在重试";
        live.classList.add("overdue");
      })
      .finally(function () { busy = false; });
  }
  window.setInterval(poll, 500);
}());
