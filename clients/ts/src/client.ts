/**
 * A client for the course tutor: `/ws/stream` with typed frames, plus the HTTP endpoints a chat
 * page needs. Runs in browsers and React Native (both have `WebSocket` and `fetch`); under Node
 * pass a WebSocket implementation such as the `ws` package.
 *
 * - `ask()` returns an async iterator of the answer's frames: chat_started, chat_chunk...,
 *   then chat_response or error.
 * - The connection is kept alive with pings, and re-opened with exponential backoff when it drops.
 * - `cancel()` stops the answer in progress: with the server's `cancel` message where the server
 *   lists it in `/ws/status`, otherwise by `disconnect` and a fresh connection.
 * - An answer cut off by a dropped connection is resumed (`resume` from its last chunk) where the
 *   server supports it, otherwise the iterator throws a `TutorError` with code `CONNECTION_LOST`.
 * - Identity: `userId` (AUTH_MODE=none), or a bearer `token`, for which each socket gets a one-time
 *   ticket from `POST /auth/ticket` (browsers cannot set headers on a WebSocket).
 */
import type {
  ChatChunk,
  ChatRequest,
  ChatResponse,
  ChatStarted,
  ConnectionMessage,
  CoursesResponse,
  ErrorMessage,
  RoomTurnsResponse,
  RoomsResponse,
  ServerMessage,
  StatsResponse,
  StatusResponse,
} from './protocol.js';

export type * from './protocol.js';

/** The frames of one answer, in order; the last is a chat_response or an error. */
export type AnswerEvent = ChatStarted | ChatChunk | ChatResponse | ErrorMessage;

export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface WebSocketLike {
  readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: any) => void) | null;
  onmessage: ((ev: { data: any }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: any) => void) | null;
}
export type WebSocketFactory = new (url: string, protocols?: string | string[]) => WebSocketLike;

export interface ReconnectOptions {
  initialDelayMs: number;
  maxDelayMs: number;
  factor: number;
  /** give up after this many failed attempts in a row (Infinity: never) */
  maxAttempts: number;
}

export interface TutorClientOptions {
  /** the server's base URL, e.g. `https://tutor.example.edu` */
  url: string;
  courseId?: string | null;
  /** AUTH_MODE=none: who the student says they are */
  userId?: string | null;
  /** a bearer token (or a function returning a fresh one) for token/LTI modes */
  token?: string | null | (() => Promise<string | null>);
  WebSocket?: WebSocketFactory;
  fetch?: typeof fetch;
  pingIntervalMs?: number;
  pongTimeoutMs?: number;
  connectTimeoutMs?: number;
  reconnect?: Partial<ReconnectOptions>;
}

export interface AskOptions {
  personalize?: boolean;
  chatroomId?: string | null;
  /** page context: the material and page the student has open (sent when given) */
  materialId?: string | null;
  page?: number | null;
}

export interface LaunchSession {
  token: string;
  expires_in: number;
  user_id: string;
  role: 'student' | 'staff';
  courses: string[];
}

/** Codes the client itself raises, beside the server's error codes. */
export type ClientErrorCode = 'CONNECTION_LOST' | 'CONNECT_FAILED' | 'REFUSED' | 'HTTP_ERROR' | 'CLOSED';

export class TutorError extends Error {
  constructor(
    readonly code: ClientErrorCode | ErrorMessage['error_code'],
    message: string,
    readonly status?: number,
    readonly frame?: ErrorMessage,
  ) {
    super(message);
    this.name = 'TutorError';
  }
}

const OPEN = 1;
const DEFAULT_RECONNECT: ReconnectOptions = {
  initialDelayMs: 500,
  maxDelayMs: 15000,
  factor: 2,
  maxAttempts: Infinity,
};

