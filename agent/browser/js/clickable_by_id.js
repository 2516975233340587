// Returns the clickable element registered under an id, or null when it is gone.
(id) => {
  const reg = window[Symbol.for("browser-agent.clickables")];
  const el = reg && reg.els.get(id) && reg.els.get(id).deref();
  return el && el.isConnected ? el : null;
}
