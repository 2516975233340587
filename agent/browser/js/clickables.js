// Finds elements a user can click that Playwright's aria snapshot leaves without a ref:
// inline spans and the like with a pointer cursor or an onclick handler, which the snapshot
// flattens into their parent's text. Each gets an id that stays the same for the same element
// for the life of the document; the registry lives in a symbol-keyed global, so the page's own
// DOM, attributes and CSS are never touched. A scan of the whole document is kept until the DOM
// changes (a MutationObserver) or the viewport is resized, so a snapshot of a page that has not
// changed since the last one (the next page of a capped snapshot, a scoped look after a full
// one, a step whose action changed nothing) costs no second walk of the DOM.
(root) => {
  const KEY = Symbol.for("browser-agent.clickables");
  const reg = (window[KEY] ||= { ids: new WeakMap(), els: new Map(), next: 1, scan: null });
  if (!reg.observer) {
    const forget = () => { reg.scan = null; };
    reg.observer = new MutationObserver(forget);
    reg.observer.observe(document, { subtree: true, childList: true, attributes: true,
      characterData: true });
    addEventListener("resize", forget);
  }
  const title = document.title;
  if (!root && reg.scan) return { doc: performance.timeOrigin, title, items: reg.scan };
  const NATIVE = new Set(["A", "BUTTON", "INPUT", "SELECT", "TEXTAREA", "LABEL",
    "OPTION", "BODY", "HTML", "IFRAME", "VIDEO", "AUDIO", "DETAILS"]);
  const INLINE_SELECTOR = "span,font,b,i,em,strong,small,u,s,img,svg,code,mark,sub,sup,abbr," +
    "cite,q,time,var,kbd,samp,big,tt,dfn,ins,del,[onclick],summary";
  const INSIDE_CONTROL = "a,button,label,summary,[role=button],[role=link],[role=tab]," +
    "[role=menuitem],[role=option],[role=checkbox],[role=radio],[role=switch],[role=treeitem]";
  const out = [];
  const start = root || document.body || document.documentElement;
  if (!start) return { doc: performance.timeOrigin, title, items: out };
  // Only inline-level tags can be folded into text by the aria snapshot (plus anything with an
  // onclick); asking the selector engine for them first keeps the style look-ups few.
  const candidates = start.querySelectorAll(INLINE_SELECTOR);
  for (const el of candidates) {
    if (NATIVE.has(el.tagName) || el.hasAttribute("role") || el.hasAttribute("tabindex")) continue;
    // <summary> toggles its <details> but has no interactive role in the aria tree.
    const onclick = el.hasAttribute("onclick") || el.tagName === "SUMMARY";
    const style = getComputedStyle(el);
    if (!onclick && style.cursor !== "pointer") continue;
    // Block-level elements with a pointer cursor keep their own node and are marked
    // [cursor=pointer] in the aria snapshot; only an onclick gives no sign there.
    if (!onclick && !style.display.startsWith("inline")) continue;
    const parent = el.parentElement;
    if (!onclick && parent && getComputedStyle(parent).cursor === "pointer") continue;
    // Inside a control that already has a ref, the control takes the click; a container role
    // (tabpanel, region, listitem) is no such control.
    if (el.parentElement && el.parentElement.closest(INSIDE_CONTROL)) continue;
    const rect = el.getBoundingClientRect();
    if (rect.width === 0 && rect.height === 0) continue;
    const text = (el.innerText || el.textContent || "").replace(/\s+/g, " ").trim();
    if (!text) continue;
    let id = reg.ids.get(el);
    if (!id) {
      id = reg.next++;
      reg.ids.set(el, id);
    }
    reg.els.set(id, new WeakRef(el));
    let block = el.parentElement;
    while (block && getComputedStyle(block).display.startsWith("inline")) block = block.parentElement;
    const context = block ? (block.innerText || "").replace(/\s+/g, " ").trim().slice(0, 80) : "";
    out.push({ id, text: text.slice(0, 200), context });
  }
  if (!root) reg.scan = out;
  return { doc: performance.timeOrigin, title, items: out };
}
