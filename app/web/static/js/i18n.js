// Every interface string of the chat page and the dashboard, in Indonesian and English, in one place.
// The language follows the browser (Indonesian when it prefers `id`) until the user switches.

import { local } from './storage.js';

const STRINGS = {
  id: {
    appTitle: 'Tutor Mata Kuliah',
    course: 'Mata kuliah',
    chooseCourse: 'Pilih mata kuliah',
    allCourses: 'Semua mata kuliah',
    materials: '{n} materi · {pages} halaman',
    question: 'Pertanyaan Anda',
    questionPlaceholder: 'Tanyakan sesuatu tentang materi kuliah…',
    send: 'Kirim',
    stop: 'Hentikan',
    personalize: 'Sesuaikan dengan profil saya',
    newChat: 'Percakapan baru',
    rooms: 'Percakapan Anda',
    noRooms: 'Belum ada percakapan.',
    menu: 'Menu',
    closeMenu: 'Tutup menu',
    sources: 'Sumber',
    page: 'hlm. {label}',
    relevance: 'relevansi {pct}%',
    openPdf: 'Buka PDF di halaman {page}',
    cached: 'Dari cache',
    personalized: 'Dipersonalisasi',
    notCovered: 'Tidak ada di materi',
    curated: 'Jawaban dari dosen',
    whatWasWrong: 'Apa yang kurang tepat? (opsional)',
    stopped: 'Dihentikan',
    revised: 'Diperiksa: kalimat yang tidak didukung materi dihapus',
    tokens: '{n} token',
    cost: 'biaya ${cost}',
    latency: '{s} dtk',
    firstChunk: 'awal {s} dtk',
    you: 'Anda',
    tutor: 'Tutor',
    thinking: 'Sedang menjawab…',
    answerReady: 'Jawaban selesai.',
    connected: 'Terhubung',
    connecting: 'Menghubungkan…',
    reconnecting: 'Koneksi terputus. Mencoba lagi dalam {s} dtk (percobaan {n})…',
    closed: 'Koneksi ditutup.',
    errorPrefix: 'Galat',
    whoAreYou: 'Siapa Anda?',
    userIdLabel: 'NIM atau nama pengguna',
    userIdHelp: 'Dipakai untuk menyimpan percakapan Anda di server ini.',
    save: 'Simpan',
    signedInAs: 'Masuk sebagai {user}',
    changeUser: 'Ganti',
    language: 'Bahasa',
    helpful: 'Membantu',
    notHelpful: 'Tidak membantu',
    thanks: 'Terima kasih atas masukan Anda.',
    empty: 'Ajukan pertanyaan tentang materi kuliah. Jawaban menyebutkan halaman sumbernya.',
    loadFailed: 'Tidak dapat memuat: {msg}',
    sessionFailed: 'Sesi dari LMS tidak dapat dibuka: {msg}',
    // dashboard
    dashboardTitle: 'Dasbor Dosen',
    from: 'Dari',
    to: 'Sampai',
    refresh: 'Muat ulang',
    exportCsv: 'Ekspor CSV',
    perDay: 'per hari',
    perModel: 'per model',
    perCourse: 'per mata kuliah',
    questions: 'Pertanyaan',
    users: 'Mahasiswa',
    cacheHitRate: 'Tingkat cache',
    notCoveredRate: 'Tidak tercakup',
    latencyP: 'Latensi p50 / p95',
    firstChunkP: 'Potongan pertama p50 / p95',
    tokensTotal: 'Token (masuk / keluar)',
    costTotal: 'Biaya',
    connectionsNow: 'Koneksi sekarang',
    chartQuestions: 'Pertanyaan per hari',
    chartLatency: 'Latensi per hari (ms)',
    chartModels: 'Token per model',
    chartRates: 'Cache dan tidak tercakup per hari',
    fromMaterial: 'Dari materi',
    fromCache: 'Dari cache',
    failed: 'Gagal',
    model: 'Model',
    turns: 'Giliran',
    inputTokens: 'Token masuk',
    outputTokens: 'Token keluar',
    staffOnly: 'Dasbor ini hanya untuk dosen dan staf.',
    noData: 'Belum ada pertanyaan pada rentang ini.',
  },
  en: {
    appTitle: 'Course Tutor',
    course: 'Course',
    chooseCourse: 'Choose a course',
    allCourses: 'All courses',
    materials: '{n} materials · {pages} pages',
    question: 'Your question',
    questionPlaceholder: 'Ask something about the course material…',
    send: 'Send',
    stop: 'Stop',
    personalize: 'Tailor to my profile',
    newChat: 'New chat',
    rooms: 'Your chats',
    noRooms: 'No chats yet.',
    menu: 'Menu',
    closeMenu: 'Close menu',
    sources: 'Sources',
    page: 'p. {label}',
    relevance: '{pct}% relevant',
    openPdf: 'Open the PDF at page {page}',
    cached: 'From cache',
    personalized: 'Personalized',
    notCovered: 'Not in the material',
    curated: 'Answer from your lecturer',
    whatWasWrong: 'What was wrong? (optional)',
    stopped: 'Stopped',
    revised: 'Checked: sentences the material does not support were removed',
    tokens: '{n} tokens',
    cost: 'cost ${cost}',
    latency: '{s} s',
    firstChunk: 'first {s} s',
    you: 'You',
    tutor: 'Tutor',
    thinking: 'Answering…',
    answerReady: 'Answer complete.',
    connected: 'Connected',
    connecting: 'Connecting…',
    reconnecting: 'Connection lost. Retrying in {s} s (attempt {n})…',
    closed: 'Connection closed.',
    errorPrefix: 'Error',
    whoAreYou: 'Who are you?',
    userIdLabel: 'Student id or user name',
    userIdHelp: 'Used to keep your chats on this server.',
    save: 'Save',
    signedInAs: 'Signed in as {user}',
    changeUser: 'Change',
    language: 'Language',
    helpful: 'Helpful',
    notHelpful: 'Not helpful',
    thanks: 'Thank you for the feedback.',
    empty: 'Ask a question about the course material. Answers name the pages they come from.',
    loadFailed: 'Could not load: {msg}',
    sessionFailed: 'The session from your LMS could not be opened: {msg}',
    dashboardTitle: 'Lecturer dashboard',
    from: 'From',
    to: 'To',
    refresh: 'Refresh',
    exportCsv: 'Export CSV',
    perDay: 'per day',
    perModel: 'per model',
    perCourse: 'per course',
    questions: 'Questions',
    users: 'Students',
    cacheHitRate: 'Cache hit rate',
    notCoveredRate: 'Not covered',
    latencyP: 'Latency p50 / p95',
    firstChunkP: 'First chunk p50 / p95',
    tokensTotal: 'Tokens (in / out)',
    costTotal: 'Cost',
    connectionsNow: 'Connections now',
    chartQuestions: 'Questions per day',
    chartLatency: 'Latency per day (ms)',
    chartModels: 'Tokens per model',
    chartRates: 'Cache hits and not covered per day',
    fromMaterial: 'From the material',
    fromCache: 'From cache',
    failed: 'Failed',
    model: 'Model',
    turns: 'Turns',
    inputTokens: 'Input tokens',
    outputTokens: 'Output tokens',
    staffOnly: 'This dashboard is for lecturers and staff only.',
    noData: 'No questions in this range yet.',
  },
};

