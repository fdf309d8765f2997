export class TutorError extends Error {
    constructor(code, message, status, frame) {
        super(message);
        this.code = code;
        this.status = status;
        this.frame = frame;
        this.name = 'TutorError';
    }
}
const OPEN = 1;
const DEFAULT_RECONNECT = {
    initialDelayMs: 500,
    maxDelayMs: 15000,
    factor: 2,
    maxAttempts: Infinity,
};
/** Exponential backoff with full jitter: attempt 1 waits up to `initialDelayMs`. */
export function backoffDelay(attempt, options, random = Math.random) {
    const ceiling = Math.min(options.maxDelayMs, options.initialDelayMs * options.factor ** (attempt - 1));
    return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
/** A queue that a socket pushes into and an async iterator pulls from. */
class EventQueue {
    constructor() {
        this.items = [];
        this.waiters = [];
        this.ended = false;
        this.failure = null;
    }
    push(item) {
        const waiter = this.waiters.shift();
        if (waiter)
            waiter.resolve({ value: item, done: false });
        else
            this.items.push(item);
    }
    end() {
        this.ended = true;
        for (const w of this.waiters.splice(0))
            w.resolve({ value: undefined, done: true });
    }
    fail(error) {
        this.failure = error;
        for (const w of this.waiters.splice(0))
            w.reject(error);
    }
    next() {
        if (this.items.length)
            return Promise.resolve({ value: this.items.shift(), done: false });
        if (this.failure)
            return Promise.reject(this.failure);
        if (this.ended)
            return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
    }
}
/** One answer in progress: iterate it for its frames; `cancel()` stops it. */
export class AnswerStream {
    constructor(client) {
        this.client = client;
        this.queue = new EventQueue();
        /** the turn id once the server names it (chat_started.metadata.turn_id, where supported) */
        this.turnId = null;
        this.lastChunkIndex = 0;
        this.text = '';
        this.cancelled = false;
        this.done = false;
    }
    cancel() {
        return this.client.cancel();
    }
    [Symbol.asyncIterator]() {
        return { next: () => this.queue.next() };
    }
}
export class TutorClient {
    constructor(options) {
        this.ws = null;
        this.state = 'idle';
        this.opening = null;
        this.abandonOpening = null;
        this.generation = 0;
        this.current = null;
        this.pendingPongs = [];
        this.pingTimer = null;
        this.reconnectTimer = null;
        this.attempts = 0;
        this.closedByUser = false;
        this.refused = null;
        this.capabilities = null;
        this.listeners = new Map();
        this.connection = null;
        const WS = options.WebSocket ?? globalThis.WebSocket;
        const f = options.fetch ?? globalThis.fetch?.bind(globalThis);
        if (!WS)
            throw new Error('No WebSocket implementation: pass options.WebSocket');
        this.options = {
            url: options.url.replace(/\/+$/, ''),
            WebSocket: WS,
            fetch: f,
            pingIntervalMs: options.pingIntervalMs ?? 25000,
            pongTimeoutMs: options.pongTimeoutMs ?? 10000,
            connectTimeoutMs: options.connectTimeoutMs ?? 10000,
            reconnect: { ...DEFAULT_RECONNECT, ...(options.reconnect ?? {}) },
        };
        this.courseId = options.courseId ?? null;
        this.userId = options.userId ?? null;
        this.token = options.token ?? null;
    }
    // --- events ---------------------------------------------------------------------------------
    on(type, listener) {
        let set = this.listeners.get(type);
        if (!set)
            this.listeners.set(type, (set = new Set()));
        set.add(listener);
        return () => set.delete(listener);
    }
    emit(type, value) {
        for (const listener of this.listeners.get(type) ?? [])
            listener(value);
    }
    setState(state, detail = {}) {
        this.state = state;
        this.emit('state', { state, ...detail });
    }
    get connectionState() {
        return this.state;
    }
    /** Switch identity (e.g. after a launch-ticket exchange); the next socket uses it. */
    setIdentity(identity) {
        if ('token' in identity)
            this.token = identity.token ?? null;
        if ('userId' in identity)
            this.userId = identity.userId ?? null;
        this.refused = null;
    }
    /** Switch course; the next `connect()` (or `reconnectNow()`) opens a socket for it. */
    setCourse(courseId) {
        this.courseId = courseId;
        this.refused = null;
    }
    /** Close the current socket (cancelling any answer) and open a new one at once. */
    async reconnectNow() {
        const ws = this.ws;
        const stream = this.current;
        if (stream && !stream.done) {
            stream.cancelled = true;
            this.finish(stream);
        }
        this.dropSocket(ws);
        this.setState('connecting');
        return this.connect();
    }
    /** Let go of `ws` (open or still opening) without triggering a reconnect. */
    dropSocket(ws) {
        this.generation += 1;
        this.abandonOpening?.();
        this.opening = null;
        this.ws = null;
        this.stopPings();
        this.connection = null;
        if (!ws)
            return;
        ws.onclose = null;
        ws.onmessage = null;
        try {
            if (ws.readyState === OPEN)
                ws.send(JSON.stringify({ type: 'disconnect' }));
            ws.close(1000);
        }
        catch {
            /* already closed */
        }
    }
    // --- HTTP -----------------------------------------------------------------------------------
    async bearer() {
        return typeof this.token === 'function' ? this.token() : this.token ?? null;
    }
    /** Headers that say who is asking: the bearer token, or the claimed user id (AUTH_MODE=none). */
    async authHeaders() {
        const token = await this.bearer();
        if (token)
            return { Authorization: `Bearer ${token}` };
        return this.userId ? { 'X-User-Id': this.userId } : {};
    }
    async request(path, init = {}) {
        const headers = { Accept: 'application/json', ...(await this.authHeaders()), ...init.headers };
        let response;
        try {
            response = await this.options.fetch(this.options.url + path, { ...init, headers });
        }
        catch (error) {
            throw new TutorError('CONNECT_FAILED', `Cannot reach ${this.options.url}: ${String(error)}`);
        }
        if (!response.ok) {
            let detail = response.statusText;
            try {
                const body = await response.json();
                detail = typeof body.detail === 'string' ? body.detail : JSON.stringify(body.detail ?? body);
            }
            catch {
                /* not JSON */
            }
            throw new TutorError('HTTP_ERROR', detail, response.status);
        }
        return (await response.json());
    }
    status() {
        return this.request('/ws/status');
    }
    courses() {
        return this.request('/courses');
    }
    rooms(courseId) {
        const query = courseId ? `?course_id=${encodeURIComponent(courseId)}` : '';
        return this.request(`/users/me/rooms${query}`);
    }
    roomTurns(chatroomId) {
        return this.request(`/rooms/${encodeURIComponent(chatroomId)}/turns`);
    }
    stats(params = {}) {
        const query = new URLSearchParams();
        if (params.courseId)
            query.set('course_id', params.courseId);
        if (params.from)
            query.set('from', params.from);
        if (params.to)
            query.set('to', params.to);
        return this.request(`/api/stats?${query}`);
    }
    /** `GET /auth/me` where the server has it; `{auth_mode: "none"}` where it does not. */
    async me() {
        try {
            return await this.request('/auth/me');
        }
        catch (error) {
            if (error instanceof TutorError && error.status === 404)
                return { auth_mode: 'none' };
            throw error;
        }
    }
    /** Exchange a one-time launch ticket (LTI redirect `/?ticket=...`) for a bearer token. */
    async exchangeLaunchTicket(ticket) {
        const session = await this.request('/auth/session', {
            method: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify({ ticket }),
        });
        this.token = session.token;
        this.userId = session.user_id;
        return session;
    }
    /** The URL of a course PDF at a page. With AUTH_MODE=none the user id rides along in the query. */
    pdfUrl(courseId, materialId, page) {
        const path = `/materials/${encodeURIComponent(courseId)}/${encodeURIComponent(materialId)}.pdf`;
        const who = !this.token && this.userId ? `?user_id=${encodeURIComponent(this.userId)}` : '';
        return `${this.options.url}${path}${who}#page=${page}`;
    }
    /** A URL a browser can open without headers: the PDF fetched with the bearer, as a blob URL. */
    async pdfBlobUrl(courseId, materialId, page) {
        const url = this.pdfUrl(courseId, materialId, page).split('#')[0];
        const response = await this.options.fetch(url, { headers: await this.authHeaders() });
        if (!response.ok)
            throw new TutorError('HTTP_ERROR', `The PDF is not available (${response.status}).`, response.status);
        const blob = await response.blob();
        return `${URL.createObjectURL(blob)}#page=${page}`;
    }
    /** Message types the server accepts (`/ws/status`: `message_types` and `added_message_types`),
     * to use additions only where they exist. */
    supports(messageType) {
        this.capabilities ?? (this.capabilities = this.status()
            .then((s) => new Set([...s.message_types, ...(s.added_message_types ?? [])]))
            .catch(() => {
            this.capabilities = null;
            return new Set();
        }));
        return this.capabilities.then((types) => types.has(messageType));
    }
    // --- the socket -----------------------------------------------------------------------------
    async socketUrl() {
        const params = new URLSearchParams();
        const token = await this.bearer();
        if (token) {
            const body = this.courseId ? { course_id: this.courseId } : {};
            const { ticket } = await this.request('/auth/ticket', {
                method: 'POST',
                headers: { 'Content-Type': 'application/json' },
                body: JSON.stringify(body),
            });
            params.set('ticket', ticket);
        }
        if (this.userId)
            params.set('user_id', this.userId);
        if (this.courseId)
            params.set('course_id', this.courseId);
        return `${this.options.url.replace(/^http/, 'ws')}/ws/stream?${params}`;
    }
    /** Open the socket (if not open) and resolve with the server's `connection` frame. */
    connect() {
        if (this.ws && this.ws.readyState === OPEN && this.connection && this.state === 'open') {
            return Promise.resolve(this.connection);
        }
        if (this.refused)
            return Promise.reject(this.refused);
        this.closedByUser = false;
        this.opening ?? (this.opening = this.open().finally(() => {
            this.opening = null;
        }));
        return this.opening;
    }
    async open() {
        if (this.state !== 'reconnecting')
            this.setState('connecting');
        const generation = this.generation;
        const url = await this.socketUrl();
        if (generation !== this.generation)
            throw new TutorError('CLOSED', 'Replaced by a new connection.');
        return new Promise((resolve, reject) => {
            const ws = new this.options.WebSocket(url);
            this.ws = ws;
            let settled = false;
            const timer = setTimeout(() => fail(new TutorError('CONNECT_FAILED', `No answer from ${this.options.url} in time.`)), this.options.connectTimeoutMs);
            // a newer connection replaces this one before it opened (course switch, cancel)
            const abandon = () => {
                ws.onclose = null;
                ws.onmessage = null;
                fail(new TutorError('CLOSED', 'Replaced by a new connection.'));
            };
            this.abandonOpening = abandon;
            const fail = (error) => {
                if (settled)
                    return;
                settled = true;
                clearTimeout(timer);
                if (this.abandonOpening === abandon)
                    this.abandonOpening = null;
                try {
                    ws.close();
                }
                catch {
                    /* already closed */
                }
                reject(error);
            };
            ws.onmessage = (event) => {
                let frame;
                try {
                    frame = JSON.parse(String(event.data));
                }
                catch {
                    return;
                }
                if (!settled) {
                    if (frame.type === 'connection') {
                        settled = true;
                        clearTimeout(timer);
                        if (this.abandonOpening === abandon)
                            this.abandonOpening = null;
                        this.connection = frame;
                        this.attempts = 0;
                        this.setState('open');
                        this.startPings();
                        this.emit('connection', frame);
                        resolve(frame);
                    }
                    else if (frame.type === 'error') {
                        // refused at the door (unknown course, bad identity): retrying cannot help
                        this.refused = new TutorError(frame.error_code, frame.error, undefined, frame);
                        fail(this.refused);
                    }
                    return;
                }
                this.dispatch(frame);
            };
            ws.onerror = () => fail(new TutorError('CONNECT_FAILED', `Cannot connect to ${this.options.url}.`));
            ws.onclose = (event) => {
                fail(new TutorError('CONNECT_FAILED', `The connection to ${this.options.url} closed (${event.code}).`));
                if (this.ws === ws)
                    this.onDrop(event.code);
            };
        });
    }
    dispatch(frame) {
        if (frame.type === 'pong') {
            for (const resolve of this.pendingPongs.splice(0))
                resolve();
            return;
        }
        const stream = this.current;
        if (!stream) {
            if (frame.type === 'error')
                this.emit('error', frame);
            return;
        }
        if (frame.type === 'chat_started') {
            const turnId = frame.metadata.turn_id;
            if (turnId)
                stream.turnId = turnId;
        }
        else if (frame.type === 'chat_chunk') {
            if (frame.chunk_index <= stream.lastChunkIndex)
                return; // already seen before a resume
            stream.lastChunkIndex = frame.chunk_index;
            stream.text += frame.chunk;
        }
        else if (frame.type === 'chat_response') {
            stream.turnId ?? (stream.turnId = frame.metadata.turn_id ?? null);
            stream.cancelled || (stream.cancelled = Boolean(frame.metadata.cancelled));
        }
        else if (frame.type !== 'error') {
            return;
        }
        stream.queue.push(frame);
        if (frame.type === 'chat_response' || frame.type === 'error')
            this.finish(stream);
    }
    finish(stream, error) {
        stream.done = true;
        if (this.current === stream)
            this.current = null;
        if (error)
            stream.queue.fail(error);
        else
            stream.queue.end();
    }
    startPings() {
        this.stopPings();
        this.pingTimer = setInterval(() => {
            this.ping().catch(() => this.ws?.close(4000, 'no pong'));
        }, this.options.pingIntervalMs);
    }
    stopPings() {
        if (this.pingTimer)
            clearInterval(this.pingTimer);
        this.pingTimer = null;
    }
    /** Send a ping; resolves when the pong arrives, rejects after `pongTimeoutMs`. */
    ping() {
        const ws = this.ws;
        if (!ws || ws.readyState !== OPEN)
            return Promise.reject(new TutorError('CLOSED', 'Not connected.'));
        return new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new TutorError('CONNECTION_LOST', 'No pong in time.')), this.options.pongTimeoutMs);
            this.pendingPongs.push(() => {
                clearTimeout(timer);
                resolve();
            });
            ws.send(JSON.stringify({ type: 'ping' }));
        });
    }
    onDrop(code) {
        this.stopPings();
        this.ws = null;
        this.connection = null;
        if (this.closedByUser || this.refused) {
            this.setState('closed', { code });
            const stream = this.current;
            if (stream && !stream.done) {
                stream.cancelled || (stream.cancelled = this.closedByUser);
                this.finish(stream);
            }
            return;
        }
        this.scheduleReconnect(code);
    }
    scheduleReconnect(code) {
        if (this.reconnectTimer)
            return;
        this.attempts += 1;
        const policy = this.options.reconnect;
        if (this.attempts > policy.maxAttempts) {
            this.setState('closed', { code });
            const stream = this.current;
            if (stream && !stream.done)
                this.finish(stream, new TutorError('CONNECTION_LOST', 'The connection was lost.'));
            return;
        }
        const delayMs = backoffDelay(this.attempts, policy);
        this.setState('reconnecting', { attempt: this.attempts, delayMs, code });
        this.reconnectTimer = setTimeout(() => {
            this.reconnectTimer = null;
            this.connect()
                .then(() => this.resumeOrFail())
                .catch((error) => {
                if (error instanceof TutorError && this.refused) {
                    const stream = this.current;
                    if (stream && !stream.done)
                        this.finish(stream, error);
                    return;
                }
                if (!this.ws)
                    this.scheduleReconnect();
            });
        }, delayMs);
    }
    async resumeOrFail() {
        const stream = this.current;
        if (!stream || stream.done)
            return;
        if (stream.turnId && (await this.supports('resume'))) {
            this.sendFrame({ type: 'resume', turn_id: stream.turnId, last_chunk_index: stream.lastChunkIndex });
            return;
        }
        this.finish(stream, new TutorError('CONNECTION_LOST', 'The connection dropped while the answer was streaming; ask again.'));
    }
    sendFrame(frame) {
        if (!this.ws || this.ws.readyState !== OPEN)
            throw new TutorError('CLOSED', 'Not connected.');
        this.ws.send(JSON.stringify(frame));
    }
    // --- asking ---------------------------------------------------------------------------------
    /** Ask a question; iterate the result for its frames. One answer at a time per client. */
    ask(query, options = {}) {
        const stream = new AnswerStream(this);
        if (this.current && !this.current.done) {
            stream.queue.fail(new TutorError('CHAT_IN_PROGRESS', 'An answer is still streaming; cancel it or wait.'));
            return stream;
        }
        this.current = stream;
        const request = {
            type: 'chat_request',
            query,
            use_personalization: Boolean(options.personalize),
            chatroom_id: options.chatroomId ?? null,
        };
        if (options.materialId)
            request.material_id = options.materialId;
        if (options.page)
            request.page = options.page;
        this.connect()
            .then(() => this.sendFrame(request))
            .catch((error) => this.finish(stream, error));
        return stream;
    }
    /** Stop the answer in progress (no-op when none is streaming). */
    async cancel() {
        const stream = this.current;
        if (!stream || stream.done)
            return;
        stream.cancelled = true;
        if (await this.supports('cancel')) {
            this.sendFrame({ type: 'cancel' }); // the server ends the answer with a final chat_response
            return;
        }
        // No cancel message on this server: `disconnect` cancels the answer and closes the socket;
        // a fresh connection is opened at once for the next question.
        this.finish(stream);
        this.dropSocket(this.ws);
        this.setState('connecting');
        await this.connect().catch(() => this.scheduleReconnect());
    }
    /** Rate an answer (where the server supports feedback). */
    async feedback(turnId, rating, comment) {
        await this.request(`/turns/${encodeURIComponent(turnId)}/feedback`, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify({ rating, comment: comment ?? null }),
        });
    }
    /** Close for good (no reconnect). */
    close() {
        this.closedByUser = true;
        if (this.reconnectTimer)
            clearTimeout(this.reconnectTimer);
        this.reconnectTimer = null;
        this.stopPings();
        const ws = this.ws;
        if (ws && ws.readyState === OPEN) {
            try {
                ws.send(JSON.stringify({ type: 'disconnect' }));
            }
            catch {
                /* closing anyway */
            }
        }
        ws?.close(1000);
        if (!ws)
            this.setState('closed');
    }
}
