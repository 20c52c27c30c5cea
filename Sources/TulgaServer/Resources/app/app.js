// The applicant's portal: IIN and template → SMS code → camera → selfie → video check → PIN →
// (document, when required) → agreement and consent → application → certificates → status.
// Signing in: the agent signs a challenge with the AUTH key, then the 1414 SMS code.
// Every sentence comes from the service's ru/kk/en catalogue (/app/api/messages).
import { PortalAPI, Problem } from './api.js';
import { Agent, AgentProblem } from './agent.js';

const api = new PortalAPI();
const $ = (id) => document.getElementById(id);
const state = {
  lang: 'ru',
  messages: {},
  settings: null,
  session: null,
  agent: null,
  template: 'individual',
  bin: '',
  verification: null,
  lastLiveness: null,
  streaming: false,
  pin: null,
  agreement: null,
  application: null,
  login: null,
  documentSession: null,
  documentView: null,
  timers: [],
};

// ---- words -------------------------------------------------------------------------------

function t(key, args) {
  let text = state.messages[key] || key;
  for (const [name, value] of Object.entries(args || {})) text = text.split(`{${name}}`).join(String(value));
  return text;
}

async function loadMessages(lang) {
  state.messages = await api.request('GET', `/app/api/messages?lang=${encodeURIComponent(lang)}`);
  state.lang = lang;
  document.documentElement.lang = lang;
  for (const element of document.querySelectorAll('[data-t]')) element.textContent = t(element.dataset.t);
  for (const button of document.querySelectorAll('[data-lang]')) button.classList.toggle('current', button.dataset.lang === lang);
  fillTemplates();
  rerender();
}

/** Texts built from data (the agent line, the countdown, the status page) follow a language switch. */
const rerenders = [];
function rerender() { for (const render of rerenders) render(); }

// ---- steps, errors, busy -----------------------------------------------------------------

function show(step) {
  for (const section of document.querySelectorAll('.step')) section.classList.toggle('active', section.id === `step-${step}`);
  document.body.dataset.step = step;
  hideError();
  const slot = document.querySelector(`#step-${step} .stage-slot`);
  const stage = $('stage');
  if (slot) { slot.appendChild(stage); stage.hidden = false; } else { stage.hidden = true; }
}

function hideError() { $('error').hidden = true; $('error').textContent = ''; delete $('error').dataset.code; }

function showError(problem) {
  const box = $('error');
  box.textContent = describe(problem);
  box.dataset.code = problem && problem.code ? problem.code : 'unknown';
  box.hidden = false;
}

/** A refusal in words, with what to do next. */
function describe(problem) {
  if (problem instanceof AgentProblem) {
    switch (problem.code) {
      case 'not_running': case 'timeout': return t('portal.agent_missing');
      case 'password': return t('portal.agent_password');
      case 'storage': return t('portal.agent_storage');
      case 'keys_exist': return t('portal.agent_keys_exist');
      case 'no_keys': return t('portal.agent_no_keys');
      default: return t('portal.agent_failed', { detail: problem.detail || problem.code });
    }
  }
  if (!(problem instanceof Problem)) return t('portal.error_generic', { detail: String(problem && problem.message || problem) });
  if (problem.catalogue && problem.catalogue.key && state.messages[problem.catalogue.key]) {
    return t(problem.catalogue.key, problem.catalogue.arguments);
  }
  switch (problem.code) {
    case 'network': return t('portal.error_network');
    case 'portal_session': case 'csrf': return t('portal.error_session');
    case 'invalid_iin': return t('portal.error_iin');
    case 'iin_bound': return t('portal.error_iin_bound');
    case 'code': case 'signin_code': case 'signin_code_expired': case 'no_code_requested': return t('portal.error_code');
    case 'signin_code_blocked': return t('portal.error_code_blocked');
    case 'rate_limited': return t('portal.error_rate', { seconds: problem.retryAfter || 60 });
    case 'invalid_image': case 'image_too_large': case 'unusable_selfie': case 'selfie_is_registry_photo': return t('portal.error_image');
    case 'no_face_seen': return t('portal.error_no_face');
    case 'pin': return t('portal.error_pin', { detail: problem.detail });
    case 'pin_not_six_digits': case 'pin_all_same': case 'pin_sequence': return t('portal.error_pin_rule');
    case 'digital_id': return t('portal.error_digital_id');
    case 'active_application': return t('portal.error_active_application');
    case 'agreement_required': case 'consent': return t('portal.error_agreement');
    case 'certificate_revoked': return t('portal.error_certificate_revoked');
    case 'certificate_expired': return t('portal.error_certificate_expired');
    case 'certificate_untrusted': return t('portal.error_certificate_untrusted');
    case 'certificate_not_auth': return t('portal.error_certificate_not_auth');
    case 'signin_signature': case 'signin_challenge': case 'signin_pending': case 'session_invalid': return t('portal.error_sign_in');
    case 'attempts_exhausted': case 'in_person_locked': return t('kiosk.outcome_in_person');
    default: return t('portal.error_generic', { detail: problem.detail || problem.code });
  }
}

