#!/usr/bin/env python3
"""The applicant's flow at /app/ in headless Chromium through WebDriver (run by scripts/browser-test).

A real `tulga serve` on a scratch SQLite database with a registry imported from the fixture faces, the
key agent with folder storage, the camera faked from the fixture video (y4m by ffmpeg), and the
identity-document step as the policy has it by default (required): an ID card made by
scripts/render-document with the registry's data and the video's person as its portrait, sent side by
side through the page's file inputs. Every wait is on a condition (WebDriverWait), never a fixed sleep.
Each step's screen is saved as a PNG.
"""
import argparse
import glob
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.normpath(os.path.join(ROOT, '..', 'shared', 'fixtures'))
VIDEO = os.path.join(FIXTURES, 'video', 'lin_manuel_miranda_head_turns.mp4')
LIN, OBAMA = '850314300013', '850314300023'
PHONES = {LIN: '+77010000001', OBAMA: '+77010000002'}
PIN = '402719'
# Lin's ID card as the registry records it: its number, and the Latin names the document prints.
LIN_CARD = {'number': '041234567', 'surname': 'MIRANDA', 'given_names': 'LIN MANUEL'}
# The fixture face printed as the card's portrait: the registry's photo of the video's person.
LIN_PORTRAIT = 'lin_manuel_miranda_f095.png'
# The agent's key password: the agent reads it from its environment (it never passes through the page).
KEY_PASSWORD = 'Browser#Pass1'


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def wait_for_port(port, process, seconds=60):
    """Until something accepts on 127.0.0.1:port (or the process died)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f'browser-test: the process on port {port} exited with {process.returncode}')
        try:
            with socket.create_connection(('127.0.0.1', port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)   # polling a port, not waiting on the page
    raise SystemExit(f'browser-test: nothing listens on {port} after {seconds} s')


class Service_:
    """The service's scratch world: database, keys, CA, registry, config, and `tulga serve`."""

    def __init__(self, tulga, work):
        self.tulga, self.work = tulga, work
        self.port, self.agent_port = free_port(), free_port()
        self.origin = f'http://127.0.0.1:{self.port}'
        self.config = os.path.join(work, 'tulga.json')
        # Where `tulga ca init` writes the root CA's certificate (ca.directory below): the agent pins it.
        self.ca_root = os.path.join(work, 'ca', 'root.crt')
        config = {
            # No publicBaseURL: every command derives it from the configuration and $TULGA_PORT (set for each one
            # below), so the sign-in audience is this page's origin, which the agent requires.
            'ca': {'directory': f'{work}/ca', 'passwordFile': f'{work}/keys/ca-password'},
            'storage': {'checkpointFolder': f'{work}/checkpoints', 'reviewFolder': f'{work}/review', 'temporaryFolder': f'{work}/tmp'},
            # The fixture video only turns right; a recording turns when it was recorded to, not when asked, so the
            # prompt may wait for the loop to come round (the selfie-to-last-prompt limit stays 30 s).
            'liveness': {'fixedPrompts': ['turn_right'], 'promptTimeoutMs': 15000},
            'portal': {'agentPort': self.agent_port},
            # policy.documentStepRequired is left at its default (on): the card goes in through the page's file inputs.
        }
        with open(self.config, 'w') as f:
            json.dump(config, f)
        self.args = ['--database', f'{work}/tulga.sqlite', '--keys', f'{work}/keys', '--config', self.config]
        self.spools = 0
        self.server = None

    def run(self, *args, store=True, env=None):
        full = [self.tulga, *args] + (self.args if store else [])
        result = subprocess.run(full, capture_output=True, text=True, env={**os.environ, 'TULGA_PORT': str(self.port), **(env or {})})
        if result.returncode != 0:
            raise SystemExit(f'browser-test: {" ".join(args)} failed: {result.stderr.strip()[-2000:]}')
        return result.stdout

    def prepare(self):
        self.run('ca', 'init', '--config', self.config, store=False)
        self.run('init')
        photos = os.path.join(self.work, 'photos')
        os.makedirs(photos)
        shutil.copy(os.path.join(FIXTURES, 'faces', 'lin_manuel_miranda_f095.png'), os.path.join(photos, 'lin.png'))
        shutil.copy(os.path.join(ROOT, 'Fixtures', 'photos', 'obama.jpg'), os.path.join(photos, 'obama.jpg'))
        registry = os.path.join(self.work, 'registry.csv')
        with open(registry, 'w') as f:
            f.write('iin,surname,given_name,document_number,phone,photo,patronymic,latin_surname,latin_given_names\n')
            f.write(f'{LIN},Miranda,Lin,{LIN_CARD["number"]},{PHONES[LIN]},lin.png,,{LIN_CARD["surname"]},{LIN_CARD["given_names"]}\n')
            f.write(f'{OBAMA},Obama,Barack,N07654321,{PHONES[OBAMA]},obama.jpg,,,\n')
        self.run('registry', 'import', '--csv', registry, '--photos', photos)
        for iin, phone in PHONES.items():
            self.run('phone', 'register', iin, phone)

    def start(self):
        log = open(os.path.join(self.work, 'server.log'), 'w')
        # $TULGA_PORT, not --port: the address every command derives the CA's public URL from (serve warns otherwise).
        self.server = subprocess.Popen([self.tulga, 'serve', *self.args], stdout=log, stderr=log,
                                       env={**os.environ, 'LOG_LEVEL': 'info', 'TULGA_PORT': str(self.port)})
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                raise SystemExit(f'browser-test: tulga serve exited: {open(log.name).read()[-2000:]}')
            try:
                with urllib.request.urlopen(f'{self.origin}/health/ready', timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)   # polling the readiness probe before the browser starts
        raise SystemExit('browser-test: tulga serve was not ready in 120 s')

    def sms_code(self, phone):
        """The newest code sent to `phone`, through the SMS gateway's spool."""
        self.spools += 1
        folder = os.path.join(self.work, f'spool-{self.spools}')
        self.run('sms', 'spool', '--to', folder)
        codes = []
        for path in sorted(glob.glob(os.path.join(folder, '*.sms')), key=os.path.getmtime):
            text = open(path).read()
            if f'to: {phone}\n' in text:
                codes += re.findall(r'\b(\d{6})\b', text.split('\n\n', 1)[1])
        if not codes:
            raise SystemExit(f'browser-test: no SMS code for {phone} in the spool')
        return codes[-1]

    def stop(self):
        if self.server and self.server.poll() is None:
            self.server.terminate()
            try:
                self.server.wait(30)
            except subprocess.TimeoutExpired:
                self.server.kill()


