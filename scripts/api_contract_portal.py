#!/usr/bin/env python3
"""The portal's records for scripts/api-contract: browser sessions (cookie + CSRF token, as the page holds
them) that schemathesis is given, so that the portal's operations reach their handlers instead of 401.

Against a running `tulga serve` (the contract's scratch world). Each session is bound to its own IIN by
an SMS code read from the gateway spool, as the page binds one:
  main      PORTAL_IIN: a Digital ID (the video check through the API key with the fixture clip, its PIN,
            the identity document the generated card), the CA consent and an application filed through
            this session (keys made by `tulga keys generate`): every operation without a session of its own;
  get, selfie, frame, finish
            one live verification session each (a session may finish it), as the API's own operations;
  document  a verification passed through this session's frames (the fixture video frame by frame, no faster
            than it plays, after its first frame held half a second) and its PIN set: the step is open for photos;
  end       unbound, for portalEnd (which ends it).
Prints schemathesis.toml [[operations]] entries: each portal operation's Cookie and X-CSRF-Token headers
and the seeded record it names.

  api_contract_portal.py URL API_KEY TULGA WORK VIDEO CARD_DIR -- TULGA_STORE_ARGS...
"""
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

URL, KEY, TULGA, WORK, VIDEO, CARD = sys.argv[1:7]
STORE = sys.argv[8:] if sys.argv[7] == '--' else sys.exit('api_contract_portal: expected -- before the store arguments')
PIN = '402719'
PORTAL_IIN = '850314300102'
SESSION_IINS = {'get': '850314300112', 'selfie': '850314300122', 'frame': '850314300132', 'finish': '850314300142'}
DOCUMENT_IIN = '850314300152'
PHONES = {iin: '+7703' + iin[-7:] for iin in [PORTAL_IIN, DOCUMENT_IIN, *SESSION_IINS.values()]}


def fail(message):
    sys.exit(f'api-contract (portal): {message}')


def call(method, path, body=None, headers=None, raw=None, expect=None):
    """One HTTP call: (status, headers, decoded JSON or None)."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    h = dict(headers or {})
    if body is not None and raw is None:
        h['Content-Type'] = 'application/json'
    request = urllib.request.Request(URL + path, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(request, timeout=300) as r:
            status, answer_headers, text = r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        status, answer_headers, text = e.code, e.headers, e.read()
    try:
        decoded = json.loads(text) if text else None
    except ValueError:
        decoded = None
    if expect is not None and status != expect:
        fail(f'{method} {path}: {status} {decoded}')
    return status, answer_headers, decoded


def api(method, path, body=None, raw=None, expect=None):
    return call(method, path, body, {'X-API-Key': KEY}, raw, expect)[2]


class Browser:
    """A portal session as the page holds it: the cookie's value and the CSRF token."""

    def __init__(self):
        _, headers, answer = call('POST', '/app/api/session', {}, expect=201)
        self.cookie = self._cookie(headers)
        self.csrf = answer['csrf']

    @staticmethod
    def _cookie(headers):
        match = re.match(r'tulga_portal=([^;]+)', headers.get('Set-Cookie', ''))
        if not match:
            fail('no tulga_portal cookie in the answer')
        return match.group(1)

    def headers(self):
        return {'Cookie': f'tulga_portal={self.cookie}', 'X-CSRF-Token': self.csrf}

    def call(self, method, path, body=None, raw=None, expect=None):
        return call(method, '/app/api' + path, body, self.headers(), raw, expect)

    def confirm(self, code):
        """Binds the IIN the code was asked for; the session is rotated: its new cookie and token are kept."""
        _, headers, answer = self.call('POST', '/sms/confirm', {'code': code}, expect=200)
        self.cookie, self.csrf = self._cookie(headers), answer['csrf']


def tulga(*args, env=None):
    result = subprocess.run([TULGA, *args], capture_output=True, text=True, env={**os.environ, **(env or {})})
    if result.returncode != 0:
        fail(f'tulga {" ".join(args[:3])}: {result.stderr.strip()[-1000:]}')
    return result.stdout