export const LANGUAGES = Object.keys(STRINGS);
const KEY = 'tutor.lang';

function detect() {
  const saved = local.get(KEY);
  if (saved && STRINGS[saved]) return saved;
  const preferred = navigator.languages?.length ? navigator.languages : [navigator.language || 'en'];
  return preferred.some((l) => l.toLowerCase().startsWith('id') || l.toLowerCase().startsWith('ms')) ? 'id' : 'en';
}

let current = detect();

export function lang() {
  return current;
}

export function setLang(code) {
  if (!STRINGS[code]) return;
  current = code;
  local.set(KEY, code);
  document.documentElement.lang = code;
  applyStatic();
}

/** The string for `key` in the current language, with `{name}` placeholders filled in. */
export function t(key, vars = {}) {
  const text = STRINGS[current][key] ?? STRINGS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`));
}

/** Fill every element marked `data-i18n` (text), `data-i18n-placeholder`, `data-i18n-label`. */
export function applyStatic(root = document) {
  document.documentElement.lang = current;
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll('[data-i18n-label]')) el.setAttribute('aria-label', t(el.dataset.i18nLabel));
  for (const el of root.querySelectorAll('[data-i18n-title]')) el.title = t(el.dataset.i18nTitle);
}

/** A <select> that switches the language. */
export function bindSwitch(select, onChange) {
  select.replaceChildren(
    ...LANGUAGES.map((code) => {
      const option = document.createElement('option');
      option.value = code;
      option.textContent = code === 'id' ? 'Bahasa Indonesia' : 'English';
      return option;
    }),
  );
  select.value = current;
  select.addEventListener('change', () => {
    setLang(select.value);
    onChange?.();
  });
}
