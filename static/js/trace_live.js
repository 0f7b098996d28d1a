// Live trace: speeds up the page's catch-up request when the server pushes a "changed" ping.
//
// The page works without this file: its steps tail polls /runs/<id>/steps/?after=<seq> every
// second while the run is not finished. When the tail carries data-socket (the server has a
// shared channel layer), this opens the websocket; each ping triggers the same catch-up request
// at once, and while the socket is open the one-second polling pauses (a ten-second poll stays
// as a safety net). A reconnect loses nothing: the next request asks for everything after the
// last step shown.
(function () {
  "use strict";

  var socket = null;
  var socketOpen = false;
  var retryDelay = 1000;
  var catchUpAgain = false;

  // Used by the tail's hx-trigger filter: poll every second unless pings arrive.
  window.agentopsPollFast = function () {
    return !socketOpen;
  };

  function liveTail() {
    return document.querySelector(".steps-tail[data-live]");
  }

  function catchUp() {
    var tail = liveTail();
    if (!tail || !window.htmx) return;
    // The tail drops triggers while its request is in flight (so rows are never appended
    // twice); remember the ping and ask again once that request has been swapped in.
    if (tail.classList.contains("htmx-request")) {
      catchUpAgain = true;
      return;
    }
    window.htmx.trigger(tail, "runchanged");
  }

  function connect() {
    var tail = liveTail();
    if (!tail || !tail.dataset.socket || !("WebSocket" in window)) return;
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + tail.dataset.socket);
    socket.onopen = function () {
      socketOpen = true;
      retryDelay = 1000;
      catchUp(); // whatever happened while the socket was down
    };
    socket.onmessage = catchUp;
    socket.onclose = function (event) {
      socketOpen = false;
      socket = null;
      // 44xx: not signed in or no such run here; don't insist. Otherwise back off and retry
      // for as long as the run is live.
      if (event.code >= 4400 && event.code < 4500) return;
      if (liveTail()) {
        setTimeout(connect, retryDelay);
        retryDelay = Math.min(retryDelay * 2, 30000);
      }
    };
  }

  document.addEventListener("htmx:afterSettle", function () {
    if (!liveTail() && socket) socket.close(1000); // the run finished: nothing more to hear
    if (catchUpAgain) {
      catchUpAgain = false;
      catchUp();
    }
  });

  // A step re-rendered because it changed keeps its expanded state.
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var target = event.detail.target;
    var fragment = event.detail.fragment;
    if (!target || !fragment || target.tagName !== "DETAILS" || !target.open) return;
    var incoming = fragment.nodeType === 11 ? fragment.firstElementChild : fragment;
    if (incoming && incoming.tagName === "DETAILS") incoming.open = true;
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", connect);
  } else {
    connect();
  }
})();
