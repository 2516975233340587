// Says why an element cannot take a pointer action, before Playwright waits out its timeout:
// detached, hidden, disabled, or covered by another element (and which one).
(el) => {
  const describe = (n) => {
    let s = n.tagName.toLowerCase();
    if (n.id) s += "#" + n.id;
    if (n.classList && n.classList.length) s += "." + Array.from(n.classList).slice(0, 3).join(".");
    const role = n.getAttribute && n.getAttribute("role");
    if (role) s += `[role=${role}]`;
    const text = (n.innerText || n.textContent || "").replace(/\s+/g, " ").trim().slice(0, 60);
    if (text) s += ` "${text}"`;
    return s;
  };
  if (!el.isConnected) return { problem: "detached" };
  // A link or a form's submit that opens a new tab: the caller waits for the tab to be announced.
  const link = el.closest("a[href], area[href]");
  const submits = el.form && (el.type === "submit" || el.type === "image");
  const target = link ? link.target : submits ? el.formTarget || el.form.target : "";
  const opensTab = (target || "").toLowerCase() === "_blank";
  if (el.disabled || el.getAttribute("aria-disabled") === "true" || el.closest("fieldset:disabled")) {
    return { problem: "disabled" };
  }
  el.scrollIntoView({ block: "center", inline: "center", behavior: "instant" });
  const rects = el.getClientRects();
  const style = getComputedStyle(el);
  if (!rects.length || style.visibility === "hidden" || style.display === "none") {
    return { problem: "hidden" };
  }
  const r = el.getBoundingClientRect();
  const x = Math.min(Math.max(r.left + r.width / 2, 0), innerWidth - 1);
  const y = Math.min(Math.max(r.top + r.height / 2, 0), innerHeight - 1);
  const root = el.getRootNode();
  const top = (root.elementFromPoint ? root : document).elementFromPoint(x, y);
  if (!top || top === el || el.contains(top) || top.contains(el)) return { problem: null, opensTab };
  // A label that forwards its click to this control is not an obstruction.
  if (top.closest && top.closest("label") && top.closest("label").control === el) return { problem: null, opensTab };
  return { problem: "covered", by: describe(top) };
}
