// latgraph spread-graph component (st.components.v2): runs in the app page, hosts the pyvis page
// in an iframe sandboxed with allow-scripts only (opaque origin: the graph's scripts cannot reach
// the app page, its cookies or storage) and forwards clicks from the graph to Python.
//
// Protocol with the graph page (app/ui/graph_html.py _POST_SCRIPT), over window.postMessage:
//   graph -> here: {type: "latgraph-select", kind: "node"|"edge", id, hop_ids}
//   here -> graph: {type: "latgraph-focus", id}   (select and centre a node chosen in the app)
// Here -> Python: setTriggerValue("select", {kind, id, hop_ids, n}) (n makes repeated clicks distinct).
export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  const html = (data && data.html) || "";
  const height = Number((data && data.height) || 650);
  const focus = (data && data.focus) || null;
  let box = parentElement.querySelector("div.latgraph-graph");
  if (!box) {
    box = document.createElement("div");
    box.className = "latgraph-graph";
    parentElement.appendChild(box);
  }
  if (box.lgHtml !== html) {
    box.lgHtml = html;
    box.replaceChildren();
    const frame = document.createElement("iframe");
    frame.setAttribute("sandbox", "allow-scripts");
    frame.setAttribute("title", "spread graph");
    frame.setAttribute("data-testid", "latgraph-graph-frame");
    frame.style.width = "100%";
    frame.style.border = "0";
    frame.style.height = height + "px";
    frame.srcdoc = html;
    box.appendChild(frame);
    box.lgFrame = frame;
    box.lgSent = null;
  }
  const frame = box.lgFrame;
  const sendFocus = () => {
    if (focus && frame.contentWindow && box.lgSent !== focus) {
      box.lgSent = focus;
      frame.contentWindow.postMessage({ type: "latgraph-focus", id: String(focus) }, "*");
    }
  };
  if (box.lgListener) window.removeEventListener("message", box.lgListener);
  box.lgListener = (ev) => {
    if (!box.lgFrame || ev.source !== box.lgFrame.contentWindow) return;
    const m = ev.data;
    if (!m || typeof m !== "object") return;
    if (m.type === "latgraph-ready") { box.lgSent = null; sendFocus(); return; }
    if (m.type !== "latgraph-select") return;
    const kind = m.kind === "edge" ? "edge" : "node";
    const hops = Array.isArray(m.hop_ids) ? m.hop_ids.filter((h) => Number.isInteger(h)) : [];
    box.lgClicks = (box.lgClicks || 0) + 1;
    setTriggerValue("select", { kind: kind, id: String(m.id), hop_ids: hops, n: box.lgClicks });
  };
  window.addEventListener("message", box.lgListener);
  sendFocus();
  return () => {
    if (box.lgListener) window.removeEventListener("message", box.lgListener);
    box.lgListener = null;
  };
}