def start_agent(tulga, folder, port, origin, work, ca_root):
    """The key agent (`tulga keys agent`) with folder storage, its password from the environment, and the scratch CA's
    root certificate pinned (--ca-root): install takes certificates only under that root."""
    log = open(os.path.join(work, 'agent.log'), 'w')
    agent = subprocess.Popen([tulga, 'keys', 'agent', '--folder', folder, '--port', str(port), '--origin', origin, '--ca-root', ca_root],
                             stdout=log, stderr=log, stdin=subprocess.DEVNULL, env={**os.environ, 'TULGA_KEY_PASSWORD': KEY_PASSWORD})
    wait_for_port(port, agent)
    return agent


class Browser:
    def __init__(self, video, shots):
        options = webdriver.ChromeOptions()
        options.binary_location = '/usr/lib/chromium/chromium' if os.path.exists('/usr/lib/chromium/chromium') else shutil.which('chromium')
        for flag in ['--headless=new', '--no-sandbox', '--disable-dev-shm-usage', '--window-size=1000,1500', '--disable-gpu',
                     '--use-fake-device-for-media-stream', f'--use-file-for-fake-video-capture={video}', '--use-fake-ui-for-media-stream',
                     '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']:
            options.add_argument(flag)
        options.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
        self.driver = webdriver.Chrome(options=options, service=Service(executable_path=shutil.which('chromedriver')))
        self.shots = shots
        self.count = 0

    def shot(self, name):
        self.count += 1
        path = os.path.join(self.shots, f'{self.count:02d}-{name}.png')
        self.driver.save_screenshot(path)
        print(f'  screen {os.path.basename(path)}')

    def wait(self, condition, seconds=30, what=''):
        try:
            return WebDriverWait(self.driver, seconds, poll_frequency=0.2).until(lambda d: condition(d))
        except TimeoutException:
            self.shot('timeout')
            with open(os.path.join(self.shots, 'console.log'), 'w') as log:
                for entry in self.driver.get_log('browser'):
                    log.write(f"{entry['level']} {entry['message']}\n")
            error = self.driver.find_element(By.ID, 'error')
            raise SystemExit(f'browser-test: timed out waiting for {what} (step {self.step()}, error: {error.text!r})')

    def step(self):
        return self.driver.find_element(By.TAG_NAME, 'body').get_attribute('data-step')

    def at(self, step, seconds=30):
        """Waits until the page shows `step` and is not busy."""
        self.wait(lambda d: self.step() == step and d.find_element(By.TAG_NAME, 'body').get_attribute('data-busy') is None, seconds, f'step {step}')

    def visible(self, element_id, seconds=30):
        return self.wait(lambda d: d.find_element(By.ID, element_id).is_displayed() and d.find_element(By.TAG_NAME, 'body').get_attribute('data-busy') is None,
                         seconds, f'#{element_id} shown')

    def click(self, element_id):
        self.wait(lambda d: d.find_element(By.ID, element_id).is_enabled(), 30, f'#{element_id} enabled')
        self.driver.find_element(By.ID, element_id).click()

    def type(self, element_id, text):
        field = self.driver.find_element(By.ID, element_id)
        field.clear()
        field.send_keys(text)

    def text(self, element_id):
        return self.driver.find_element(By.ID, element_id).text

    def no_error(self):
        error = self.driver.find_element(By.ID, 'error')
        if error.is_displayed():
            raise SystemExit(f'browser-test: the page shows an error at step {self.step()}: {error.text}')