/** Runs one step's work: buttons off, a busy line, errors in words; a lost session starts again. */
async function run(work) {
  const buttons = [...document.querySelectorAll('button')];
  for (const button of buttons) button.disabled = true;
  $('busy').hidden = false;
  document.body.dataset.busy = 'true';
  hideError();
  try {
    await work();
  } catch (problem) {
    if (problem instanceof Problem && (problem.code === 'portal_session' || problem.code === 'csrf')) {
      showError(problem);
      await restart();
      showError(problem);
    } else {
      showError(problem);
    }
  } finally {
    for (const button of buttons) button.disabled = false;
    $('busy').hidden = true;
    delete document.body.dataset.busy;
    updateResend();
  }
}

function on(id, work) { $(id).addEventListener('click', () => run(work)); }

function clearTimers() {
  for (const timer of state.timers) clearInterval(timer);
  state.timers = [];
  countdowns.clear();
}

// ---- the session ---------------------------------------------------------------------------

async function restart() {
  clearTimers();
  stopCamera();
  Object.assign(state, { verification: null, lastLiveness: null, streaming: false, pin: null, application: null, login: null,
                        documentSession: null, documentView: null });
  state.session = await api.begin();
  renderSignedIn();
  show('start');
}

async function refreshSession() {
  state.session = await api.current();
  if (!state.session) state.session = await api.begin();
  renderSignedIn();
}

/** Who the session is for: signed in with the EDS, or an IIN confirmed by SMS; either can sign out. */
function renderSignedIn() {
  const session = state.session || {};
  const signedIn = session.signedIn;
  $('signed-in').hidden = !signedIn && !session.iin;
  $('signed-in').dataset.signedIn = signedIn ? 'true' : 'false';
  $('signed-in-text').textContent = signedIn ? t('portal.signed_in', { iin: signedIn.iin }) : session.iin ? `${t('portal.iin')}: ${session.iin}` : '';
}
rerenders.push(renderSignedIn);

// ---- the key agent ---------------------------------------------------------------------------

async function checkAgent() {
  const box = $('agent');
  try {
    const hello = await state.agent.hello();
    state.agentStorage = hello.storage || 'folder';
    box.className = 'agent ok';
    $('agent-retry').hidden = true;
    return hello;
  } catch (problem) {
    state.agentStorage = null;
    box.className = 'agent missing';
    $('agent-retry').hidden = false;
    throw problem instanceof AgentProblem ? problem : new AgentProblem('not_running');
  } finally {
    renderAgent();
  }
}

function renderAgent() {
  const box = $('agent');
  $('agent-text').textContent = box.classList.contains('ok') ? t('portal.agent_ok') : box.classList.contains('missing') ? t('portal.agent_missing') : '';
}
rerenders.push(renderAgent);

// ---- 1. IIN, template, SMS code ----------------------------------------------------------------

function fillTemplates() {
  const select = $('template');
  const chosen = select.value || state.template;
  select.textContent = '';
  for (const name of (state.settings && state.settings.templates) || ['individual']) {
    const option = document.createElement('option');
    option.value = name;
    option.textContent = t(`template.${name}`);
    select.appendChild(option);
  }
  select.value = chosen;
  $('bin-row').hidden = select.value === 'individual';
}
$('template').addEventListener('change', () => { $('bin-row').hidden = $('template').value === 'individual'; });

/** The running countdowns by element, redrawn each second and on a language switch. */
const countdowns = new Map();
rerenders.push(() => { for (const render of countdowns.values()) render(); });

