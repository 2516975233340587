// Resolves once the page's main thread has been idle: the tasks the page queued (a load
// handler's timer, the code that starts its data requests) have run. The timer caps the wait on
// a page never idle; a page that replaced either function is capped by the caller too.
() => new Promise((done) => {
  const idle = window.requestIdleCallback;
  const later = window.setTimeout;
  if (typeof idle === "function") idle.call(window, () => done(), { timeout: 500 });
  later.call(window, () => done(), 600);
})
