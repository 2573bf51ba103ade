// One self-contained HTML page for a trace: a timeline per task, each step's kernel
// functions and effects, and the objects' refcounts and pointers at the selected step, with
// violations highlighted. No network, no external assets: data, style and script are inline.
import type { Trace } from '../sim/trace/format.ts';
import { objectHistories } from './objects.ts';

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function traceHtml(t: Trace, title: string): string {
  const tasks = [...new Set(t.steps.map((s) => s.task))];
  const data = {
    title,
    scenario: t.scenario.name,
    description: t.scenario.description,
    kernel: t.kernel,
    mutants: t.mutants,
    passed: t.passed,
    tasks,
    steps: t.steps,
    violations: t.violations,
    objects: objectHistories(t),
  };
  // </script> inside the JSON would end the script element early
  const json = JSON.stringify(data).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${esc(title)}</title>
<style>
  body { font: 13px/1.4 system-ui, sans-serif; margin: 0; color: #1d2330; background: #fafbfc; }
  header { padding: 12px 18px; background: #243047; color: #fff; }
  header h1 { font-size: 17px; margin: 0 0 4px; }
  header .meta { opacity: .85; }
  .verdict { display: inline-block; padding: 1px 8px; border-radius: 9px; font-weight: 600; margin-left: 8px; }
  .pass { background: #2f9e57; } .fail { background: #d2383f; }
  main { display: grid; grid-template-columns: minmax(420px, 1.2fr) minmax(380px, 1fr); gap: 12px; padding: 12px 18px; }
  section { background: #fff; border: 1px solid #dde2ea; border-radius: 6px; overflow: auto; max-height: calc(100vh - 150px); }
  h2 { font-size: 14px; margin: 0; padding: 8px 10px; border-bottom: 1px solid #dde2ea; background: #f2f4f8; position: sticky; top: 0; }
  table { border-collapse: collapse; width: 100%; }
  td, th { padding: 3px 6px; border-bottom: 1px solid #eef0f4; vertical-align: top; text-align: left; }
  th { font-weight: 600; color: #56607a; background: #fafbfc; position: sticky; top: 33px; }
  tr.step { cursor: pointer; } tr.step:hover { background: #eef4ff; }
  tr.sel { background: #dbe7ff !important; }
  tr.bad { background: #fde8e9; }
  td.lane { font-family: ui-monospace, monospace; font-size: 12px; color: #2a3a66; min-width: 120px; }
  td.n { color: #8a93a8; text-align: right; }
  .phase { color: #8a93a8; font-size: 11px; }
  .effects div { font-family: ui-monospace, monospace; font-size: 12px; }
  .k-refcount { color: #7a3fb3; } .k-ptr { color: #1f6fb2; } .k-free, .k-alloc { color: #8a5a00; }
  .k-rcu { color: #0c7f73; } .k-wire { color: #56607a; } .violation { color: #c4161c; font-weight: 600; }
  .obj td:first-child { font-family: ui-monospace, monospace; white-space: nowrap; }
  .freed { color: #c4161c; } .pending { color: #b07000; } .changed { background: #fff3bf; }
  #slider { width: calc(100% - 20px); margin: 8px 10px; }
  .violations li { margin: 4px 0; }
</style>
</head>
<body>
<header>
  <h1 id="title"></h1>
  <div class="meta" id="meta"></div>
</header>
<main>
  <section>
    <h2>Timeline: one column per task, one row per atomic step</h2>
    <table id="timeline"></table>
  </section>
  <section>
    <h2>Step <span id="cur"></span></h2>
    <input type="range" id="slider" min="1">
    <div class="effects" id="effects" style="padding: 0 10px 8px"></div>
    <h2>Objects after this step</h2>
    <table id="objects" class="obj"></table>
    <h2>Violations</h2>
    <ul class="violations" id="violations"></ul>
  </section>
</main>
<script type="application/json" id="trace-data">${json}</script>
<script>
(function () {
  var d = JSON.parse(document.getElementById('trace-data').textContent);
  var badSteps = {};
  d.violations.forEach(function (v) { badSteps[v.step] = true; });
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  document.getElementById('title').textContent = d.title;
  var meta = document.getElementById('meta');
  meta.textContent = d.scenario + ' - kernel ' + d.kernel + (d.mutants.length ? ' - mutants: ' + d.mutants.join(', ') : '');
  meta.appendChild(el('span', { 'class': 'verdict ' + (d.passed ? 'pass' : 'fail') }, d.passed ? 'outcomes as the scenario expects' : 'FAIL: outcomes differ from the scenario'));
  var tl = document.getElementById('timeline');
  var head = el('tr');
  head.appendChild(el('th', {}, '#'));
  d.tasks.forEach(function (t) { head.appendChild(el('th', {}, t)); });
  tl.appendChild(head);
  var rows = [];
  d.steps.forEach(function (s) {
    var tr = el('tr', { 'class': 'step' + (badSteps[s.step] ? ' bad' : ''), 'data-step': String(s.step) });
    var n = el('td', { 'class': 'n' }, String(s.step));
    if (s.phase !== 'run') n.appendChild(el('div', { 'class': 'phase' }, s.phase));
    tr.appendChild(n);
    d.tasks.forEach(function (t) {
      var td = el('td', { 'class': 'lane' });
      if (t === s.task) td.textContent = s.where.join(' > ');
      tr.appendChild(td);
    });
    tr.addEventListener('click', function () { select(s.step); });
    tl.appendChild(tr);
    rows.push(tr);
  });
  var vl = document.getElementById('violations');
  if (!d.violations.length) vl.appendChild(el('li', {}, 'none'));
  d.violations.forEach(function (v) {
    var li = el('li', { 'class': 'violation' }, 'step ' + v.step + ' (' + v.task + (v.fn ? ', ' + v.fn : '') + '): ' + v.kind + ': ' + v.message);
    li.style.cursor = 'pointer';
    li.addEventListener('click', function () { select(v.step); });
    vl.appendChild(li);
  });
  function fieldsAt(o, step) {
    var out = {};
    o.changes.forEach(function (c) { if (c.step <= step) out[c.field] = c.to; });
    return out;
  }
  function select(step) {
    rows.forEach(function (r) { r.classList.toggle('sel', r.getAttribute('data-step') === String(step)); });
    document.getElementById('slider').value = String(step);
    var s = d.steps[step - 1];
    document.getElementById('cur').textContent = step + ' - ' + s.task + ' - ' + s.where.join(' > ');
    var eff = document.getElementById('effects');
    eff.textContent = '';
    s.effects.forEach(function (e) {
      eff.appendChild(el('div', { 'class': e.text.indexOf('VIOLATION') === 0 ? 'violation' : 'k-' + e.k }, e.text));
    });
    var ot = document.getElementById('objects');
    ot.textContent = '';
    var h = el('tr');
    ['object', 'state', 'fields'].forEach(function (x) { h.appendChild(el('th', {}, x)); });
    ot.appendChild(h);
    d.objects.forEach(function (o) {
      if (o.allocStep !== null && o.allocStep > step) return;
      var state = o.freeStep !== null && o.freeStep <= step ? 'freed' : o.queuedStep !== null && o.queuedStep <= step ? 'free queued (RCU)' : 'live';
      var tr = el('tr');
      tr.appendChild(el('td', {}, o.name));
      tr.appendChild(el('td', { 'class': state === 'freed' ? 'freed' : state === 'live' ? '' : 'pending' }, state));
      var f = fieldsAt(o, step), changedNow = {};
      o.changes.forEach(function (c) { if (c.step === step) changedNow[c.field] = true; });
      var td = el('td');
      Object.keys(f).forEach(function (k) {
        var span = el('span', changedNow[k] ? { 'class': 'changed' } : {}, k + '=' + f[k]);
        td.appendChild(span);
        td.appendChild(document.createTextNode('  '));
      });
      tr.appendChild(td);
      ot.appendChild(tr);
    });
  }
  var slider = document.getElementById('slider');
  slider.max = String(d.steps.length);
  slider.addEventListener('input', function () { select(Number(slider.value)); });
  var first = d.violations.length ? d.violations[0].step : d.steps.length;
  select(Math.max(1, Math.min(first, d.steps.length)));
  document.body.setAttribute('data-ready', 'yes');
})();
</script>
</body>
</html>
`;
}
