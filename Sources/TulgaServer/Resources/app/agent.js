// The applicant's key agent (`tulga keys agent`, the NCALayer role) on ws://127.0.0.1:PORT/.
// One JSON object per text frame: {id, method, params} → {id, result} or {id, error: {code, message}}.
// The agent makes the keys (and gives their requests again while they wait: `pending`), installs the
// certificates and signs sign-in challenges for this page's origin only; it asks for passwords and
// PINs itself, so the page never sees one.

/** A refusal from the agent, or `not_running` when nothing answers on the port. */
export class AgentProblem extends Error {
  constructor(code, message) {
    super(message || code);
    this.code = code;
    this.detail = message || '';
  }
}

export class Agent {
  constructor(port) {
    this.port = port;
    this.socket = null;
    this.nextID = 1;
    this.pending = new Map();
  }

  /** Opens the connection once; rejects with `not_running` when the agent does not answer in time. */
  connect(timeoutMs = 3000) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) return Promise.resolve();
    return new Promise((resolve, reject) => {
      let socket;
      try {
        socket = new WebSocket(`ws://127.0.0.1:${this.port}/`);
      } catch {
        reject(new AgentProblem('not_running'));
        return;
      }
      let settled = false;
      const fail = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(new AgentProblem('not_running'));
      };
      const timer = setTimeout(() => { fail(); socket.close(); }, timeoutMs);
      socket.onopen = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.socket = socket;
        resolve();
      };
      socket.onerror = fail;
      socket.onclose = () => {
        fail();
        if (this.socket === socket) this.socket = null;
        for (const call of this.pending.values()) {
          clearTimeout(call.timer);
          call.reject(new AgentProblem('not_running'));
        }
        this.pending.clear();
      };
      socket.onmessage = (event) => {
        let answer;
        try { answer = JSON.parse(event.data); } catch { return; }
        const call = this.pending.get(answer.id);
        if (!call) return;
        this.pending.delete(answer.id);
        clearTimeout(call.timer);
        if (answer.error) call.reject(new AgentProblem(answer.error.code || 'internal', answer.error.message));
        else call.resolve(answer.result || {});
      };
    });
  }

  /** Calls `method`; the agent may wait for its user to type a password, so the wait is long. */
  async call(method, params = {}, timeoutMs = 600000) {
    await this.connect();
    const id = this.nextID++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new AgentProblem('timeout'));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.socket.send(JSON.stringify({ id, method, params }));
    });
  }

  /** {agent, protocol, storage}, or rejects with `not_running`. */
  hello() {
    return this.call('hello', {}, 5000);
  }
}