function startCountdown(element, seconds, expiredKey) {
  const end = Date.now() + seconds * 1000;
  const render = () => {
    const left = Math.max(0, Math.ceil((end - Date.now()) / 1000));
    element.textContent = left > 0 ? t('portal.countdown', { seconds: left }) : t(expiredKey);
    element.dataset.left = String(left);
  };
  render();
  countdowns.set(element.id, render);
  state.timers.push(setInterval(render, 1000));
}

let resendAt = 0;
function updateResend() {
  const left = Math.max(0, Math.ceil((resendAt - Date.now()) / 1000));
  $('resend').disabled = left > 0;
  $('resend-wait').textContent = left > 0 ? t('portal.resend_wait', { seconds: left }) : '';
}
rerenders.push(updateResend);

async function requestCode() {
  const iin = $('iin').value.trim();
  if (!/^[0-9]{12}$/.test(iin)) throw new Problem('invalid_iin', 422, '');
  const sent = await api.request('POST', '/app/api/sms/request', { iin, language: state.lang });
  clearTimers();
  startCountdown($('countdown'), Number(sent.validSeconds) || 120, 'portal.code_expired');
  resendAt = Date.now() + (Number(sent.resendAfterSeconds) || 60) * 1000;
  state.timers.push(setInterval(updateResend, 1000));
  $('code').value = '';
  show('sms');
}

on('get-code', async () => {
  state.template = $('template').value;
  state.bin = $('bin').value.trim();
  await requestCode();
});
on('resend', requestCode);
on('confirm-code', async () => {
  api.adopt(await api.request('POST', '/app/api/sms/confirm', { code: $('code').value.trim() }));
  clearTimers();
  await refreshSession();
  show('camera');
});

// ---- 2. camera, selfie, video check ---------------------------------------------------------------

let stream = null;
function stopCamera() {
  if (stream) for (const track of stream.getTracks()) track.stop();
  stream = null;
  $('camera').srcObject = null;
}

async function openCamera() {
  if (stream) return;
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) throw cameraProblem('NotFoundError');
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
  } catch (error) {
    throw cameraProblem(error && error.name);
  }
  const video = $('camera');
  video.srcObject = stream;
  await new Promise((resolve) => {
    if (video.readyState >= 2 && video.videoWidth > 0) resolve();
    else video.addEventListener('loadeddata', resolve, { once: true });
  });
  await video.play().catch(() => {});
}

function cameraProblem(name) {
  const key = name === 'NotAllowedError' || name === 'SecurityError' ? 'portal.camera_denied'
    : name === 'NotReadableError' || name === 'AbortError' ? 'portal.camera_busy' : 'portal.camera_missing';
  return new Problem('camera', 0, '', { key, arguments: {} });
}

/**
 * The next picture the camera presents (a video hidden for a while shows a stale one until it plays again):
 * resumes playing and waits for a new frame, at most a second.
 */
async function nextFrame() {
  const video = $('camera');
  await video.play().catch(() => {});
  if (typeof video.requestVideoFrameCallback !== 'function') return;
  await new Promise((resolve) => {
    const timer = setTimeout(resolve, 1000);
    video.requestVideoFrameCallback(() => { clearTimeout(timer); resolve(); });
  });
}

/** The camera's next picture as a JPEG. */
async function grab(quality = 0.9) {
  await nextFrame();
  const video = $('camera'), canvas = $('grab');
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext('2d').drawImage(video, 0, 0);
  return new Promise((resolve, reject) => canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Problem('camera', 0, 'no picture'))), 'image/jpeg', quality));
}

on('camera-check', async () => {
  await openCamera();
  resetSelfie();
  show('selfie');
});

async function ensureVerification() {
  if (state.verification) return state.verification;
  const created = await api.request('POST', '/app/api/verifications', { language: state.lang });
  state.verification = created.sessionId;
  return state.verification;
}

function resetSelfie() {
  $('selfie-shot').hidden = true;
  $('take-photo').hidden = false;
  $('retake').hidden = true;
  $('selfie-next').hidden = true;
  $('stage').hidden = false;
}

