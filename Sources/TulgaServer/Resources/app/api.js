// The portal's own routes on this origin. The session lives in an HttpOnly cookie the page never
// sees; every state-changing call carries the session's CSRF token in X-CSRF-Token.

/** A refusal from the service: its stable code, the HTTP status, the detail, and the catalogue message when it has one. */
export class Problem extends Error {
  constructor(code, status, detail, message, retryAfter) {
    super(detail || code);
    this.code = code;
    this.status = status;
    this.detail = detail || '';
    this.catalogue = message || null;
    this.retryAfter = retryAfter || null;
  }
}

export class PortalAPI {
  constructor() {
    this.csrf = null;
  }

  /** Begins a session (the cookie is set by the answer); remembers its CSRF token. */
  async begin() {
    const session = await this.request('POST', '/app/api/session', {});
    this.csrf = session.csrf;
    return session;
  }

  /** The current session, or null when there is none. */
  async current() {
    try {
      const session = await this.request('GET', '/app/api/session');
      this.csrf = session.csrf;
      return session;
    } catch (problem) {
      if (problem instanceof Problem && problem.status === 401) return null;
      throw problem;
    }
  }

  /**
   * Takes the new CSRF token of an answer that rotated the session (the SMS code's binding, a sign-in):
   * the new cookie came with it, the old token is void.
   */
  adopt(answer) {
    if (answer && answer.csrf) this.csrf = answer.csrf;
    return answer;
  }

  /**
   * One call. `body`: undefined, a Blob (sent as it is) or anything JSON.
   * Resolves with the decoded JSON; rejects with a Problem.
   */
  async request(method, path, body) {
    const headers = {};
    let payload;
    if (body instanceof Blob) {
      payload = body;
      headers['Content-Type'] = body.type || 'application/octet-stream';
    } else if (body !== undefined) {
      payload = JSON.stringify(body);
      headers['Content-Type'] = 'application/json';
    }
    if (method !== 'GET' && this.csrf) headers['X-CSRF-Token'] = this.csrf;
    let response;
    try {
      response = await fetch(path, { method, headers, body: payload, credentials: 'same-origin', cache: 'no-store', redirect: 'error' });
    } catch (error) {
      throw new Problem('network', 0, String(error));
    }
    const type = response.headers.get('Content-Type') || '';
    let data = null;
    if (type.includes('json')) {
      try { data = await response.json(); } catch { data = null; }
    }
    if (!response.ok) {
      throw new Problem((data && data.code) || 'http_' + response.status, response.status, data && data.detail,
                        data && data.message, response.headers.get('Retry-After'));
    }
    return data;
  }
}
