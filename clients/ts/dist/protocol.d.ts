/**
 * This interface was referenced by `TutorProtocol`'s JSON-Schema
 * via the `definition` "ClientMessage".
 */
export type ClientMessage = ChatRequest | Ping | Disconnect;
/**
 * This interface was referenced by `TutorProtocol`'s JSON-Schema
 * via the `definition` "ServerMessage".
 */
export type ServerMessage = ConnectionMessage | ChatStarted | ChatChunk | ChatResponse | Pong | ErrorMessage;
/**
 * This interface was referenced by `TutorProtocol`'s JSON-Schema
 * via the `definition` "ErrorCode".
 */
export type ErrorCode = 'EMPTY_QUERY' | 'INVALID_MESSAGE_TYPE' | 'JSON_PARSE_ERROR' | 'SERVICE_UNAVAILABLE' | 'RATE_LIMIT_EXCEEDED' | 'CONNECTION_TIMEOUT' | 'MISSING_USER_ID' | 'INVALID_PARAMETER' | 'UNKNOWN_COURSE' | 'QUERY_TOO_LONG' | 'INVALID_REQUEST' | 'MESSAGE_TOO_LARGE' | 'BINARY_NOT_SUPPORTED' | 'CHAT_IN_PROGRESS' | 'TURN_NOT_FOUND' | 'INTERNAL_ERROR' | 'UNAUTHORIZED' | 'FORBIDDEN';
/**
 * Frames of /ws/stream and the HTTP bodies clients read (generated).
 */
export interface TutorProtocol {
    client?: ClientMessage;
    server?: ServerMessage;
    StatusResponse?: StatusResponse;
    CoursesResponse?: CoursesResponse;
    RoomsResponse?: RoomsResponse;
    RoomTurnsResponse?: RoomTurnsResponse;
    StatsResponse?: StatsResponse;
}
/**
 * This interface was referenced by `TutorProtocol`'s JSON-Schema
 * via the `definition` "ChatRequest".
 */
export interface ChatRequest {
    type: 'chat_request';
    query: string;
    use_personalization?: boolean;
    chatroom_id?: string | null;
    material_id?: string | null;
    page?: number | null;
}
/**
 * This interface was referenced by `TutorProtocol`'s JSON-Schema
 * via the `definition` "Ping".
 */
export interface Ping {
    type: 'ping';
}
/**
 * This interface was referenced by `TutorProtocol`'s JSON-Schema
 * via the `definition` "Disconnect".
 */
export interface Disconnect {
    type: 'disconnect';
}
/**
 * This interface was referenced by `TutorProtocol`'s JSON-Schema
 * via the `definition` "ConnectionMessage".
 */
export interface ConnectionMessage {
    type: 'connection';
    status: 'connected';
    user_id: string;
    course_id: string | null;
    timestamp: number;
    message: string;
    config: ConnectionConfig;
    connection_id: string | null;
}
/**
 * This interface was referenced by `TutorProtocol`'s JSON-Schema
 * via the `definition` "ConnectionConfig".
 */
export interface ConnectionConfig {
    model_comprehensive: string;
    model_personalized: string;
    rag_threshold: number;
    rag_top_k: number;
    openai_temperature: number;
    openai_max_tokens: number;
    streaming: boolean;
    cache_enabled: boolean;
    personalization_enabled: boolean;
    embedding_model: string | null;
    hybrid_retrieval: boolean | null;
    max_query_chars: number;
    max_message_bytes: number | null;
    idle_timeout_seconds: number | null;
}
/**
 * This interface was referenced by `TutorProtocol`'s JSON-Schema
 * via the `definition` "ChatStarted".
 */
export interface ChatStarted {
    type: 'chat_started';
    query: string;
    timestamp: number;
    metadata: ChatStartedMetadata;
}
/**
 * This interface was referenced by `TutorProtocol`'s JSON-Schema
 * via the `definition` "ChatStartedMetadata".
 */
export interface ChatStartedMetadata {
    course_id: string | null;
    chatroom_id: string | null;
    use_personalization: boolean;
    service: string;
    cache_check: 'initiated' | 'disabled';
    turn_id: string | null;
}
/**
 * This interface was referenced by `TutorProtocol`'s JSON-Schema
 * via the `definition` "ChatChunk".
 */
export interface ChatChunk {
    type: 'chat_chunk';
    chunk: string;
    chunk_index: number;
    timestamp: number;
}
/**
 * This interface was referenced by `TutorProtocol`'s JSON-Schema
 * via the `definition` "ChatResponse".
 */
