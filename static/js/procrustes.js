// Stable axes for an animated 2-D scatter: each new PCA frame is turned onto the previous one by
// orthogonal Procrustes (the rotation or reflection that best fits it), so PCA's arbitrary axis
// signs and order never show as a flip or a swap between frames. Pure: typed arrays in and out.

// `next` (n × 2, row-major) centred, then rotated or reflected to best fit `prev` (n × 2, centred
// the same way); returns a new Float32Array. With no `prev`, `next` centred.
export function alignTo(prev, next, n) {
  const q = centred(next, n);
  if (!prev) return q;
  const p = centred(prev, n);
  // For q' = R q with R a rotation by θ: Σ p·q' = c·A + s·B, largest at θ = atan2(B, A), value
  // hypot(A, B). A reflection first (y → −y) gives the same with its own sums; take the better.
  let a = 0, b = 0, ar = 0, br = 0;
  for (let i = 0; i < n; i++) {
    const px = p[2 * i], py = p[2 * i + 1], qx = q[2 * i], qy = q[2 * i + 1];
    a += px * qx + py * qy;
    b += py * qx - px * qy;
    ar += px * qx - py * qy;
    br += py * qx + px * qy;
  }
  const reflect = Math.hypot(ar, br) > Math.hypot(a, b);
  const th = reflect ? Math.atan2(br, ar) : Math.atan2(b, a);
  const c = Math.cos(th), s = Math.sin(th);
  const out = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) {
    const x = q[2 * i], y = reflect ? -q[2 * i + 1] : q[2 * i + 1];
    out[2 * i] = c * x - s * y;
    out[2 * i + 1] = s * x + c * y;
  }
  return out;
}

function centred(xy, n) {
  let mx = 0, my = 0;
  for (let i = 0; i < n; i++) { mx += xy[2 * i] / n; my += xy[2 * i + 1] / n; }
  const out = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) { out[2 * i] = xy[2 * i] - mx; out[2 * i + 1] = xy[2 * i + 1] - my; }
  return out;
}

// The point set at `t` ∈ [0, 1] between `from` and `to` (same length), eased.
export function tween(from, to, t) {
  const e = t < 0.5 ? 2 * t * t : 1 - (-2 * t + 2) ** 2 / 2;
  const out = new Float32Array(to.length);
  for (let i = 0; i < to.length; i++) out[i] = from[i] + (to[i] - from[i]) * e;
  return out;
}