def render_card(work):
    """Lin's ID card as scripts/render-document makes it (the front and back as JPEG files): the registry's data,
    valid from today, the video's person as the portrait, flat as a scan (the file an applicant uploads)."""
    out = os.path.join(work, 'card')
    result = subprocess.run(['/usr/bin/python3', os.path.join(ROOT, 'scripts', 'render-document'), '--kind', 'id-card', '--out', out,
                             '--seed', '3', '--clean', '--faces', os.path.join(FIXTURES, 'faces'), '--portrait', LIN_PORTRAIT, '--iin', LIN,
                             '--surname', LIN_CARD['surname'], '--given-names', LIN_CARD['given_names'], '--number', LIN_CARD['number']],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f'browser-test: render-document failed: {result.stderr.strip()[-2000:]}')
    with open(result.stdout.strip()) as f:
        return json.load(f)


def document_step(b, work, ru, card):
    """The identity-document step through the file inputs: a file over the service's limit and one that is no photo
    are refused in the page, with the catalogue's words; then the front and back, the data read, confirmed."""
    b.at('document')
    b.shot('document')
    too_large = os.path.join(work, 'too-large.jpg')
    with open(too_large, 'wb') as f:
        f.write(b'\xff\xd8\xff\xe0' + bytes(4 * 1024 * 1024))
    not_photo = os.path.join(work, 'not-a-photo.jpg')
    with open(not_photo, 'w') as f:
        f.write('not a picture\n')
    for path, key, args in [(too_large, 'portal.document_file_size', {'mb': '4'}), (not_photo, 'portal.document_file_type', {})]:
        expected = ru[key]
        for name, value in args.items():
            expected = expected.replace('{' + name + '}', value)
        b.driver.find_element(By.ID, 'document-front-file').send_keys(path)
        b.wait(lambda d: d.find_element(By.ID, 'error').is_displayed() and d.find_element(By.ID, 'error').text == expected, 30,
               f'the page refusing {os.path.basename(path)}')
        b.shot(f'document-{os.path.basename(path)[:-4]}')
    for i, path in enumerate(card['files']):
        side = 'front' if i == 0 else 'back'
        b.driver.find_element(By.ID, f'document-{side}-file').send_keys(path)
        b.wait(lambda d: d.find_element(By.ID, 'error').is_displayed() or (
            d.find_element(By.ID, f'document-{side}-state').get_attribute('data-received') == 'true'
            and d.find_element(By.TAG_NAME, 'body').get_attribute('data-busy') is None), 180, f'the {side} received')
        b.no_error()
    b.visible('document-read', 60)
    shown = {dd.get_attribute('data-field'): dd.text for dd in b.driver.find_elements(By.CSS_SELECTOR, '#document-data dd')}
    expected = {'documentNumber': LIN_CARD['number'], 'surname': LIN_CARD['surname'], 'givenNames': LIN_CARD['given_names'],
                'birthDate': card['birth_date'], 'expiryDate': card['expiry_date'], 'iin': LIN}
    assert all(shown.get(name) == value for name, value in expected.items()), (shown, expected)
    assert ru['portal.document_field_number'] in b.text('document-data'), b.text('document-data')
    print(f'  the card read: {", ".join(f"{k}={v}" for k, v in shown.items())}')
    b.shot('document-read')
    b.click('document-confirm')
    # A match completes the Digital ID and the page goes on; a mismatch or a portrait in the review band would stay here.
    b.wait(lambda d: b.step() == 'agreement' or d.find_element(By.ID, 'document-review').is_displayed(), 120, 'the document confirmed')
    assert b.step() == 'agreement', f'the document went to a moderator: {b.text("document-review")}'


