// State of the checkout, kept across its pages in sessionStorage.
function state() { return JSON.parse(sessionStorage.getItem("checkout") || "{}"); }
function save(patch) { sessionStorage.setItem("checkout", JSON.stringify(Object.assign(state(), patch))); }
function orderNumber(s) {
  let h = 7;
  for (const ch of `${s.name}|${s.street}|${s.city}|${s.postcode}|${s.card}`) h = (h * 31 + ch.charCodeAt(0)) % 9000;
  return "NW-" + (1000 + h);
}