/** Exponential backoff with full jitter: attempt 1 waits up to `initialDelayMs`. */
export function backoffDelay(attempt: number, options: ReconnectOptions, random = Math.random): number {
  const ceiling = Math.min(options.maxDelayMs, options.initialDelayMs * options.factor ** (attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

type Listener<T> = (value: T) => void;

/** A queue that a socket pushes into and an async iterator pulls from. */
class EventQueue<T> {
  private items: T[] = [];
  private waiters: Array<{ resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void }> = [];
  private ended = false;
  private failure: unknown = null;

  push(item: T): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter.resolve({ value: item, done: false });
    else this.items.push(item);
  }
  end(): void {
    this.ended = true;
    for (const w of this.waiters.splice(0)) w.resolve({ value: undefined as never, done: true });
  }
  fail(error: unknown): void {
    this.failure = error;
    for (const w of this.waiters.splice(0)) w.reject(error);
  }
  next(): Promise<IteratorResult<T>> {
    if (this.items.length) return Promise.resolve({ value: this.items.shift() as T, done: false });
    if (this.failure) return Promise.reject(this.failure);
    if (this.ended) return Promise.resolve({ value: undefined as never, done: true });
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }
}

/** One answer in progress: iterate it for its frames; `cancel()` stops it. */
export class AnswerStream implements AsyncIterable<AnswerEvent> {
  readonly queue = new EventQueue<AnswerEvent>();
  /** the turn id once the server names it (chat_started.metadata.turn_id, where supported) */
  turnId: string | null = null;
  lastChunkIndex = 0;
  text = '';
  cancelled = false;
  done = false;

  constructor(private readonly client: TutorClient) {}

  cancel(): Promise<void> {
    return this.client.cancel();
  }

  [Symbol.asyncIterator](): AsyncIterator<AnswerEvent> {
    return { next: () => this.queue.next() };
  }
}

export class TutorClient {
  readonly options: Required<Omit<TutorClientOptions, 'reconnect' | 'token' | 'userId' | 'courseId'>> & {
    reconnect: ReconnectOptions;
  };
  courseId: string | null;
  userId: string | null;
  private token: TutorClientOptions['token'];
  private ws: WebSocketLike | null = null;
  private state: ConnectionState = 'idle';
  private opening: Promise<ConnectionMessage> | null = null;
  private abandonOpening: (() => void) | null = null;
  private generation = 0;
  private current: AnswerStream | null = null;
  private pendingPongs: Array<() => void> = [];
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private attempts = 0;
  private closedByUser = false;
  private refused: TutorError | null = null;
  private capabilities: Promise<Set<string>> | null = null;
  private listeners = new Map<keyof ClientEvents, Set<Listener<any>>>();
  connection: ConnectionMessage | null = null;

  constructor(options: TutorClientOptions) {
    const WS = options.WebSocket ?? (globalThis as any).WebSocket;
    const f = options.fetch ?? (globalThis as any).fetch?.bind(globalThis);
    if (!WS) throw new Error('No WebSocket implementation: pass options.WebSocket');
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
  on<K extends keyof ClientEvents>(type: K, listener: Listener<ClientEvents[K]>): () => void {
    let set = this.listeners.get(type);
    if (!set) this.listeners.set(type, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }
  private emit<K extends keyof ClientEvents>(type: K, value: ClientEvents[K]): void {
    for (const listener of this.listeners.get(type) ?? []) listener(value);
  }
  private setState(state: ConnectionState, detail: Partial<StateChange> = {}): void {
    this.state = state;
    this.emit('state', { state, ...detail });
  }
  get connectionState(): ConnectionState {
    return this.state;
  }

  /** Switch identity (e.g. after a launch-ticket exchange); the next socket uses it. */
  setIdentity(identity: { token?: TutorClientOptions['token']; userId?: string | null }): void {
    if ('token' in identity) this.token = identity.token ?? null;
    if ('userId' in identity) this.userId = identity.userId ?? null;
    this.refused = null;
  }

  /** Switch course; the next `connect()` (or `reconnectNow()`) opens a socket for it. */
  setCourse(courseId: string | null): void {
    this.courseId = courseId;
    this.refused = null;
  }

  /** Close the current socket (cancelling any answer) and open a new one at once. */
  async reconnectNow(): Promise<ConnectionMessage> {
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
  private dropSocket(ws: WebSocketLike | null): void {
    this.generation += 1;
    this.abandonOpening?.();
    this.opening = null;
    this.ws = null;
    this.stopPings();
    this.connection = null;
    if (!ws) return;
    ws.onclose = null;
    ws.onmessage = null;
    try {
      if (ws.readyState === OPEN) ws.send(JSON.stringify({ type: 'disconnect' }));
      ws.close(1000);
    } catch {
      /* already closed */
    }
  }

  // --- HTTP -----------------------------------------------------------------------------------
  private async bearer(): Promise<string | null> {
    return typeof this.token === 'function' ? this.token() : this.token ?? null;
  }

  /** Headers that say who is asking: the bearer token, or the claimed user id (AUTH_MODE=none). */
  async authHeaders(): Promise<Record<string, string>> {
    const token = await this.bearer();
    if (token) return { Authorization: `Bearer ${token}` };
    return this.userId ? { 'X-User-Id': this.userId } : {};
  }

  async request<T>(path: string, init: RequestInit = {}): Promise<T> {
    const headers = { Accept: 'application/json', ...(await this.authHeaders()), ...(init.headers as object) };
    let response: Response;
    try {
      response = await this.options.fetch(this.options.url + path, { ...init, headers });
    } catch (error) {
      throw new TutorError('CONNECT_FAILED', `Cannot reach ${this.options.url}: ${String(error)}`);
    }
    if (!response.ok) {
      let detail = response.statusText;
      try {
        const body = await response.json();
        detail = typeof body.detail === 'string' ? body.detail : JSON.stringify(body.detail ?? body);
      } catch {
        /* not JSON */
      }
      throw new TutorError('HTTP_ERROR', detail, response.status);
    }
    return (await response.json()) as T;
  }

  status(): Promise<StatusResponse> {
    return this.request<StatusResponse>('/ws/status');
  }
  courses(): Promise<CoursesResponse> {
    return this.request<CoursesResponse>('/courses');
  }
  rooms(courseId?: string | null): Promise<RoomsResponse> {
    const query = courseId ? `?course_id=${encodeURIComponent(courseId)}` : '';
    return this.request<RoomsResponse>(`/users/me/rooms${query}`);
  }
  roomTurns(chatroomId: string): Promise<RoomTurnsResponse> {
    return this.request<RoomTurnsResponse>(`/rooms/${encodeURIComponent(chatroomId)}/turns`);
  }
  stats(params: { courseId?: string | null; from?: string; to?: string } = {}): Promise<StatsResponse> {
    const query = new URLSearchParams();
    if (params.courseId) query.set('course_id', params.courseId);
    if (params.from) query.set('from', params.from);
    if (params.to) query.set('to', params.to);
    return this.request<StatsResponse>(`/api/stats?${query}`);
  }

  /** `GET /auth/me` where the server has it; `{auth_mode: "none"}` where it does not. */
  async me(): Promise<{ auth_mode: string; user_id?: string | null; role?: string; courses?: string[] }> {
    try {
      return await this.request('/auth/me');
    } catch (error) {
      if (error instanceof TutorError && error.status === 404) return { auth_mode: 'none' };
      throw error;
    }
  }

  /** Exchange a one-time launch ticket (LTI redirect `/?ticket=...`) for a bearer token. */
  async exchangeLaunchTicket(ticket: string): Promise<LaunchSession> {
    const session = await this.request<LaunchSession>('/auth/session', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ ticket }),
    });
    this.token = session.token;
    this.userId = session.user_id;
    return session;
  }

  /** The URL of a course PDF at a page. With AUTH_MODE=none the user id rides along in the query. */
  pdfUrl(courseId: string, materialId: string, page: number): string {
    const path = `/materials/${encodeURIComponent(courseId)}/${encodeURIComponent(materialId)}.pdf`;
    const who = !this.token && this.userId ? `?user_id=${encodeURIComponent(this.userId)}` : '';
    return `${this.options.url}${path}${who}#page=${page}`;
  }

  /** A URL a browser can open without headers: the PDF fetched with the bearer, as a blob URL. */
  async pdfBlobUrl(courseId: string, materialId: string, page: number): Promise<string> {
    const url = this.pdfUrl(courseId, materialId, page).split('#')[0];
    const response = await this.options.fetch(url, { headers: await this.authHeaders() });
    if (!response.ok) throw new TutorError('HTTP_ERROR', `The PDF is not available (${response.status}).`, response.status);
    const blob = await response.blob();
    return `${URL.createObjectURL(blob)}#page=${page}`;
  }

  /** Message types the server accepts (`/ws/status`: `message_types` and `added_message_types`),
   * to use additions only where they exist. */
  supports(messageType: string): Promise<boolean> {
    this.capabilities ??= this.status()
      .then((s) => new Set([...s.message_types, ...(s.added_message_types ?? [])]))
      .catch(() => {
        this.capabilities = null;
        return new Set<string>();
      });
    return this.capabilities.then((types) => types.has(messageType));
  }

  // --- the socket -----------------------------------------------------------------------------
  private async socketUrl(): Promise<string> {
    const params = new URLSearchParams();
    const token = await this.bearer();
    if (token) {
      const body = this.courseId ? { course_id: this.courseId } : {};
      const { ticket } = await this.request<{ ticket: string }>('/auth/ticket', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
      params.set('ticket', ticket);
    }
    if (this.userId) params.set('user_id', this.userId);
    if (this.courseId) params.set('course_id', this.courseId);
    return `${this.options.url.replace(/^http/, 'ws')}/ws/stream?${params}`;
  }

  /** Open the socket (if not open) and resolve with the server's `connection` frame. */
  connect(): Promise<ConnectionMessage> {
    if (this.ws && this.ws.readyState === OPEN && this.connection && this.state === 'open') {
      return Promise.resolve(this.connection);
    }
    if (this.refused) return Promise.reject(this.refused);
    this.closedByUser = false;
    this.opening ??= this.open().finally(() => {
      this.opening = null;
    });
    return this.opening;
  }

  private async open(): Promise<ConnectionMessage> {
    if (this.state !== 'reconnecting') this.setState('connecting');
    const generation = this.generation;
    const url = await this.socketUrl();
    if (generation !== this.generation) throw new TutorError('CLOSED', 'Replaced by a new connection.');
    return new Promise<ConnectionMessage>((resolve, reject) => {
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
      const fail = (error: TutorError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (this.abandonOpening === abandon) this.abandonOpening = null;
        try {
          ws.close();
        } catch {
          /* already closed */
        }
        reject(error);
      };
      ws.onmessage = (event) => {
        let frame: ServerMessage;
        try {
          frame = JSON.parse(String(event.data)) as ServerMessage;
        } catch {
          return;
        }
        if (!settled) {
          if (frame.type === 'connection') {
            settled = true;
            clearTimeout(timer);
            if (this.abandonOpening === abandon) this.abandonOpening = null;
            this.connection = frame;
            this.attempts = 0;
            this.setState('open');
            this.startPings();
            this.emit('connection', frame);
            resolve(frame);
          } else if (frame.type === 'error') {
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
        if (this.ws === ws) this.onDrop(event.code);
      };
    });
  }

  private dispatch(frame: ServerMessage): void {
    if (frame.type === 'pong') {
      for (const resolve of this.pendingPongs.splice(0)) resolve();
      return;
    }
    const stream = this.current;
    if (!stream) {
      if (frame.type === 'error') this.emit('error', frame);
      return;
    }
    if (frame.type === 'chat_started') {
      const turnId = (frame.metadata as { turn_id?: string | null }).turn_id;
      if (turnId) stream.turnId = turnId;
    } else if (frame.type === 'chat_chunk') {
      if (frame.chunk_index <= stream.lastChunkIndex) return; // already seen before a resume
      stream.lastChunkIndex = frame.chunk_index;
      stream.text += frame.chunk;
    } else if (frame.type === 'chat_response') {
      stream.turnId ??= frame.metadata.turn_id ?? null;
      stream.cancelled ||= Boolean((frame.metadata as { cancelled?: boolean }).cancelled);
    } else if (frame.type !== 'error') {
      return;
    }
    stream.queue.push(frame as AnswerEvent);
    if (frame.type === 'chat_response' || frame.type === 'error') this.finish(stream);
  }

  private finish(stream: AnswerStream, error?: unknown): void {
    stream.done = true;
    if (this.current === stream) this.current = null;
    if (error) stream.queue.fail(error);
    else stream.queue.end();
  }

  private startPings(): void {
    this.stopPings();
    this.pingTimer = setInterval(() => {
      this.ping().catch(() => this.ws?.close(4000, 'no pong'));
    }, this.options.pingIntervalMs);
  }
  private stopPings(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = null;
  }

  /** Send a ping; resolves when the pong arrives, rejects after `pongTimeoutMs`. */
  ping(): Promise<void> {
    const ws = this.ws;
    if (!ws || ws.readyState !== OPEN) return Promise.reject(new TutorError('CLOSED', 'Not connected.'));
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new TutorError('CONNECTION_LOST', 'No pong in time.')), this.options.pongTimeoutMs);
      this.pendingPongs.push(() => {
        clearTimeout(timer);
        resolve();
      });
      ws.send(JSON.stringify({ type: 'ping' }));
    });
  }

  private onDrop(code: number): void {
    this.stopPings();
    this.ws = null;
    this.connection = null;
    if (this.closedByUser || this.refused) {
      this.setState('closed', { code });
      const stream = this.current;
      if (stream && !stream.done) {
        stream.cancelled ||= this.closedByUser;
        this.finish(stream);
      }
      return;
    }
    this.scheduleReconnect(code);
  }

  private scheduleReconnect(code?: number): void {
    if (this.reconnectTimer) return;
    this.attempts += 1;
    const policy = this.options.reconnect;
    if (this.attempts > policy.maxAttempts) {
      this.setState('closed', { code });
      const stream = this.current;
      if (stream && !stream.done) this.finish(stream, new TutorError('CONNECTION_LOST', 'The connection was lost.'));
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
            if (stream && !stream.done) this.finish(stream, error);
            return;
          }
          if (!this.ws) this.scheduleReconnect();
        });
    }, delayMs);
  }

  private async resumeOrFail(): Promise<void> {
    const stream = this.current;
    if (!stream || stream.done) return;
    if (stream.turnId && (await this.supports('resume'))) {
      this.sendFrame({ type: 'resume', turn_id: stream.turnId, last_chunk_index: stream.lastChunkIndex });
      return;
    }
    this.finish(stream, new TutorError('CONNECTION_LOST', 'The connection dropped while the answer was streaming; ask again.'));
  }

  private sendFrame(frame: object): void {
    if (!this.ws || this.ws.readyState !== OPEN) throw new TutorError('CLOSED', 'Not connected.');
    this.ws.send(JSON.stringify(frame));
  }

  // --- asking ---------------------------------------------------------------------------------
  /** Ask a question; iterate the result for its frames. One answer at a time per client. */
  ask(query: string, options: AskOptions = {}): AnswerStream {
    const stream = new AnswerStream(this);
    if (this.current && !this.current.done) {
      stream.queue.fail(new TutorError('CHAT_IN_PROGRESS', 'An answer is still streaming; cancel it or wait.'));
      return stream;
    }
    this.current = stream;
    const request: ChatRequest & { material_id?: string; page?: number } = {
      type: 'chat_request',
      query,
      use_personalization: Boolean(options.personalize),
      chatroom_id: options.chatroomId ?? null,
    };
    if (options.materialId) request.material_id = options.materialId;
    if (options.page) request.page = options.page;
    this.connect()
      .then(() => this.sendFrame(request))
      .catch((error) => this.finish(stream, error));
    return stream;
  }

  /** Stop the answer in progress (no-op when none is streaming). */
  async cancel(): Promise<void> {
    const stream = this.current;
    if (!stream || stream.done) return;
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
  async feedback(turnId: string, rating: 'up' | 'down', comment?: string): Promise<void> {
    await this.request(`/turns/${encodeURIComponent(turnId)}/feedback`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ rating, comment: comment ?? null }),
    });
  }

  /** Close for good (no reconnect). */
  close(): void {
    this.closedByUser = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.stopPings();
    const ws = this.ws;
    if (ws && ws.readyState === OPEN) {
      try {
        ws.send(JSON.stringify({ type: 'disconnect' }));
      } catch {
        /* closing anyway */
      }
    }
    ws?.close(1000);
    if (!ws) this.setState('closed');
  }
}

export interface StateChange {
  state: ConnectionState;
  attempt?: number;
  delayMs?: number;
  code?: number;
}

export interface ClientEvents {
  state: StateChange;
  connection: ConnectionMessage;
  /** an error frame outside an answer (e.g. CONNECTION_TIMEOUT) */
  error: ErrorMessage;
}