def messages(origin, lang):
    with urllib.request.urlopen(f'{origin}/app/api/messages?lang={lang}') as r:
        return json.load(r)


def verify(browser, service, iin, expect_pass):
    """SMS code → camera → selfie (with a retake) → the video check, to its outcome."""
    b = browser
    b.type('iin', iin)
    b.shot(f'start-{iin}')
    b.click('get-code')
    b.at('sms')
    b.type('code', service.sms_code(PHONES[iin]))
    b.wait(lambda d: int(d.find_element(By.ID, 'countdown').get_attribute('data-left') or 0) > 0, 10, 'the countdown')
    b.shot('sms-code')
    b.click('confirm-code')
    b.at('camera')
    b.shot('camera')
    b.click('camera-check')
    b.at('selfie')
    b.wait(lambda d: d.execute_script('return document.getElementById("camera").videoWidth') > 0, 30, 'the camera playing')
    b.click('take-photo')
    b.visible('selfie-next', 60)
    b.click('retake')
    b.visible('selfie-next', 60)
    b.no_error()
    b.shot('selfie')
    b.click('selfie-next')
    b.at('video')
    b.click('start-check')
    if expect_pass:
        b.wait(lambda d: d.find_element(By.ID, 'prompt').get_attribute('data-prompt') == 'turn_right', 120, 'the turn-right prompt')
        b.shot('video-prompt')
    b.visible('outcome', 240)
    b.shot('video-outcome')
    return b.driver.find_element(By.ID, 'outcome')


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--tulga', required=True)
    parser.add_argument('--keep', action='store_true', help='keep the scratch folder')
    options = parser.parse_args()
    started = time.monotonic()
    shots = os.environ.get('TULGA_SCREENS', os.path.join(ROOT, 'var', 'browser-screens'))
    shutil.rmtree(shots, ignore_errors=True)
    os.makedirs(shots)
    work = tempfile.mkdtemp(prefix='tulga-browser.')
    camera = os.path.join(work, 'camera.y4m')
    # The fake camera, as Chromium loops it: the applicant holds still, frontal, for 3 s (the clip's first frame: the
    # selfie and the baseline), then the clip forwards and backwards at two thirds of its speed (the page samples a
    # few frames a second; at full speed the face moves too far between two samples for the continuity rule). The
    # loop ends where it began, so the face never jumps; each pass turns the head right (to 41 degrees) and back.
    subprocess.run(['ffmpeg', '-v', 'error', '-y', '-i', VIDEO, '-filter_complex',
                    '[0:v]split=3[a][b][c];[a]trim=end_frame=1,setpts=PTS-STARTPTS,loop=loop=89:size=1:start=0[hold];'
                    '[b]setpts=1.5*(PTS-STARTPTS),fps=30[fwd];[c]reverse,setpts=1.5*(PTS-STARTPTS),fps=30[back];'
                    '[hold][fwd][back]concat=n=3:v=1,setpts=N/30/TB[v]',
                    '-map', '[v]', '-r', '30', '-pix_fmt', 'yuv420p', camera], check=True)
    service = Service_(options.tulga, work)
    agent = browser = None
    try:
        card = render_card(work)
        service.prepare()
        service.start()
        ru, kk = messages(service.origin, 'ru'), messages(service.origin, 'kk')
        browser = Browser(camera, shots)
        b = browser
        print(f'==> the page at {service.origin}/app/ (agent on {service.agent_port})')
        b.driver.get(f'{service.origin}/app/')
        b.at('start')
        # Before the agent runs, the page says so.
        b.wait(lambda d: 'missing' in d.find_element(By.ID, 'agent').get_attribute('class'), 30, 'the agent reported missing')
        assert b.text('agent-text') == ru['portal.agent_missing'], b.text('agent-text')
        b.shot('agent-missing')
        # The language switch: Kazakh, then back to Russian.
        b.driver.find_element(By.CSS_SELECTOR, '[data-lang="kk"]').click()
        b.wait(lambda d: d.find_element(By.TAG_NAME, 'h1').text == kk['portal.title'], 10, 'the Kazakh title')
        b.shot('kazakh')
        b.driver.find_element(By.CSS_SELECTOR, '[data-lang="ru"]').click()
        b.wait(lambda d: d.find_element(By.TAG_NAME, 'h1').text == ru['portal.title'], 10, 'the Russian title')
        agent_folder = os.path.join(work, 'applicant-keys')
        agent = start_agent(options.tulga, agent_folder, service.agent_port, service.origin, work, service.ca_root)
        b.click('agent-retry')
        b.wait(lambda d: 'ok' in d.find_element(By.ID, 'agent').get_attribute('class').split(), 30, 'the agent connected')

        print('==> run 1: the registry photo\'s owner, to two installed containers')
        outcome = verify(b, service, LIN, expect_pass=True)
        assert outcome.get_attribute('data-outcome') == 'pass', outcome.text
        assert ru['kiosk.outcome_pass'] in outcome.text, outcome.text
        b.click('video-next')
        b.at('pin')
        b.type('pin1', PIN)
        b.type('pin2', PIN)
        b.shot('pin')
        b.click('set-pin')
        document_step(b, work, ru, card)
        b.at('agreement')
        b.driver.find_element(By.ID, 'accept-agreement').click()
        b.driver.find_element(By.ID, 'accept-consent').click()
        b.type('pin-enter', PIN)
        b.shot('agreement')
        b.click('agree')
        b.at('apply')
        b.shot('apply')
        b.click('apply')
        b.at('install', 180)
        b.click('install')
        b.visible('installed', 120)
        b.shot('installed')
        containers = sorted(glob.glob(os.path.join(agent_folder, '*.p12')))
        assert len(containers) == 2, containers
        for container in containers:
            subprocess.run(['openssl', 'pkcs12', '-in', container, '-nokeys', '-passin', 'env:TULGA_KEY_PASSWORD'], check=True,
                           capture_output=True, env={**os.environ, 'TULGA_KEY_PASSWORD': KEY_PASSWORD})
        print(f'  two containers open with openssl pkcs12: {", ".join(os.path.basename(c) for c in containers)}')
        b.click('install-next')
        b.at('status')
        card = b.driver.find_element(By.CSS_SELECTOR, '.application')
        number = card.get_attribute('data-number')
        assert card.get_attribute('data-status') == 'installed', card.get_attribute('data-status')
        assert ru['status.installed'] in card.text and ru['status.issued'] in card.text, card.text
        b.shot('status')

        print('==> sign out, then sign in with the AUTH key and a 1414 code')
        b.click('sign-out')
        b.at('start')
        b.click('to-signin')
        b.at('signin')
        b.click('signin-start')
        b.visible('signin-code-row', 120)
        b.type('signin-code', service.sms_code(PHONES[LIN]))
        b.shot('signin-code')
        b.click('signin-confirm')
        b.at('status')
        b.wait(lambda d: d.find_element(By.ID, 'signed-in').get_attribute('data-signed-in') == 'true', 10, 'signed in')
        assert LIN in b.text('signed-in-text'), b.text('signed-in-text')
        card = b.driver.find_element(By.CSS_SELECTOR, f'.application[data-number="{number}"]')
        assert card.get_attribute('data-status') == 'installed'
        b.shot('signed-in-status')
        b.click('sign-out')
        b.at('start')
        b.wait(lambda d: not d.find_element(By.ID, 'signed-in').is_displayed(), 10, 'signed out')

        print('==> run 2: another registry identity\'s IIN with the same face: a failed attempt')
        outcome = verify(b, service, OBAMA, expect_pass=False)
        assert outcome.get_attribute('data-outcome') == 'fail', outcome.text
        retry = ru['kiosk.outcome_retry'].replace('{left}', '4')
        assert ru['kiosk.no_match'] in outcome.text and retry in outcome.text, outcome.text
        b.visible('retry-check')

        problems = [entry['message'] for entry in b.driver.get_log('browser')
                    if 'Content Security Policy' in entry['message'] or 'Refused to' in entry['message']]
        assert not problems, problems
        # Every command got the same address ($TULGA_PORT): serve derived the CA's public URL as the others do.
        with open(os.path.join(work, 'server.log')) as log:
            assert 'ca.publicBaseURL is empty' not in log.read(), 'tulga serve warned that its public URL is not what other commands derive'
        print(f'browser-test: 1 passed, 0 failed ({b.count} screens in {shots}, {time.monotonic() - started:.0f} s)')
    finally:
        if browser:
            browser.driver.quit()
        if agent and agent.poll() is None:
            agent.terminate()
            agent.wait(30)
        service.stop()
        if options.keep:
            print(f'scratch folder kept: {work}')
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
