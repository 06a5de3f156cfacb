// Colours of entity types and full tags (B-/M-/E-/S-), shared by the highlighting and the viewer.
// The type → colour map follows the loaded model's type list (setTypes).

const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#59a14f', '#b07aa1', '#edc948', '#76b7b2',
  '#ff9da7', '#9c755f', '#8cd17d', '#d37295', '#499894', '#86bcb6', '#f1ce63'];
const NON_ENTITY = '#c3c8d2';
let typeColours = new Map();

export function setTypes(types) {
  typeColours = new Map(types.map((t, i) => [t, PALETTE[i % PALETTE.length]]));
}
export function colourOfType(t) {
  if (!t || t === 'Non-Entity' || t === 'O') return NON_ENTITY;
  if (!typeColours.has(t)) typeColours.set(t, PALETTE[typeColours.size % PALETTE.length]);
  return typeColours.get(t);
}
export function splitTag(tag) {
  if (!tag || tag === 'O') return { pos: 'O', type: null };
  const m = /^([BIMES])[-_](.+)$/.exec(tag);
  return m ? { pos: m[1], type: m[2] } : { pos: 'O', type: null };
}
function mix(hex, other, w) {
  const a = parseInt(hex.slice(1), 16), b = parseInt(other.slice(1), 16);
  const ch = (x, s) => (x >> s) & 255;
  const c = [16, 8, 0].map((s) => Math.round(ch(a, s) * (1 - w) + ch(b, s) * w));
  return '#' + c.map((x) => x.toString(16).padStart(2, '0')).join('');
}
// Full-tag colours: the class's hue, darkest at B, lightest at E/S.
export function colourOfTag(tag) {
  const { pos, type } = splitTag(tag);
  const base = colourOfType(type);
  if (!type) return base;
  return { B: mix(base, '#000000', 0.45), I: base, M: base, E: mix(base, '#ffffff', 0.45), S: mix(base, '#ffffff', 0.75) }[pos];
}
