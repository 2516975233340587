// Live view of one session's browser: draws the CDP screencast frames the server pushes over a
// WebSocket and, in interactive mode, sends mouse, wheel and key events back.
(function () {
  "use strict";
  const root = document.getElementById("live");
  const screen = document.getElementById("screen");
  const status = document.getElementById("status");
  const interactive = root.dataset.interactive === "true";
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const socketUrl = scheme + "//" + location.host + root.dataset.socketPath;
  let socket = null;
  let device = { width: 0, height: 0 };
  let lastMove = 0;

  function say(text) {
    status.textContent = text;
    status.hidden = !text;
  }

  function connect() {
    say("connecting…");
    socket = new WebSocket(socketUrl);
    socket.onmessage = function (event) {
      const message = JSON.parse(event.data);
      if (message.type === "frame") {
        device = { width: message.width, height: message.height };
        screen.src = "data:image/jpeg;base64," + message.data;
        say("");
      } else if (message.type === "ended") {
        say("The session has ended: " + message.reason);
        socket.onclose = null;
      }
    };
    socket.onclose = function () {
      say("Connection lost; reconnecting…");
      setTimeout(connect, 1000);
    };
  }

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  }

  // Where a pointer event falls on the page, in the page's CSS pixels. The image keeps its
  // aspect ratio inside the element (object-fit: contain), so letterboxing is subtracted.
  function pagePoint(event) {
    const box = screen.getBoundingClientRect();
    if (!device.width || !box.width) return null;
    const scale = Math.min(box.width / device.width, box.height / device.height);
    const left = box.left + (box.width - device.width * scale) / 2;
    const top = box.top + (box.height - device.height * scale) / 2;
    const x = (event.clientX - left) / scale;
    const y = (event.clientY - top) / scale;
    if (x < 0 || y < 0 || x > device.width || y > device.height) return null;
    return { x: x, y: y };
  }

  function modifiers(event) {
    return (event.altKey ? 1 : 0) | (event.ctrlKey ? 2 : 0) | (event.metaKey ? 4 : 0) |
      (event.shiftKey ? 8 : 0);
  }

  const buttons = ["left", "middle", "right"];

  function mouse(kind) {
    return function (event) {
      const point = pagePoint(event);
      if (!point) return;
      if (kind === "mouseMoved") {
        const now = Date.now();
        if (now - lastMove < 40) return;
        lastMove = now;
      }
      event.preventDefault();
      send({
        type: "mouse", event: kind, x: point.x, y: point.y,
        button: kind === "mouseMoved" ? "none" : (buttons[event.button] || "left"),
        clickCount: kind === "mouseMoved" ? 0 : (event.detail || 1),
        modifiers: modifiers(event),
      });
    };
  }

  function key(kind) {
    return function (event) {
      if (event.isComposing) return;
      event.preventDefault();
      const printable = event.key.length === 1 && !event.ctrlKey && !event.metaKey;
      let type = kind;
      let text = "";
      if (kind === "keyDown") {
        if (printable) text = event.key;
        else if (event.key === "Enter") text = "\r";
        else type = "rawKeyDown";
      }
      send({
        type: "key", event: type, key: event.key, code: event.code, text: text,
        keyCode: event.keyCode || 0, modifiers: modifiers(event),
      });
    };
  }

  if (interactive) {
    root.classList.add("interactive");
    screen.addEventListener("mousedown", mouse("mousePressed"));
    screen.addEventListener("mouseup", mouse("mouseReleased"));
    screen.addEventListener("mousemove", mouse("mouseMoved"));
    screen.addEventListener("contextmenu", function (event) { event.preventDefault(); });
    screen.addEventListener("wheel", function (event) {
      const point = pagePoint(event);
      if (!point) return;
      event.preventDefault();
      send({ type: "wheel", x: point.x, y: point.y, deltaX: event.deltaX, deltaY: event.deltaY });
    }, { passive: false });
    document.addEventListener("keydown", key("keyDown"));
    document.addEventListener("keyup", key("keyUp"));
    screen.tabIndex = 0;
    screen.focus();
  }
  connect();
})();
