// Times for people (UTC, local, relative) and the token's timeline: iat, nbf, now and exp in the order they fall.

const $ = (id) => document.getElementById(id);

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

/** "in 14 min", "3 days ago", "now": `seconds` is the signed distance from now. */
export function relative(seconds) {
  const abs = Math.abs(seconds);
  if (abs < 1) return 'now';
  const units = [[86400 * 2, 86400, 'day'], [3600 * 2, 3600, 'h'], [60, 60, 'min'], [0, 1, 's']];
  const [, size, unit] = units.find(([from]) => abs >= from);
  const n = Math.floor(abs / size);
  const text = unit === 'day' ? `${n} day${n === 1 ? '' : 's'}` : `${n} ${unit}`;
  return seconds > 0 ? `in ${text}` : `${text} ago`;
}

export const utc = (t) => new Date(t * 1000).toISOString().replace('T', ' ').replace('.000Z', ' UTC');
export const local = (t) => new Date(t * 1000).toLocaleString(undefined, { timeZoneName: 'short' });

/** The moment `t` three ways: UTC, this browser's local time, and relative to `now`. */
function describeTime(t, now) {
  return `${utc(t)} · ${local(t)} · ${relative(t - now)}`;
}

const TIMELINE = [
  ['iat', 'issued at'],
  ['nbf', 'not before'],
  ['now', 'now'],
  ['exp', 'expires'],
];

export function renderTimeline(timeline) {
  const box = $('timeline-box');
  const list = $('timeline');
  list.replaceChildren();
  const now = timeline && typeof timeline.now === 'number' ? timeline.now : Date.now() / 1000;
  const points = TIMELINE.filter(([name]) => timeline && typeof timeline[name] === 'number' && name !== 'now');
  box.hidden = points.length === 0;
  if (box.hidden) return;
  const all = [...points, ['now', 'now']].map(([name, label]) => ({
    name,
    label,
    t: name === 'now' ? now : timeline[name],
  }));
  // Equal times keep the order of TIMELINE (iat, nbf, now, exp), which is how a token's life runs.
  const rank = (name) => TIMELINE.findIndex(([n]) => n === name);
  all.sort((a, b) => a.t - b.t || rank(a.name) - rank(b.name));
  for (const point of all) {
    const item = el('li', point.name === 'now' ? 'now' : point.t < now ? 'past' : 'future');
    item.dataset.point = point.name;
    item.textContent = point.name === 'now'
      ? `now · ${utc(now)}`
      : `${point.label} (${point.name}) · ${describeTime(point.t, now)}`;
    list.append(item);
  }
  const start = timeline.nbf ?? timeline.iat;
  const row = $('lifetime-row');
  row.hidden = !(typeof start === 'number' && typeof timeline.exp === 'number' && timeline.exp > start);
  if (!row.hidden) {
    const used = Math.min(1, Math.max(0, (now - start) / (timeline.exp - start)));
    $('lifetime').value = used;
    $('lifetime-text').textContent = `${Math.round(used * 100)} %`;
  }
}
