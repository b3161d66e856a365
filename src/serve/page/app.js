// The drawing page of digitnet-serve: pointer strokes on a canvas, sent as a PNG
// to POST /api/predict while you draw (debounced); the answer as probability bars
// and as the 28x28 picture the network saw. Photos go through the same API.
'use strict';

const canvas = document.getElementById('canvas');
const ctx = canvas.getContext('2d');
const el = id => document.getElementById(id);
const model = { rows: 28, cols: 28, classes: 10 };

// ---- drawing: black ink on white paper, as on a scanned page ----
let seq = 0;       // changes with every change of the drawing (canvas data-seq)
let ink = null;    // the ink's bounding box {x0, y0, x1, y1}, in canvas pixels
let pen = null;    // the pointer drawing now, and where it was

function bump() { seq += 1; canvas.dataset.seq = String(seq); }
function strokeWidth() { return canvas.height / 16; }

function clearDrawing() {
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ink = null;
  bump();
  const photo = el('photo');
  if (photo.src) URL.revokeObjectURL(photo.src);
  photo.removeAttribute('src');
  el('file').value = '';
  showNothing('Draw something.');
  el('answer').dataset.seq = String(seq);
}

function canvasPoint(e) {
  const r = canvas.getBoundingClientRect();
  return { x: (e.clientX - r.left) * canvas.width / r.width, y: (e.clientY - r.top) * canvas.height / r.height };
}

function grow(p) {
  const h = strokeWidth() / 2;
  if (!ink) ink = { x0: p.x - h, y0: p.y - h, x1: p.x + h, y1: p.y + h };
  ink = { x0: Math.min(ink.x0, p.x - h), y0: Math.min(ink.y0, p.y - h), x1: Math.max(ink.x1, p.x + h), y1: Math.max(ink.y1, p.y + h) };
}

// A segment with round caps; a zero-length one is a dot.
function segment(a, b) {
  ctx.strokeStyle = '#111';
  ctx.lineWidth = strokeWidth();
  ctx.lineCap = 'round';
  ctx.lineJoin = 'round';
  ctx.beginPath();
  ctx.moveTo(a.x, a.y);
  ctx.lineTo(b.x, b.y);
  ctx.stroke();
  grow(a);
  grow(b);
  bump();
}

canvas.addEventListener('pointerdown', e => {
  if (pen) return;
  e.preventDefault();
  canvas.setPointerCapture(e.pointerId);
  pen = { id: e.pointerId, at: canvasPoint(e) };
  segment(pen.at, pen.at);
});
canvas.addEventListener('pointermove', e => {
  if (!pen || e.pointerId !== pen.id) return;
  const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
  for (const ev of events.length ? events : [e]) {
    const p = canvasPoint(ev);
    segment(pen.at, p);
    pen.at = p;
  }
  schedule(200);
});
function penUp(e) {
  if (!pen || e.pointerId !== pen.id) return;
  pen = null;
  schedule(0);
}
canvas.addEventListener('pointerup', penUp);
canvas.addEventListener('pointercancel', penUp);
el('clear').addEventListener('click', clearDrawing);

// ---- asking the server: one request at a time, the newest drawing last ----
let timer = null, busy = false;

// While the pen moves, a read every 200 ms at most; when it is lifted, one at once.
function schedule(ms) {
  if (timer !== null && ms > 0) return;
  clearTimeout(timer);
  timer = setTimeout(() => { timer = null; readDrawing(); }, ms);
}

async function readDrawing() {
  if (busy || !ink) return;
  busy = true;
  const at = seq;
  const number = ink.x1 - ink.x0 > ink.y1 - ink.y0;  // wider than tall: a number
  const png = await new Promise(done => canvas.toBlob(done, 'image/png'));
  await ask(png, number, at);
  busy = false;
  if (at !== seq && ink && !pen) schedule(0);  // drawn on meanwhile
}

