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
import type { ChatChunk, ChatResponse, ChatStarted, ConnectionMessage, CoursesResponse, ErrorMessage, RoomTurnsResponse, RoomsResponse, StatsResponse, StatusResponse } from './protocol.js';
export type * from './protocol.js';
/** The frames of one answer, in order; the last is a chat_response or an error. */
export type AnswerEvent = ChatStarted | ChatChunk | ChatResponse | ErrorMessage;
export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';
export interface WebSocketLike {
    readyState: number;
    send(data: string): void;
    close(code?: number, reason?: string): void;
    onopen: ((ev: any) => void) | null;
    onmessage: ((ev: {
        data: any;
    }) => void) | null;
    onclose: ((ev: {
        code: number;
        reason: string;
    }) => void) | null;
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
export declare class TutorError extends Error {
    readonly code: ClientErrorCode | ErrorMessage['error_code'];
    readonly status?: number | undefined;
    readonly frame?: ErrorMessage | undefined;
    constructor(code: ClientErrorCode | ErrorMessage['error_code'], message: string, status?: number | undefined, frame?: ErrorMessage | undefined);
}
/** Exponential backoff with full jitter: attempt 1 waits up to `initialDelayMs`. */
export declare function backoffDelay(attempt: number, options: ReconnectOptions, random?: () => number): number;
type Listener<T> = (value: T) => void;
/** A queue that a socket pushes into and an async iterator pulls from. */
declare class EventQueue<T> {
    private items;
    private waiters;
    private ended;
    private failure;
    push(item: T): void;
    end(): void;
    fail(error: unknown): void;
    next(): Promise<IteratorResult<T>>;
}
/** One answer in progress: iterate it for its frames; `cancel()` stops it. */
export declare class AnswerStream implements AsyncIterable<AnswerEvent> {
    private readonly client;
    readonly queue: EventQueue<AnswerEvent>;
    /** the turn id once the server names it (chat_started.metadata.turn_id, where supported) */
    turnId: string | null;
    lastChunkIndex: number;
    text: string;
    cancelled: boolean;
    done: boolean;
    constructor(client: TutorClient);
    cancel(): Promise<void>;
    [Symbol.asyncIterator](): AsyncIterator<AnswerEvent>;
}
export declare class TutorClient {
    readonly options: Required<Omit<TutorClientOptions, 'reconnect' | 'token' | 'userId' | 'courseId'>> & {
        reconnect: ReconnectOptions;
    };
    courseId: string | null;
    userId: string | null;
    private token;
    private ws;
    private state;
    private opening;
    private abandonOpening;
    private generation;
    private current;
    private pendingPongs;
    private pingTimer;
    private reconnectTimer;
    private attempts;
    private closedByUser;
    private refused;
    private capabilities;
    private listeners;
    connection: ConnectionMessage | null;
    constructor(options: TutorClientOptions);
    on<K extends keyof ClientEvents>(type: K, listener: Listener<ClientEvents[K]>): () => void;
    private emit;
    private setState;
    get connectionState(): ConnectionState;
    /** Switch identity (e.g. after a launch-ticket exchange); the next socket uses it. */
    setIdentity(identity: {
        token?: TutorClientOptions['token'];
        userId?: string | null;
    }): void;
    /** Switch course; the next `connect()` (or `reconnectNow()`) opens a socket for it. */
    setCourse(courseId: string | null): void;
    /** Close the current socket (cancelling any answer) and open a new one at once. */
    reconnectNow(): Promise<ConnectionMessage>;
    /** Let go of `ws` (open or still opening) without triggering a reconnect. */
    private dropSocket;
    private bearer;
    /** Headers that say who is asking: the bearer token, or the claimed user id (AUTH_MODE=none). */
    authHeaders(): Promise<Record<string, string>>;
    request<T>(path: string, init?: RequestInit): Promise<T>;
    status(): Promise<StatusResponse>;
    courses(): Promise<CoursesResponse>;
    rooms(courseId?: string | null): Promise<RoomsResponse>;
    roomTurns(chatroomId: string): Promise<RoomTurnsResponse>;
    stats(params?: {
        courseId?: string | null;
        from?: string;
        to?: string;
    }): Promise<StatsResponse>;
    /** `GET /auth/me` where the server has it; `{auth_mode: "none"}` where it does not. */
    me(): Promise<{
        auth_mode: string;
        user_id?: string | null;
        role?: string;
        courses?: string[];
    }>;
    /** Exchange a one-time launch ticket (LTI redirect `/?ticket=...`) for a bearer token. */
    exchangeLaunchTicket(ticket: string): Promise<LaunchSession>;
    /** The URL of a course PDF at a page. With AUTH_MODE=none the user id rides along in the query. */
    pdfUrl(courseId: string, materialId: string, page: number): string;
    /** A URL a browser can open without headers: the PDF fetched with the bearer, as a blob URL. */
    pdfBlobUrl(courseId: string, materialId: string, page: number): Promise<string>;
    /** Message types the server accepts (`/ws/status`: `message_types` and `added_message_types`),
     * to use additions only where they exist. */
    supports(messageType: string): Promise<boolean>;
    private socketUrl;
    /** Open the socket (if not open) and resolve with the server's `connection` frame. */
    connect(): Promise<ConnectionMessage>;
    private open;
    private dispatch;
    private finish;
    private startPings;
    private stopPings;
    /** Send a ping; resolves when the pong arrives, rejects after `pongTimeoutMs`. */
    ping(): Promise<void>;
    private onDrop;
    private scheduleReconnect;
    private resumeOrFail;
    private sendFrame;
    /** Ask a question; iterate the result for its frames. One answer at a time per client. */
    ask(query: string, options?: AskOptions): AnswerStream;
    /** Stop the answer in progress (no-op when none is streaming). */
    cancel(): Promise<void>;
    /** Rate an answer (where the server supports feedback). */
    feedback(turnId: string, rating: 'up' | 'down', comment?: string): Promise<void>;
    /** Close for good (no reconnect). */
    close(): void;
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