export interface ChatResponse {
    type: 'chat_response';
    response: string;
    sources: Source[];
    cached: boolean;
    token_usage: TokenUsage;
    latency_ms: number;
    timestamp: number;
    metadata: ResponseMetadata;
    response_source: 'rag' | 'cache' | 'not_covered' | 'curated';
    chunks_count: number;
    done: true;
}
/**
 * This interface was referenced by `TutorProtocol`'s JSON-Schema
 * via the `definition` "Source".
 */
export interface Source {
    content: string;
    metadata: SourceMetadata;
}
/**
 * This interface was referenced by `TutorProtocol`'s JSON-Schema
 * via the `definition` "SourceMetadata".
 */
export interface SourceMetadata {
    material_id: string;
    course_id: string;
    filename: string;
    page: string;
    score: number;
    vector_distance: number;
    chunk_type: string | null;
    page_label: string;
    page_number: number;
    ocr: boolean;
    ocr_confidence: number | null;
}
/**
 * This interface was referenced by `TutorProtocol`'s JSON-Schema
 * via the `definition` "TokenUsage".
 */
export interface TokenUsage {
    input_tokens: number;
    output_tokens: number;
    total_tokens: number;
    model_pricing: ModelPricing;
    calls: UsageItem[];
}
/**
 * This interface was referenced by `TutorProtocol`'s JSON-Schema
 * via the `definition` "ModelPricing".
 */
export interface ModelPricing {
    input_cost_per_1k: number;
    output_cost_per_1k: number;
    total_cost: number;
}
/**
 * One LLM call of this turn (ours): condensing, answering, personalizing.
 *
 * This interface was referenced by `TutorProtocol`'s JSON-Schema
 * via the `definition` "UsageItem".
 */
export interface UsageItem {
    purpose: 'condense' | 'answer' | 'personalize' | 'translate' | 'rerank';
    model: string;
    input_tokens: number;
    output_tokens: number;
    cost_usd: number;
    counted: boolean;
}
/**
 * This interface was referenced by `TutorProtocol`'s JSON-Schema
 * via the `definition` "ResponseMetadata".
 */
export interface ResponseMetadata {
    source: 'rag' | 'cache' | 'not_covered' | 'curated';
    source_type: 'knowledge_base' | 'semantic_cache' | 'none' | 'curated_answer';
    response_type: 'rag_response' | 'cached_response' | 'not_covered' | 'curated_response';
    model_used: string | null;
    personalized: boolean;
    course_id: string | null;
    cost_usd: number;
    rag_threshold_used: number;
    documents_retrieved: number;
    documents_used: number;
    language: string | null;
    chatroom_id: string | null;
    turn_id: string | null;
    cache_distance: number | null;
    condensed_query: string | null;
    timings_ms: {
        [k: string]: number | undefined;
    } | null;
    cancelled: boolean;
    not_covered_reason: ('no_sources' | 'refusal_gate' | 'model' | 'grounding') | null;
    revised: boolean;
    grounding_removed: string[] | null;
}
/**
 * This interface was referenced by `TutorProtocol`'s JSON-Schema
 * via the `definition` "Pong".
 */
export interface Pong {
    type: 'pong';
    timestamp: number;
}
/**
 * This interface was referenced by `TutorProtocol`'s JSON-Schema
 * via the `definition` "ErrorMessage".
 */
export interface ErrorMessage {
    type: 'error';
    error: string;
    error_code: ErrorCode;
    timestamp: number;
    recoverable: boolean;
    suggestion: string;
}
/**
 * This interface was referenced by `TutorProtocol`'s JSON-Schema
 * via the `definition` "StatusResponse".
 */
export interface StatusResponse {
    websocket_status: string;
    active_connections: number;
    connected_users: string[];
    endpoint: string;
    server_time: string;
    uptime: number;
    message_types: string[];
    added_message_types: string[];
    response_types: string[];
    supported_features: SupportedFeatures;
    performance_stats: PerformanceStats;
}
/**
 * This interface was referenced by `TutorProtocol`'s JSON-Schema
 * via the `definition` "SupportedFeatures".
 */
export interface SupportedFeatures {
    streaming: boolean;
    database_integration: boolean;
    cache_integration: boolean;
    token_tracking: boolean;
    bidirectional: boolean;
    personalization: boolean;
    sources_metadata: boolean;
    page_tracking: boolean;
    cost_tracking: boolean;
}
/**
 * This interface was referenced by `TutorProtocol`'s JSON-Schema
 * via the `definition` "PerformanceStats".
 */
export interface PerformanceStats {
    avg_response_time_ms: number;
    cache_hit_rate: number;
    avg_tokens_per_response: number;
    active_chats: number;
    total_requests_today: number;
}
/**
 * This interface was referenced by `TutorProtocol`'s JSON-Schema
 * via the `definition` "CoursesResponse".
 */
