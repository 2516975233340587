// Resolves once the page's main thread has been idle: the tasks the page queued (a load
// handler's timer, the code that starts its data requests) have run. The timer caps the wait on
// a page never idle; a page that replaced either function is capped by the caller too.
// Resolves with what `icons` (tab_icons.js) answers then, and the page's title.
(icons) => new Promise((done) => {
  const idle = window.requestIdleCallback;
  const later = window.setTimeout;
  const title = () => {
    try {
      return String(document.title);
    } catch (error) {
      return null;
    }
  };
  const finish = () => done({ icons: icons(), title: title() });
  if (typeof idle === "function") idle.call(window, finish, { timeout: 500 });
  later.call(window, finish, 600);
})
