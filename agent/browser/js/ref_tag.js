// Marks an element with the number of the ref (@eN) it was acted on by, for the life of its
// document: if its accessible name changes (a "Follow" button that now says "Following"), the
// next snapshot finds the same element under Playwright's new ref and keeps our number. Kept
// in a WeakMap under a symbol-keyed global, so the mark goes with the element, never to a copy.
(el, n) => {
  const KEY = Symbol.for("browser-agent.refs");
  (window[KEY] ||= new WeakMap()).set(el, n);
}
