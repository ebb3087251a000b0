// A QR code as an SVG element (no canvas, no inline style: the colours come
// from style.css), so that a phone can read a recovery link off the admin's
// screen. Byte mode, error correction M, the smallest version that fits,
// with a quiet zone of 4 modules.
import qrcode from "qrcode-generator";

const SVG = "http://www.w3.org/2000/svg";

export function qrSvg(text: string, label: string): SVGSVGElement {
  const qr = qrcode(0, "M");
  qr.addData(text, "Byte");
  qr.make();
  const n = qr.getModuleCount();
  const quiet = 4;
  const size = n + 2 * quiet;
  let d = "";
  for (let r = 0; r < n; r++) {
    for (let col = 0; col < n; col++) {
      if (qr.isDark(r, col)) d += `M${col + quiet} ${r + quiet}h1v1h-1z`;
    }
  }
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${size} ${size}`);
  svg.setAttribute("class", "qr");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", label);
  svg.setAttribute("shape-rendering", "crispEdges");
  const background = document.createElementNS(SVG, "rect");
  background.setAttribute("class", "qr-light");
  background.setAttribute("width", String(size));
  background.setAttribute("height", String(size));
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("class", "qr-dark");
  path.setAttribute("d", d);
  svg.append(background, path);
  return svg;
}
