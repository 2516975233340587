// Finds elements a user can click that Playwright's aria snapshot leaves without a ref:
// inline spans and the like with a pointer cursor or an onclick handler, which the snapshot
// flattens into their parent's text. Each gets an id that stays the same for the same element
// for the life of the document; the registry lives in a symbol-keyed global of the document's
// window (with a nonce naming it), so the page's own DOM, attributes and CSS are never touched.
//
// A scan of a whole document is kept, and a MutationObserver notes what changes in it. The next
// scan re-examines only what those changes can have touched: the elements they added, the
// subtrees whose attributes changed, the ancestors of changed text, and the kept clickables
// whose text or block those changes lie in. A change to a style sheet, a resize, or more changes
// than are worth following one by one make it scan the whole document again. An unchanged page
// (the next page of a capped snapshot, a step whose action changed nothing) costs no walk at all.
//
// Called with an element, it scans that subtree afresh. Called with null, it scans the document
// and every frame in it that this document can reach (same origin), in document order.
(root) => {
  const KEY = Symbol.for("browser-agent.clickables");
  const NATIVE = new Set(["A", "BUTTON", "INPUT", "SELECT", "TEXTAREA", "LABEL",
    "OPTION", "BODY", "HTML", "IFRAME", "VIDEO", "AUDIO", "DETAILS"]);
  const INLINE_SELECTOR = "span,font,b,i,em,strong,small,u,s,img,svg,code,mark,sub,sup,abbr," +
    "cite,q,time,var,kbd,samp,big,tt,dfn,ins,del,[onclick],summary";
  const INSIDE_CONTROL = "a,button,label,summary,[role=button],[role=link],[role=tab]," +
    "[role=menuitem],[role=option],[role=checkbox],[role=radio],[role=switch],[role=treeitem]";
  const MAX_CHANGES = 200; // mutation records followed one by one; past this, a whole scan
  const STYLING = new Set(["STYLE", "LINK"]);

  const registry = (win) => {
    const doc = win.document;
    let reg = win[KEY];
    // A frame's first about:blank window is kept for the document that replaces it: the
    // registry belongs to one document.
    if (reg && reg.doc === doc) return reg;
    reg = win[KEY] = { doc, nonce: `${Date.now().toString(36)}${Math.random().toString(36).slice(2)}`,
      ids: new WeakMap(), els: new Map(), next: 1, scan: null, changes: [], whole: true };
    const note = (records) => {
      if (reg.whole) return;
      if (reg.changes.length + records.length > MAX_CHANGES) {
        reg.whole = true;
        reg.changes = [];
        return;
      }
      for (const record of records) reg.changes.push(record);
    };
    reg.observer = new win.MutationObserver(note);
    reg.observer.observe(doc, { subtree: true, childList: true, attributes: true,
      characterData: true });
    reg.note = note;
    win.addEventListener("resize", () => { reg.whole = true; reg.changes = []; });
    return reg;
  };

  // The clickable an element is, or null: [item, block] for a kept scan.
  const examine = (win, reg, el) => {
    if (NATIVE.has(el.tagName) || el.hasAttribute("role") || el.hasAttribute("tabindex")) return null;
    // <summary> toggles its <details> but has no interactive role in the aria tree.
    const onclick = el.hasAttribute("onclick") || el.tagName === "SUMMARY";
    const style = win.getComputedStyle(el);
    if (!onclick && style.cursor !== "pointer") return null;
    // Block-level elements with a pointer cursor keep their own node and are marked
    // [cursor=pointer] in the aria snapshot; only an onclick gives no sign there.
    if (!onclick && !style.display.startsWith("inline")) return null;
    const parent = el.parentElement;
    if (!onclick && parent && win.getComputedStyle(parent).cursor === "pointer") return null;
    // Inside a control that already has a ref, the control takes the click; a container role
    // (tabpanel, region, listitem) is no such control.
    if (parent && parent.closest(INSIDE_CONTROL)) return null;
    const rect = el.getBoundingClientRect();
    if (rect.width === 0 && rect.height === 0) return null;
    const text = (el.innerText || el.textContent || "").replace(/\s+/g, " ").trim();
    if (!text) return null;
    let id = reg.ids.get(el);
    if (!id) {
      id = reg.next++;
      reg.ids.set(el, id);
    }
    reg.els.set(id, new WeakRef(el));
    let block = parent;
    while (block && win.getComputedStyle(block).display.startsWith("inline")) block = block.parentElement;
    const context = block ? (block.innerText || "").replace(/\s+/g, " ").trim().slice(0, 80) : "";
    return { el, block, item: { id, text: text.slice(0, 200), context } };
  };

  const scanAll = (win, reg, start) => {
    const found = [];
    for (const el of start.querySelectorAll(INLINE_SELECTOR)) {
      const hit = examine(win, reg, el);
      if (hit) found.push(hit);
    }
    return found;
  };

  // What the changes noted since the last scan call for: null when only a whole scan will do.
  const sortChanges = (records) => {
    const roots = new Set(); // subtrees to look through for clickables
    const touched = new Set(); // nodes whose text, children or attributes changed
    for (const record of records) {
      const target = record.target;
      const element = target.nodeType === 1 ? target : target.parentElement;
      if (!element || STYLING.has(element.tagName) || element.closest("head")) return null;
      touched.add(target);
      if (record.type === "attributes") {
        roots.add(element);
        continue;
      }
      for (const list of [record.addedNodes, record.removedNodes]) {
        for (const node of list) {
          if (node.nodeType !== 1) continue;
          if (STYLING.has(node.tagName) || node.querySelector("style,link")) return null;
          if (list === record.addedNodes) roots.add(node);
        }
      }
    }
    return { roots, touched };
  };

  const update = (win, reg, changes) => {
    const { roots, touched } = changes;
    const inRoots = (el) => { for (const r of roots) if (r.contains(el)) return true; return false; };
    // A block's text (a clickable's context) changes with anything changed inside it.
    const near = (block) => { for (const t of touched) if (!block || block.contains(t)) return true; return false; };
    const result = new Map(); // element -> hit, kept or found again
    const again = new Set(); // elements to examine again
    for (const hit of reg.scan) {
      if (!hit.el.isConnected) continue;
      if (inRoots(hit.el) || near(hit.block)) again.add(hit.el);
      else result.set(hit.el, hit);
    }
    for (const r of roots) {
      if (!r.isConnected) continue;
      if (r.matches(INLINE_SELECTOR)) again.add(r);
      for (const el of r.querySelectorAll(INLINE_SELECTOR)) again.add(el);
    }
    // Changed text or attributes may give an empty element its first words, or a size.
    for (const t of touched) {
      for (let el = t.nodeType === 1 ? t : t.parentElement; el; el = el.parentElement) {
        if (el.isConnected && el.matches(INLINE_SELECTOR)) again.add(el);
      }
    }
    for (const el of again) {
      const hit = examine(win, reg, el);
      if (hit) result.set(el, hit);
    }
    // Document order, as a whole scan finds them (an added or moved element may be anywhere).
    const hits = [...result.values()];
    hits.sort((a, b) => (a.el.compareDocumentPosition(b.el) & Node.DOCUMENT_POSITION_FOLLOWING ? -1 : 1));
    return hits;
  };

  const scanDocument = (win) => {
    const reg = registry(win);
    const pending = reg.observer.takeRecords();
    if (pending.length) reg.note(pending);
    if (reg.scan === null || reg.whole) {
      const start = win.document.body || win.document.documentElement;
      reg.scan = start ? scanAll(win, reg, start) : [];
    } else if (reg.changes.length) {
      const changes = sortChanges(reg.changes);
      reg.scan = changes ? update(win, reg, changes) : scanAll(win, reg, win.document.body || win.document.documentElement);
    }
    reg.whole = false;
    reg.changes = [];
    return { nonce: reg.nonce, doc: win.performance.timeOrigin, items: reg.scan.map((hit) => hit.item) };
  };

  if (root) {
    const win = root.ownerDocument.defaultView;
    const reg = registry(win);
    return { doc: win.performance.timeOrigin, title: document.title,
      items: scanAll(win, reg, root).map((hit) => hit.item) };
  }
  const main = scanDocument(window);
  // Frames this document can reach, depth first in document order; the others (another origin,
  // or sandboxed) are scanned from their own context.
  const frames = [];
  let reached = 0;
  const visit = (win) => {
    for (let i = 0; i < win.frames.length; i++) {
      let child;
      try {
        child = win.frames[i];
        if (!child.document) continue;
      } catch {
        continue;
      }
      reached++;
      const scan = scanDocument(child);
      if (scan.items.length) frames.push(scan);
      visit(child);
    }
  };
  visit(window);
  return { ...main, title: document.title, frames, reached };
}
