// Resolves once the page's main thread has been idle: the tasks the page queued (a load
// handler's timer, the code that starts its data requests) have run. The timer caps the wait on
// a page never idle; a page that replaced either function is capped by the caller too.
// Resolves with the tab's icon addresses (its `rel=icon` links and the origin's /favicon.ico),
// which the browser fetches for itself once the page has loaded: nothing on the page waits
// for them (the caller checks the answer's shape; the page can replace what this calls).
() => new Promise((done) => {
  const idle = window.requestIdleCallback;
  const later = window.setTimeout;
  const icons = () => {
    const links = [...document.querySelectorAll('link[rel~="icon" i][href]')].map((l) => l.href);
    return /^https?:$/.test(location.protocol) ? [...links, location.origin + "/favicon.ico"] : links;
  };
  const finish = () => {
    try {
      done(icons());
    } catch (error) {
      done([]);
    }
  };
  if (typeof idle === "function") idle.call(window, finish, { timeout: 500 });
  later.call(window, finish, 600);
})