async function takeSelfie() {
  await openCamera();
  const id = await ensureVerification();
  const blob = await grab(0.92);
  await api.request('POST', `/app/api/verifications/${encodeURIComponent(id)}/selfie`, blob);
  const shot = $('selfie-shot'), video = $('camera');
  shot.width = video.videoWidth;
  shot.height = video.videoHeight;
  shot.getContext('2d').drawImage($('grab'), 0, 0);
  shot.hidden = false;
  $('stage').hidden = true;
  $('take-photo').hidden = true;
  $('retake').hidden = false;
  $('selfie-next').hidden = false;
}
on('take-photo', takeSelfie);
on('retake', async () => { resetSelfie(); await takeSelfie(); });
on('selfie-next', async () => { resetVideo(); show('video'); });

function resetVideo() {
  $('prompt').textContent = '';
  $('progress').value = 0;
  $('progress-text').textContent = '';
  $('hints').textContent = '';
  $('outcome').hidden = true;
  $('outcome').textContent = '';
  delete $('outcome').dataset.outcome;
  $('start-check').hidden = false;
  $('retry-check').hidden = true;
  $('video-next').hidden = true;
  state.lastLiveness = null;
}

function renderLiveness() {
  const s = state.lastLiveness;
  if (!s) return;
  $('prompt').textContent = s.prompt ? t(`prompt.${s.prompt}`) : s.phase === 'baseline' ? t('kiosk.guidance') : '';
  $('prompt').dataset.prompt = s.prompt || s.phase;
  $('progress').value = s.progress;
  $('progress-text').textContent = t('portal.progress', { completed: s.completed, total: s.total });
  const hints = $('hints');
  hints.textContent = '';
  for (const hint of s.hints) {
    const item = document.createElement('li');
    item.textContent = t(`hint.${hint}`);
    hints.appendChild(item);
  }
}
rerenders.push(renderLiveness);

/** Frames one at a time (the service takes them in order), each answered with the prompt, progress and hints. */
async function streamFrames(id) {
  state.streaming = true;
  try {
    while (state.streaming) {
      const blob = await grab(0.85);
      let answer;
      try {
        answer = await api.request('POST', `/app/api/verifications/${encodeURIComponent(id)}/frames`, blob);
      } catch (problem) {
        if (problem instanceof Problem && problem.code === 'session_finished') break;
        throw problem;
      }
      state.lastLiveness = answer;
      renderLiveness();
      if (answer.phase === 'passed' || answer.phase === 'failed') break;
    }
  } finally {
    state.streaming = false;
  }
}

let lastReport = null;
function renderOutcome() {
  const report = lastReport;
  if (!report) return;
  const box = $('outcome');
  const lines = [];
  if (report.outcome === 'pass') lines.push(t('kiosk.outcome_pass'));
  else if (report.outcome === 'review') lines.push(t('kiosk.outcome_review'));
  else {
    lines.push(report.livenessPassed ? t('kiosk.no_match') : t('kiosk.failed'));
    lines.push(report.inPersonUnlocked || report.attemptsLeft === 0 ? t('kiosk.outcome_in_person') : t('kiosk.outcome_retry', { left: report.attemptsLeft }));
  }
  box.textContent = '';
  for (const line of lines) {
    const paragraph = document.createElement('p');
    paragraph.textContent = line;
    box.appendChild(paragraph);
  }
  box.dataset.outcome = report.outcome;
  box.hidden = false;
}
rerenders.push(renderOutcome);

on('start-check', async () => {
  await openCamera();
  const id = await ensureVerification();
  $('start-check').hidden = true;
  try {
    try {
      await streamFrames(id);
    } finally {
      // Whatever happened to the frames, the session is finished: a judged check counts, an empty one does not.
      try {
        lastReport = await api.request('POST', `/app/api/verifications/${encodeURIComponent(id)}/finish`);
      } finally {
        state.verification = null;
      }
    }
  } catch (problem) {
    $('retry-check').hidden = false;
    throw problem;
  }
  // The identity-document step (issue 14) works on the same verification session, when its state says it is required.
  const documentStatus = state.lastLiveness && state.lastLiveness.document;
  state.documentSession = lastReport.outcome === 'pass' && documentStatus && documentStatus.required ? id : null;
  renderOutcome();
  const passed = lastReport.outcome === 'pass';
  $('video-next').hidden = !passed;
  $('retry-check').hidden = passed || lastReport.outcome === 'review' || lastReport.inPersonUnlocked || lastReport.attemptsLeft === 0;
  if (passed) stopCamera();
});
on('retry-check', async () => { resetSelfie(); show('selfie'); });
on('video-next', async () => { $('pin1').value = ''; $('pin2').value = ''; show('pin'); });

