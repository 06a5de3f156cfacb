// DOM helpers shared by the page's parts: lookup and creation of elements, HTML escaping, the
// status line and the one tooltip the tagger and the viewer share.

export const $ = (id) => document.getElementById(id);

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k === 'style') e.style.cssText = v;
    else if (k.startsWith('data-')) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children) e.append(c);
  return e;
}

export const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

export function setStatus(text, kind = 'info') {
  const s = $('status');
  s.textContent = text;
  s.dataset.state = kind;
}

export function showTooltip(x, y, html) {
  const t = $('tooltip');
  t.innerHTML = html;
  t.hidden = false;
  const w = t.offsetWidth, h = t.offsetHeight;
  t.style.left = `${Math.min(x + 14, innerWidth - w - 8)}px`;
  t.style.top = `${y + 18 + h > innerHeight ? y - h - 10 : y + 18}px`;
}

export function hideTooltip() {
  $('tooltip').hidden = true;
}
