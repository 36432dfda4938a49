// zaitaku web register: the only script. No build step; served as /static/app.js.
// 1. The day's board refreshes itself: the server-rendered table is fetched again every
//    data-interval seconds (short polling) and swapped in. A failed fetch keeps the last board.
// 2. Forms with data-confirm ask before they are sent (cancelling an order, turning a request down).
// 3. A page that answers a form puts the focus on the first field in error (its message is
//    read with it, aria-describedby) or on the answer (data-focus), so nobody has to hunt for it.
(function () {
  "use strict";
  var board = document.getElementById("board");
  if (board && board.dataset.src) {
    var every = (parseInt(board.dataset.interval, 10) || 30) * 1000;
    setInterval(function () {
      fetch(board.dataset.src, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (r) {
          if (!r.ok || r.redirected) { throw new Error("HTTP " + r.status); }
          return r.text();
        })
        .then(function (html) { board.innerHTML = html; })
        .catch(function () { /* try again at the next interval */ });
    }, every);
  }
  document.addEventListener("submit", function (e) {
    var msg = e.target.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) { e.preventDefault(); }
  });
  var first = document.querySelector("[aria-invalid=\"true\"], [data-focus]");
  if (first) { first.focus(); }
})();
