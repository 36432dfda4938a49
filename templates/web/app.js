// zaitaku web register: the only script. No build step; served as /static/app.js.
// 1. The day's board refreshes itself: the server-rendered table is fetched again every
//    data-interval seconds (short polling) and swapped in. A failed fetch keeps the last board.
//    When it changed, the live region outside the table (#board-live, aria-live="polite") says
//    so in one line 「更新しました: 9 名中 未着 2 名・遅れ 1 名」, read by a screen reader when it is
//    idle; the focus is left where it is. The checkbox #board-auto stops and restarts it
//    (WCAG 2.2.2: a person may stop content that updates itself).
// 2. Forms with data-confirm ask before they are sent (cancelling an order, turning a request down).
// 3. A page that answers a form puts the focus on the first field in error (its message is
//    read with it, aria-describedby) or on the answer (data-focus), so nobody has to hunt for it.
(function () {
  "use strict";
  var board = document.getElementById("board");
  var live = document.getElementById("board-live");
  var auto = document.getElementById("board-auto");
  if (board && board.dataset.src) {
    var every = (parseInt(board.dataset.interval, 10) || 30) * 1000;
    // Without this script there is no refresh, so the checkbox is shown only with it.
    var control = document.getElementById("board-auto-control");
    if (control) { control.hidden = false; }
    setInterval(function () {
      if (auto && !auto.checked) { return; }
      fetch(board.dataset.src, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (r) {
          if (!r.ok || r.redirected) { throw new Error("HTTP " + r.status); }
          return r.text();
        })
        .then(function (html) {
          // Compared as the browser writes both out, so only a real change is announced.
          var fresh = document.createElement("div");
          fresh.innerHTML = html;
          if (fresh.innerHTML.trim() === board.innerHTML.trim()) { return; }
          board.innerHTML = html;
          var summary = board.querySelector("[data-summary]");
          if (live && summary) { live.textContent = "更新しました: " + summary.dataset.summary; }
        })
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
