// The ref number an element was marked with (see ref_tag.js), or null.
(el) => {
  const marks = window[Symbol.for("browser-agent.refs")];
  const n = marks && marks.get(el);
  return typeof n === "number" ? n : null;
}
