// Returns the clickable element registered under an id, or null when it is gone: in this
// window's registry, which must be the one the nonce names when one is given. A registry of a
// document that was replaced is gone.
([nonce, id]) => {
  const reg = window[Symbol.for("browser-agent.clickables")];
  if (!reg || reg.doc !== document || (nonce !== null && reg.nonce !== nonce)) return null;
  const el = reg.els.get(id) && reg.els.get(id).deref();
  return el && el.isConnected ? el : null;
}