export interface CoursesResponse {
    courses: CourseInfo[];
}
/**
 * This interface was referenced by `TutorProtocol`'s JSON-Schema
 * via the `definition` "CourseInfo".
 */
export interface CourseInfo {
    course_id: string;
    /**
     * from course.yaml (e.g. `id`, `en`), if given
     */
    language: string | null;
    materials: MaterialInfo[];
}
/**
 * This interface was referenced by `TutorProtocol`'s JSON-Schema
 * via the `definition` "MaterialInfo".
 */
export interface MaterialInfo {
    material_id: string;
    filename: string;
    /**
     * pages in the PDF
     */
    pages: number;
    chunks: number;
    /**
     * GET /materials/{course_id}/{material_id}.pdf serves it
     */
    pdf_available: boolean;
}
/**
 * This interface was referenced by `TutorProtocol`'s JSON-Schema
 * via the `definition` "RoomsResponse".
 */
export interface RoomsResponse {
    user_id: string;
    rooms: RoomSummary[];
}
/**
 * This interface was referenced by `TutorProtocol`'s JSON-Schema
 * via the `definition` "RoomSummary".
 */
export interface RoomSummary {
    chatroom_id: string;
    course_id: string | null;
    turns: number;
    created_at: string;
    last_activity: string | null;
}
/**
 * This interface was referenced by `TutorProtocol`'s JSON-Schema
 * via the `definition` "RoomTurnsResponse".
 */
export interface RoomTurnsResponse {
    chatroom_id: string;
    turns: RoomTurn[];
}
/**
 * This interface was referenced by `TutorProtocol`'s JSON-Schema
 * via the `definition` "RoomTurn".
 */
export interface RoomTurn {
    turn_id: string;
    query: string;
    answer: string;
    sources: {
        [k: string]: unknown | undefined;
    }[];
    response_source: string;
    cached: boolean;
    personalized: boolean;
    model: string | null;
    input_tokens: number;
    output_tokens: number;
    cost_usd: number;
    latency_ms: number;
    first_chunk_ms: number | null;
    status: string;
    created_at: string;
}
/**
 * This interface was referenced by `TutorProtocol`'s JSON-Schema
 * via the `definition` "StatsResponse".
 */
export interface StatsResponse {
    totals: Totals;
    daily: DayStats[];
    models: ModelStats[];
    courses: CourseStats[];
    /**
     * the course reported on; null: all the caller's
     */
    course_id: string | null;
    from: string;
    to: string;
    /**
     * open chat connections of the report's courses (all connections overall)
     */
    connections_now: number | null;
    /**
     * answers streaming right now, all courses
     */
    active_chats: number | null;
    generated_at: string;
}
/**
 * This interface was referenced by `TutorProtocol`'s JSON-Schema
 * via the `definition` "Totals".
 */
export interface Totals {
    questions: number;
    completed: number;
    failed: number;
    cancelled: number;
    cache_hits: number;
    not_covered: number;
    personalized: number;
    input_tokens: number;
    output_tokens: number;
    cost_usd: number;
    cache_hit_rate: number;
    not_covered_rate: number;
    latency_ms: Percentiles;
    first_chunk_ms: Percentiles;
    users: number;
}
/**
 * This interface was referenced by `TutorProtocol`'s JSON-Schema
 * via the `definition` "Percentiles".
 */
export interface Percentiles {
    p50: number | null;
    p95: number | null;
}
/**
 * This interface was referenced by `TutorProtocol`'s JSON-Schema
 * via the `definition` "DayStats".
 */
export interface DayStats {
    questions: number;
    completed: number;
    failed: number;
    cancelled: number;
    cache_hits: number;
    not_covered: number;
    personalized: number;
    input_tokens: number;
    output_tokens: number;
    cost_usd: number;
    cache_hit_rate: number;
    not_covered_rate: number;
    latency_ms: Percentiles;
    first_chunk_ms: Percentiles;
    date: string;
}
/**
 * This interface was referenced by `TutorProtocol`'s JSON-Schema
 * via the `definition` "ModelStats".
 */
export interface ModelStats {
    model: string;
    turns: number;
    input_tokens: number;
    output_tokens: number;
    cost_usd: number;
}
/**
 * This interface was referenced by `TutorProtocol`'s JSON-Schema
 * via the `definition` "CourseStats".
 */
export interface CourseStats {
    course_id: string | null;
    questions: number;
    completed: number;
    cache_hits: number;
    not_covered: number;
    cost_usd: number;
}