def codes():
    """The newest SMS code per phone from the gateway spool (everything pending is spooled)."""
    folder = tempfile.mkdtemp(prefix='spool-', dir=WORK)
    tulga('sms', 'spool', '--to', folder, *STORE)
    found = {}
    for path in sorted(glob.glob(os.path.join(folder, '*.sms')), key=os.path.getmtime):
        head, _, text = open(path).read().partition('\n\n')
        phone = re.search(r'^to: (\S+)$', head, re.M)
        code = re.search(r'\b(\d{6})\b', text)
        if phone and code:
            found[phone.group(1)] = code.group(1)
    return found


def feed_frames(browser, sid):
    """The fixture video through the session's frames route, as a camera gives it: the first frame held for half a
    second (the applicant still, frontal: the baseline), then every frame at 30 a second, never sooner than the video
    plays it (a slow machine only slows it down), to the video check's end."""
    folder = tempfile.mkdtemp(prefix='frames-', dir=WORK)
    subprocess.run(['ffmpeg', '-v', 'error', '-i', VIDEO, '-q:v', '3', os.path.join(folder, '%03d.jpg')], check=True)
    paths = sorted(glob.glob(os.path.join(folder, '*.jpg')))
    started, phase = time.monotonic(), ''
    for i, path in enumerate(paths[:1] * 15 + paths):
        ahead = started + i / 30 - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)   # a camera gives no frame before its time
        with open(path, 'rb') as f:
            _, _, state = browser.call('POST', f'/verifications/{sid}/frames', raw=f.read(), expect=200)
        phase = state.get('phase', '')
        if phase in ('passed', 'failed'):
            break
    print(f'portal frames: {i + 1} in {time.monotonic() - started:.1f} s, {phase}', file=sys.stderr)
    return phase