// ---- 3. PIN, document, agreement and consent ------------------------------------------------------

on('set-pin', async () => {
  const pin = $('pin1').value;
  if (pin !== $('pin2').value) throw new Problem('pin_mismatch', 0, '', { key: 'portal.pin_mismatch', arguments: {} });
  try {
    await api.request('POST', '/app/api/digital-id/pin', { pin });
  } catch (problem) {
    if (!(problem instanceof Problem && problem.code === 'conflict')) throw problem;
    await afterPIN();
    showError(new Problem('conflict', 409, '', { key: 'portal.pin_already', arguments: {} }));
    return;
  }
  await afterPIN();
});

/** The document step when the verification's state says it is required (issue 14), else the agreement. */
async function afterPIN() {
  $('pin1').value = '';
  $('pin2').value = '';
  if (state.documentSession) {
    state.documentView = null;
    $('document-review').hidden = true;
    renderDocument();
    await openCamera();
    show('document');
  } else {
    await showAgreement();
  }
}

/** The read fields shown for confirmation, in this order, by their names in the recognised data. */
const documentFields = [
  ['documentNumber', 'portal.document_field_number'], ['surname', 'portal.document_field_surname'],
  ['givenNames', 'portal.document_field_given_names'], ['birthDate', 'portal.document_field_birth_date'],
  ['expiryDate', 'portal.document_field_expiry_date'], ['sex', 'portal.document_field_sex'],
  ['iin', 'portal.document_field_iin'], ['nationality', 'portal.document_field_nationality'],
];

/** The largest photo the service takes, in MB as the applicant reads it. */
function documentLimitMB() {
  const bytes = (state.settings && state.settings.documentMaxBytes) || 4 * 1024 * 1024;
  return Math.floor(bytes / 1048576 * 10) / 10;
}

/** The step as the last answer left it: the sides received, the back for an ID card only, the data to confirm. */
function renderDocument() {
  const view = state.documentView;
  $('document-file-note').textContent = t('portal.document_or_file', { mb: documentLimitMB() });
  const kind = (view && view.kind) || $('document-kind').value;
  $('document-back-row').hidden = kind === 'passport';
  for (const side of ['front', 'back']) {
    const received = Boolean(view && view.sides && view.sides[side]);
    $(`document-${side}-state`).textContent = received ? t('portal.document_received') : '';
    $(`document-${side}-state`).dataset.received = String(received);
  }
  const list = $('document-data');
  list.textContent = '';
  const data = view && view.state === 'confirm' ? view.data : null;
  for (const [name, key] of documentFields) {
    const value = data && data[name];
    if (value === null || value === undefined || value === '') continue;
    const term = document.createElement('dt');
    term.textContent = t(key);
    const detail = document.createElement('dd');
    detail.textContent = String(value);
    detail.dataset.field = name;
    list.append(term, detail);
  }
  $('document-read').hidden = !data;
}
rerenders.push(() => { if (document.body.dataset.step === 'document') renderDocument(); });
$('document-kind').addEventListener('change', renderDocument);

/** A chosen file, checked before it is sent: a JPEG or PNG by its first bytes, within the service's size limit. */
async function documentFile(file) {
  const limit = (state.settings && state.settings.documentMaxBytes) || 4 * 1024 * 1024;
  if (file.size > limit) throw new Problem('document_file_size', 0, '', { key: 'portal.document_file_size', arguments: { mb: documentLimitMB() } });
  const head = new Uint8Array(await file.slice(0, 8).arrayBuffer());
  const jpeg = head[0] === 0xFF && head[1] === 0xD8 && head[2] === 0xFF;
  const png = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A].every((byte, i) => head[i] === byte);
  if (!jpeg && !png) throw new Problem('document_file_type', 0, '', { key: 'portal.document_file_type', arguments: {} });
  return new Blob([file], { type: jpeg ? 'image/jpeg' : 'image/png' });
}

