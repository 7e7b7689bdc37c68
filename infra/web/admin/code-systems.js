// The code systems screen: each system's version in use (rows, when, by whom) and how its last
// import ended (a failure names the file, line and reason); the releases found in the practice's
// release location, each with "Import" for admins; and a live progress bar for every import
// running (rows and batches done of the total, rate, time left) with "Cancel import". Progress
// is polled once a second while the screen is open.
import { $, api, busy, el, status } from '/lib.js';

const STATE = { queued: 'waiting', running: 'importing', done: 'imported', failed: 'failed', cancelled: 'cancelled' };
let canEdit = false;
let running = new Map(); // import id → its progress block
// Every import with a block on the screen: a list read while one was running may name it after
// it has ended, and it must not get a second block.
let shown = new Set();
let timer = null;

const when = (iso) => new Date(iso).toLocaleString();
const number = (n) => Number(n).toLocaleString();
const megabytes = (b) => (b < 1e6 ? `${Math.max(1, Math.round(b / 1e3))} KB` : `${(b / 1e6).toFixed(1)} MB`);
const duration = (s) => (s >= 90 ? `${Math.round(s / 60)} min` : `${s} s`);
const problem = (e) => [e.file, e.line ? `line ${e.line}` : ''].filter(Boolean).join(', ') + (e.file ? ': ' : '') + e.reason;

function systemItem(s) {
  const a = s.active;
  const item = el('li', {},
    el('strong', {}, s.title),
    a ? el('span', { className: 'meta' }, `${a.version} · ${number(a.rows)} names and concepts · imported ${when(a.importedAt)} by ${a.importedBy}`)
      : el('span', { className: 'meta' }, 'Not imported: the care summary shows the names your system sent.'));
  if (s.last && s.last.state !== 'done') {
    item.append(el('span', {}, el('span', { className: 'badge ' + (s.last.state === 'failed' ? 'bad' : 'off') }, `Last import ${STATE[s.last.state]}`),
      ` ${s.last.release}${s.last.error ? ` — ${problem(s.last.error)}` : ''}`));
  }
  return item;
}

function releaseItem(r, busySystems) {
  const size = r.files.reduce((n, f) => n + f.size, 0);
  const item = el('li', {},
    el('strong', {}, r.name),
    el('span', { className: 'meta' }, r.system ? `${r.system} · ${r.files.length} file${r.files.length === 1 ? '' : 's'} · ${megabytes(size)}` : r.problem));
  if (r.system && canEdit) {
    const start = el('button', { type: 'button', className: 'secondary', 'aria-label': `Import ${r.name}`, disabled: busySystems.has(r.system) }, 'Import');
    start.addEventListener('click', () => busy(start, async () => {
      const res = await api('POST', '/v1/admin/code-systems/imports', { system: r.system, release: r.name });
      if (!res.ok) return status('releases-status', (res.data && res.data.detail) || 'The import could not be started.');
      status('releases-status', '');
      track(res.data.id);
      return load();
    }));
    item.append(start);
  }
  return item;
}

/** A progress block for one import, updated by `poll`. */
function progressBlock(id) {
  const title = el('h3', { id: `import-${id}-title` }, 'Import');
  const bar = el('progress', { max: 1, value: 0, 'aria-labelledby': `import-${id}-title` });
  const figures = el('p', { className: 'meta' });
  const note = el('p', { className: 'status', role: 'status', 'aria-live': 'polite' });
  const cancel = el('button', { type: 'button', className: 'secondary', hidden: !canEdit }, 'Cancel import');
  cancel.addEventListener('click', () => busy(cancel, async () => {
    const r = await api('DELETE', `/v1/admin/code-systems/imports/${id}`);
    if (!r.ok) status(note, (r.data && r.data.detail) || 'The import could not be cancelled.');
    return poll();
  }));
  const block = el('div', { className: 'import' }, title, bar, figures, cancel, note);
  block.update = (s) => {
    title.textContent = `${s.system}: ${s.release}`;
    const total = s.rowsTotal || 0;
    bar.max = Math.max(total, 1);
    bar.value = s.state === 'done' ? bar.max : Math.min(s.rowsDone, bar.max);
    const parts = [total ? `${number(s.rowsDone)} of ${number(total)} lines read` : 'reading the files…',
      `${s.batchesDone} of ${s.batchesTotal} batches`];
    if (s.rowsPerSecond) parts.push(`${number(s.rowsPerSecond)} lines a second`);
    if (s.secondsLeft !== null && s.secondsLeft !== undefined && s.state === 'running') parts.push(`about ${duration(s.secondsLeft)} left`);
    figures.textContent = `${STATE[s.state]} · ${parts.join(' · ')}`;
    cancel.hidden = !canEdit || !['queued', 'running'].includes(s.state);
    // The lines read and the names kept differ by the release's inactive rows: both are said.
    if (s.state === 'done') status(note, `Imported: ${number(s.namesKept)} names and concepts in use, from ${number(s.rowsDone)} lines (inactive ones are left out). The care summary uses it now.`, true);
    if (s.state === 'failed') status(note, `The import failed: ${problem(s.error)}. The version in use stays.`);
    if (s.state === 'cancelled') status(note, 'Cancelled. The version in use stays.');
  };
  return block;
}

async function poll() {
  let ended = false;
  for (const [id, block] of running) {
    const r = await api('GET', `/v1/admin/code-systems/imports/${id}`);
    if (!r.ok) continue;
    block.update(r.data);
    if (!['queued', 'running'].includes(r.data.state)) {
      running.delete(id);
      ended = true;
    }
  }
  if (ended) await listSystems();
  if (!running.size) stop();
}

async function listSystems() {
  const r = await api('GET', '/v1/admin/code-systems');
  if (!r.ok) return status('codes-status', 'The code systems could not be loaded.');
  $('codes-systems').replaceChildren(...r.data.systems.map(systemItem));
  const [releases] = await Promise.all([api('GET', '/v1/admin/code-systems/releases')]);
  const busySystems = new Set(r.data.systems.filter((s) => s.running).map((s) => s.system));
  if (!releases.ok) return status('releases-status', 'The release location could not be read.');
  $('releases-location').textContent = releases.data.location;
  $('releases').replaceChildren(...releases.data.releases.map((x) => releaseItem(x, busySystems)));
  if (!releases.data.releases.length) $('releases').append(el('li', { className: 'meta' }, 'No releases there yet.'));
  return r.data.systems;
}

/** Follows an import's progress until it ends. */
function track(id) {
  if (shown.has(id)) return;
  shown.add(id);
  const block = progressBlock(id);
  running.set(id, block);
  $('imports').append(block);
}

/** Loads the screen; `admin` says whether this user may import. */
export async function load(admin) {
  if (admin !== undefined) canEdit = admin;
  const systems = await listSystems();
  if (!systems) return;
  for (const s of systems) if (s.running) track(s.running);
  if (running.size && !timer) {
    timer = setInterval(poll, 1000);
    await poll();
  }
}

/** Stops polling (the screen was left). Finished imports' blocks stay until it is opened again. */
export function stop() {
  clearInterval(timer);
  timer = null;
}

/** Leaving the screen: no polling, and a fresh list next time. */
export function leave() {
  stop();
  running = new Map();
  shown = new Set();
  $('imports').replaceChildren();
}
