// Injected into every benchmarked page before its own scripts (Playwright init script).
// For each websocket message htmx receives: when it arrived, when its swap was done, when the DOM
// changed (MutationObserver), and the frame that painted it: the requestAnimationFrame callback that
// follows the swap, and the first task after that frame's rendering (a MessageChannel message posted
// from the callback), which runs once style, layout and paint are done. Also every frame while
// recording, long tasks, and the moment Enter was pressed in the chat input. All in performance.now() ms.
(() => {
  const B = (window.__bench = {
    msgs: [], // [arrived, applied, mutated, frameStart, painted, length]
    frames: [],
    longTasks: [],
    keyAt: null,
    recording: false,
  });
  let pending = [];
  let frameQueued = false;

  /** Paint stamps for the messages swapped in before this frame; later ones wait for the next frame. */
  function onFrame() {
    frameQueued = false;
    const batch = pending;
    pending = [];
    const start = performance.now();
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      const painted = performance.now();
      for (const i of batch) { B.msgs[i][3] = start; B.msgs[i][4] = painted; }
    };
    channel.port2.postMessage(0);
  }

  document.addEventListener("htmx:wsBeforeMessage", (e) => {
    B.msgs.push([performance.now(), null, null, null, null, e.detail.message.length]);
  });
  document.addEventListener("htmx:wsAfterMessage", () => {
    const i = B.msgs.length - 1;
    B.msgs[i][1] = performance.now();
    pending.push(i);
    if (!frameQueued) { frameQueued = true; requestAnimationFrame(onFrame); }
  });
  new MutationObserver(() => {
    const m = B.msgs[B.msgs.length - 1];
    if (m && m[2] === null) m[2] = performance.now();
  }).observe(document, { childList: true, subtree: true, characterData: true, attributes: true });

  const loop = (ts) => { if (B.recording) B.frames.push(ts); requestAnimationFrame(loop); };
  requestAnimationFrame(loop);
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) B.longTasks.push([e.startTime, e.duration]);
  }).observe({ type: "longtask", buffered: true });
  document.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && e.target && e.target.id === "chat-input") B.keyAt = performance.now();
  }, true);
})();