/** One side of the document (the kind goes with the front), from the camera or a file; then what was read, to confirm. */
async function documentSide(side, photo) {
  const id = encodeURIComponent(state.documentSession);
  const kind = side === 'front' ? `?kind=${encodeURIComponent($('document-kind').value)}` : '';
  let body = photo;
  if (!body) {
    await openCamera();
    body = await grab(0.95);
  }
  try {
    await api.request('POST', `/app/api/verifications/${id}/document/${side}${kind}`, body);
  } finally {
    // A refused reading keeps the photos: the view says which sides are in.
    state.documentView = await api.request('GET', `/app/api/verifications/${id}/document`).catch(() => state.documentView);
    renderDocument();
  }
}
on('document-front', () => documentSide('front'));
on('document-back', () => documentSide('back'));
for (const side of ['front', 'back']) {
  const input = $(`document-${side}-file`);
  input.addEventListener('change', () => {
    const file = input.files && input.files[0];
    if (!file) return;
    run(async () => {
      try {
        await documentSide(side, await documentFile(file));
      } finally {
        input.value = '';   // the same file can be chosen again after a refusal
      }
    });
  });
}
on('document-confirm', async () => {
  const view = await api.request('POST', `/app/api/verifications/${encodeURIComponent(state.documentSession)}/document/confirm`, {});
  stopCamera();
  if (view.state === 'review') {
    // A data mismatch or a portrait in the review band: a moderator decides, the answer comes by SMS.
    $('document-read').hidden = true;
    $('document-review').hidden = false;
    return;
  }
  await showAgreement();
});

async function showAgreement() {
  const agreement = await api.request('GET', `/app/api/agreement?lang=${state.lang}`);
  state.agreement = agreement.version;
  $('agreement-text').textContent = agreement.text;
  $('accept-agreement').checked = false;
  $('accept-consent').checked = false;
  $('pin-enter').value = '';
  show('agreement');
}

on('agree', async () => {
  if (!$('accept-agreement').checked || !$('accept-consent').checked) throw new Problem('agreement_required', 422, '');
  const pin = $('pin-enter').value;
  await api.request('POST', '/app/api/digital-id/consents', { pin, days: 30 });
  state.pin = pin;
  $('pin-enter').value = '';
  show('apply');
  await checkAgent().catch(showError);
});

// ---- 4. keys through the agent, the application, the certificates ------------------------------------

on('apply', async () => {
  const hello = await checkAgent();
  const iin = state.session && state.session.iin;
  const made = await keyRequests(iin);
  let application;
  try {
    application = await api.request('POST', '/app/api/applications', {
      pin: state.pin, agreement: state.agreement, template: state.template, bin: state.template === 'individual' ? undefined : state.bin,
      storage: hello.storage || 'folder', authRequest: made.requests.AUTH, signRequest: made.requests.SIGN,
    });
  } finally {
    state.pin = null;
  }
  state.application = application;
  if (application.status === 'issued') showInstall();
  else await showStatus();
});

/** New key pairs from the agent; when its storage already holds pairs made for this IIN and never
 *  installed (their filing failed), the same requests again, so the applicant is not stuck. */
async function keyRequests(iin) {
  try {
    return await state.agent.call('generate', { iin, algorithm: 'rsa2048' });
  } catch (problem) {
    if (!(problem instanceof AgentProblem) || problem.code !== 'keys_exist') throw problem;
    const pending = await state.agent.call('pending').catch(() => null);
    if (!pending || pending.iin !== iin || !pending.requests) throw problem;
    return pending;
  }
}

function showInstall() {
  $('install-number').textContent = state.application.number;
  $('install-status').textContent = t(`status.${state.application.status}`);
  $('installed').hidden = true;
  $('install').hidden = false;
  show('install');
}

on('install', async () => {
  await checkAgent();
  const number = encodeURIComponent(state.application.number);
  const certificates = await api.request('GET', `/app/api/applications/${number}/certificates`);
  const installed = await state.agent.call('install', { certificates: { AUTH: certificates.auth, SIGN: certificates.sign }, chain: certificates.chain });
  const marked = await api.request('POST', `/app/api/applications/${number}/install`);
  $('install-status').textContent = t(`status.${marked.status}`);
  const list = $('installed-list');
  list.textContent = '';
  for (const line of installed.installed || []) {
    const item = document.createElement('li');
    item.textContent = line;
    list.appendChild(item);
  }
  $('install').hidden = true;
  $('installed').hidden = false;
});
on('install-next', showStatus);