async function ask(body, number, at) {
  el('status').textContent = 'reading…';
  el('status').className = '';
  try {
    const res = await fetch('/api/predict' + (number ? '?read=1' : ''), {
      method: 'POST', body, headers: { 'Content-Type': body.type || 'application/octet-stream' } });
    const answer = await res.json();
    if (!res.ok) throw new Error(answer.error || res.statusText);
    show(answer, number);
  } catch (err) {
    showNothing(String(err.message || err));
    el('status').className = 'error';
  }
  el('answer').dataset.seq = String(at);
}

// ---- the answer ----
function percent(p) { return (100 * p).toFixed(1) + '%'; }

function showNothing(message) {
  el('digit').textContent = '?';
  el('probability').textContent = '';
  el('uncertain').hidden = true;
  el('bars').replaceChildren();
  el('seen').replaceChildren();
  el('status').textContent = message;
}

function show(answer, number) {
  const digits = number ? answer.digits : [answer];
  el('digit').textContent = number ? answer.number : String(answer.digit);
  el('probability').textContent = percent(answer.probability);
  el('uncertain').hidden = !answer.uncertain;
  el('status').textContent = number ? `a number of ${digits.length} digit(s); the bars are for the one marked below`
                                    : 'the probability of every class:';
  let weakest = 0;
  digits.forEach((d, i) => { if (d.probability < digits[weakest].probability) weakest = i; });
  const figures = digits.map((d, i) => seenFigure(d, () => select(i)));
  el('seen').replaceChildren(...figures);
  function select(i) {
    figures.forEach((f, k) => f.classList.toggle('selected', k === i && digits.length > 1));
    showBars(digits[i]);
  }
  select(weakest);
}

function showBars(d) {
  const p = new Array(model.classes).fill(0);
  for (const [c, q] of d.top) p[c] = q;
  const cells = [];
  p.forEach((q, c) => {
    const label = document.createElement('span');
    label.textContent = String(c);
    const bar = document.createElement('div');
    bar.className = 'bar' + (c === d.digit ? ' top' : '');
    const fill = document.createElement('span');
    fill.style.width = percent(q);
    bar.append(fill);
    const value = document.createElement('span');
    value.textContent = percent(q);
    cells.push(label, bar, value);
  });
  el('bars').replaceChildren(...cells);
}

// The network's input, light ink on black, one canvas pixel per input pixel (CSS enlarges it).
function seenFigure(d, onClick) {
  const figure = document.createElement('figure');
  const view = document.createElement('canvas');
  view.width = model.cols;
  view.height = model.rows;
  const img = view.getContext('2d').createImageData(model.cols, model.rows);
  d.pixels.forEach((v, i) => { img.data.set([v, v, v, 255], 4 * i); });
  view.getContext('2d').putImageData(img, 0, 0);
  const caption = document.createElement('figcaption');
  caption.textContent = `${d.digit} (${percent(d.probability)})`;
  figure.append(view, caption);
  figure.addEventListener('click', onClick);
  return figure;
}

// ---- photos: the file picker, or a file dropped on the page ----
function upload(file) {
  if (!file) return;
  const photo = el('photo');
  if (photo.src) URL.revokeObjectURL(photo.src);
  photo.src = URL.createObjectURL(file);
  ask(file, el('file-number').checked, 'photo');
}
el('file').addEventListener('change', e => upload(e.target.files[0]));
const drop = el('drop');
for (const target of [drop, canvas]) {
  target.addEventListener('dragover', e => { e.preventDefault(); drop.classList.add('over'); });
  target.addEventListener('dragleave', () => drop.classList.remove('over'));
  target.addEventListener('drop', e => {
    e.preventDefault();
    drop.classList.remove('over');
    upload(e.dataTransfer.files[0]);
  });
}

// ---- the model ----
fetch('/api/model').then(r => r.json()).then(m => {
  Object.assign(model, { rows: m.rows, cols: m.cols, classes: m.classes });
  const accuracy = m.test_accuracy === null ? 'no test accuracy recorded' : `test accuracy ${percent(m.test_accuracy)}`;
  el('model').textContent = `Model ${m.model}, step ${m.step}, ${accuracy}.`;
}).catch(() => { el('model').textContent = 'The model could not be described.'; });

clearDrawing();