def main():
    # The Digital ID's video check through the API key: the clip is checked to be recorded after the prompt, so it
    # is posted once as long as it lasts has gone by since the session began (the other records are made meanwhile).
    clip_session = api('POST', '/v1/verifications', {'iin': PORTAL_IIN}, expect=201)['sessionId']
    clip_not_before = time.monotonic() + 5
    api('POST', '/v1/sms/request', {'iin': PORTAL_IIN, 'language': 'en'}, expect=202)
    api('POST', '/v1/sms/confirm', {'iin': PORTAL_IIN, 'code': codes()[PHONES[PORTAL_IIN]]}, expect=200)

    # The browser sessions, each bound to its IIN by the code its phone got.
    names = ['main', 'document', *SESSION_IINS]
    iins = {'main': PORTAL_IIN, 'document': DOCUMENT_IIN, **SESSION_IINS}
    browsers = {name: Browser() for name in names}
    for name in names:
        browsers[name].call('POST', '/sms/request', {'iin': iins[name], 'language': 'en'}, expect=202)
    sent = codes()
    for name in names:
        browsers[name].confirm(sent[PHONES[iins[name]]])
    sessions = {name: browsers[name].call('POST', '/verifications', {'language': 'en'}, expect=201)[2]['sessionId']
                for name in ['document', *SESSION_IINS]}

    # The document session: passed frame by frame, its PIN set, the step open for photos.
    phase = feed_frames(browsers['document'], sessions['document'])
    _, _, report = browsers['document'].call('POST', f'/verifications/{sessions["document"]}/finish', expect=200)
    if report.get('outcome') != 'pass':
        fail(f'the portal\'s document session did not pass (phase {phase}): {report}')
    browsers['document'].call('POST', '/digital-id/pin', {'pin': PIN}, expect=200)
    state = browsers['document'].call('GET', f'/verifications/{sessions["document"]}/document', expect=200)[2]['state']
    if state != 'photos':
        fail(f'the portal\'s document step is {state}, not open for photos')

    # The main session's IIN: its Digital ID completed through the API key (the clip, the PIN, the card).
    wait = clip_not_before - time.monotonic()
    if wait > 0:
        time.sleep(wait)   # the clip must be recorded after the prompt
    with open(VIDEO, 'rb') as f:
        api('POST', f'/v1/verifications/{clip_session}/clip', raw=f.read(), expect=200)
    if api('POST', f'/v1/verifications/{clip_session}/finish', expect=200)['outcome'] != 'pass':
        fail('the main session\'s IIN did not pass its video check')
    api('POST', '/v1/digital-id/pin', {'iin': PORTAL_IIN, 'pin': PIN}, expect=200)
    front, back = sorted(glob.glob(os.path.join(CARD, '*-front.jpg'))) + sorted(glob.glob(os.path.join(CARD, '*-back.jpg')))
    for side, path in [('front?kind=id-card', front), ('back', back)]:
        with open(path, 'rb') as f:
            api('POST', f'/v1/verifications/{clip_session}/document/{side}', raw=f.read(), expect=200)
    if api('POST', f'/v1/verifications/{clip_session}/document/confirm', expect=200)['state'] != 'done':
        fail('the main session\'s IIN: its identity document was not accepted')

    # Through the main session: the CA consent, the agreement, an application with keys made on "this computer".
    main_browser = browsers['main']
    main_browser.call('POST', '/digital-id/consents', {'pin': PIN, 'days': 30}, expect=201)
    keys = os.path.join(WORK, 'portal-applicant')
    tulga('keys', 'generate', '--iin', PORTAL_IIN, '--folder', keys, env={'TULGA_KEY_PASSWORD': 'Contract#Pass2'})
    agreement = main_browser.call('GET', '/agreement?lang=en', expect=200)[2]['version']
    requests = {name: open(os.path.join(keys, f'{name}.csr')).read() for name in ['AUTH', 'SIGN']}
    number = main_browser.call('POST', '/applications', {'pin': PIN, 'agreement': agreement, 'template': 'individual', 'storage': 'folder',
                                                         'authRequest': requests['AUTH'], 'signRequest': requests['SIGN']},
                               expect=201)[2]['number']
    end = Browser()

    # schemathesis's configuration: who calls each operation, and the record it names.
    def entry(operation, browser, **parameters):
        lines = ['[[operations]]', f'include-operation-id = "{operation}"',
                 'headers = { Cookie = "tulga_portal=%s", "X-CSRF-Token" = "%s" }' % (browser.cookie, browser.csrf)]
        if parameters:
            lines.append('parameters = { %s }' % ', '.join(f'"{k}" = "{v}"' for k, v in parameters.items()))
        if operation == 'portalSession':
            # The coverage phase also sends a path's other methods: a POST to /app/api/session with this cookie would
            # begin a new session and end this one (as the page does when it begins again).
            lines.append('phases.coverage.unexpected-methods = ["PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "QUERY"]')
        return '\n'.join(lines) + '\n'

    # portalBegin names a cookie nobody holds: a begin ends the session its cookie names, and schemathesis may
    # carry a cookie over from an earlier operation's request when an operation configures none (seen with 4.32.5).
    out = ['[[operations]]\ninclude-operation-id = "portalBegin"\nheaders = { Cookie = "tulga_portal=%s" }\n' % ('0' * 64),
           entry('portalEnd', end)]
    for operation in ['portalSession', 'portalSMSRequest', 'portalSMSConfirm', 'portalStartVerification', 'portalSetPIN', 'portalConsent',
                      'portalAgreement', 'portalApply', 'portalApplications', 'portalSignInChallenge', 'portalSignInCertificate',
                      'portalSignInConfirm']:
        out.append(entry(operation, main_browser))
    for operation in ['portalApplication', 'portalHistory', 'portalCertificates', 'portalInstall']:
        out.append(entry(operation, main_browser, **{'path.number': number}))
    for name, operation in [('get', 'portalGetVerification'), ('selfie', 'portalSelfie'), ('frame', 'portalFrame'), ('finish', 'portalFinishVerification')]:
        out.append(entry(operation, browsers[name], **{'path.id': sessions[name]}))
    for operation in ['portalPostDocumentFront', 'portalPostDocumentBack', 'portalGetDocument', 'portalConfirmDocument']:
        out.append(entry(operation, browsers['document'], **{'path.id': sessions['document']}))
    print('\n'.join(out))
    print(f'portal seeded: application {number}, document session {sessions["document"]} ({phase})', file=sys.stderr)


if __name__ == '__main__':
    main()