// ---- 5. the status page -------------------------------------------------------------------------

let shownApplications = [];
async function showStatus() {
  const listed = await api.request('GET', '/app/api/applications');
  shownApplications = [];
  for (const application of listed.applications) {
    const history = await api.request('GET', `/app/api/applications/${encodeURIComponent(application.number)}/history`);
    shownApplications.push({ application, history });
  }
  renderStatus();
  show('status');
}

function when(seconds) {
  const locale = { ru: 'ru-RU', kk: 'kk-KZ', en: 'en-GB' }[state.lang] || 'ru-RU';
  return new Date(seconds * 1000).toLocaleString(locale);
}

function renderStatus() {
  const box = $('applications');
  box.textContent = '';
  if (!shownApplications.length) {
    const empty = document.createElement('p');
    empty.textContent = t('portal.no_applications');
    box.appendChild(empty);
    return;
  }
  for (const { application, history } of shownApplications) {
    const card = document.createElement('div');
    card.className = 'application';
    card.dataset.number = application.number;
    card.dataset.status = application.status;
    const title = document.createElement('p');
    const strong = document.createElement('strong');
    strong.textContent = `${t('portal.number')}: ${application.number}`;
    title.append(strong, document.createElement('br'), `${t('portal.status')}: ${t(`status.${application.status}`)}`,
                 document.createElement('br'), t(`template.${application.template}`));
    const table = document.createElement('table');
    const head = table.insertRow();
    for (const key of ['portal.status_time', 'portal.status']) {
      const cell = document.createElement('th');
      cell.textContent = t(key);
      head.appendChild(cell);
    }
    for (const change of history) {
      const row = table.insertRow();
      row.insertCell().textContent = when(change.at);
      row.insertCell().textContent = t(`status.${change.status}`);
    }
    card.append(title, table);
    box.appendChild(card);
  }
}
rerenders.push(renderStatus);

on('new-application', async () => {
  if (state.session && state.session.iin) { show('camera'); return; }
  show('start');
});

// ---- 6. signing in with the AUTH key and a 1414 code ---------------------------------------------------

on('to-signin', async () => {
  $('signin-code-row').hidden = true;
  show('signin');
  await checkAgent().catch(showError);
});

on('signin-start', async () => {
  await checkAgent();
  const challenge = await api.request('POST', '/app/api/signin/challenge');
  const signed = await state.agent.call('signIn', { challenge: challenge.challenge, audience: challenge.audience });
  const pending = await api.request('POST', '/app/api/signin/certificate', {
    challenge: challenge.challenge, certificate: signed.certificate, signature: signed.signature, language: state.lang,
  });
  state.login = pending.login;
  clearTimers();
  startCountdown($('signin-countdown'), pending.codeValidSeconds || 120, 'portal.code_expired');
  $('signin-code').value = '';
  $('signin-code-row').hidden = false;
});

on('signin-confirm', async () => {
  api.adopt(await api.request('POST', '/app/api/signin/confirm', { login: state.login, code: $('signin-code').value.trim() }));
  state.login = null;
  clearTimers();
  await refreshSession();
  await showStatus();
});

on('sign-out', async () => {
  await api.request('POST', '/app/api/session/end');
  await restart();
});

// ---- start ----------------------------------------------------------------------------------

for (const button of document.querySelectorAll('[data-lang]')) {
  button.addEventListener('click', () => run(async () => {
    await loadMessages(button.dataset.lang);
    try { localStorage.setItem('tulga.lang', button.dataset.lang); } catch { /* private mode: not remembered */ }
  }));
}
$('agent-retry').addEventListener('click', () => run(checkAgent));

async function start() {
  let lang = 'ru';
  try { lang = localStorage.getItem('tulga.lang') || 'ru'; } catch { /* not remembered */ }
  if (!['ru', 'kk', 'en'].includes(lang)) lang = 'ru';
  await run(async () => {
    state.settings = await api.request('GET', '/app/api/settings');
    state.agent = new Agent(state.settings.agentPort);
    await loadMessages(lang);
    await refreshSession();
    if (state.session.signedIn) await showStatus();
    else show('start');
    await checkAgent().catch(() => {});
  });
}
start();
