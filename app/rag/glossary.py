"""A bilingual (Indonesian ↔ English) glossary of computing course vocabulary.

Used to put a question into the material's language without any model: known terms and question
words are swapped, longest phrase first ("sistem operasi" before "sistem"); unknown words (names,
code, terms both languages share such as "router") stay as they are. General vocabulary of
computing courses (programming, operating systems, databases, web, computer organisation,
networks, IT management), not fitted to any question set; a course can add its own pairs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from app.services.lexical import words

# Indonesian → English. Several Indonesian words may map to one English term; the reverse map
# takes the first Indonesian term listed for each English one.
ID_EN: dict[str, str] = {
    # question words and verbs students use
    "apa": "what", "apakah": "", "bagaimana": "how", "gimana": "how", "mengapa": "why",
    "kenapa": "why", "kapan": "when", "dimana": "where", "siapa": "who", "berapa": "how many",
    "jelaskan": "explain", "sebutkan": "list", "perbedaan": "difference", "bedanya": "difference",
    "beda": "difference", "contoh": "example", "contohnya": "example", "fungsi": "function",
    "kegunaan": "purpose", "tujuan": "purpose", "cara": "how to", "langkah": "steps",
    "jenis": "types", "macam": "types", "kelebihan": "advantages", "kekurangan": "disadvantages",
    "keuntungan": "advantages", "kerugian": "disadvantages", "pengertian": "definition",
    "definisi": "definition", "arti": "meaning", "maksud": "meaning", "dibandingkan": "compared",
    "menggunakan": "using", "membuat": "create", "menghitung": "compute", "menyimpan": "store",
    "mengubah": "change", "menjalankan": "run", "dijalankan": "executed", "bekerja": "work",
    "kerja": "work", "terjadi": "happens", "digunakan": "used", "dipakai": "used",
    "antara": "between", "dengan": "with", "tanpa": "without", "dalam": "in", "pada": "on",
    "dan": "and", "atau": "or", "yang": "that", "untuk": "for", "dari": "from", "ke": "to",
    "itu": "", "ini": "this", "adalah": "is", "sama": "same", "setiap": "each", "semua": "all",
    "banyak": "many", "besar": "large", "kecil": "small", "baru": "new", "lama": "old",
    "cepat": "fast", "lambat": "slow", "utama": "main", "dasar": "basic", "umum": "common",
    # programming
    "pemrograman": "programming", "program": "program",
    "bahasa pemrograman": "programming language",
    "variabel": "variable", "konstanta": "constant", "tipe data": "data type", "nilai": "value",
    "perulangan": "loop", "pengulangan": "loop", "looping": "loop", "percabangan": "branching",
    "kondisi": "condition", "kondisional": "conditional", "pernyataan": "statement",
    "ekspresi": "expression", "operator": "operator", "fungsi rekursif": "recursive function",
    "rekursi": "recursion", "rekursif": "recursive", "parameter": "parameter",
    "argumen": "argument", "nilai kembalian": "return value", "pemanggilan": "call",
    "memanggil": "call", "larik": "array", "array": "array", "daftar": "list",
    "kamus": "dictionary",
    "tupel": "tuple", "himpunan": "set", "string": "string", "karakter": "character",
    "bilangan bulat": "integer", "bilangan pecahan": "floating point", "bilangan": "number",
    "angka": "number", "kelas": "class", "objek": "object", "metode": "method",
    "atribut": "attribute", "pewarisan": "inheritance", "warisan": "inheritance",
    "enkapsulasi": "encapsulation", "polimorfisme": "polymorphism", "modul": "module",
    "pustaka": "library", "berkas": "file", "file": "file", "masukan": "input",
    "keluaran": "output", "kesalahan": "error", "galat": "error", "pengecualian": "exception",
    "penanganan": "handling", "algoritma": "algorithm", "pseudocode": "pseudocode",
    "diagram alir": "flowchart", "pengurutan": "sorting", "pencarian": "searching",
    "urutan": "sequence", "indeks": "index", "iterasi": "iteration", "sintaks": "syntax",
    "komentar": "comment", "penugasan": "assignment", "inisialisasi": "initialization",
    "deklarasi": "declaration", "kompilator": "compiler", "kompiler": "compiler",
    "interpreter": "interpreter", "penerjemah": "interpreter", "debugging": "debugging",
    # operating systems
    "sistem operasi": "operating system", "proses": "process", "utas": "thread",
    "penjadwalan": "scheduling", "penjadwal": "scheduler", "memori": "memory",
    "memori utama": "main memory", "memori virtual": "virtual memory", "penyimpanan": "storage",
    "berkas sistem": "file system", "sistem berkas": "file system", "perangkat": "device",
    "perangkat keras": "hardware", "perangkat lunak": "software", "kebuntuan": "deadlock",
    "sinkronisasi": "synchronization", "semafor": "semaphore", "antrian": "queue",
    "antrean": "queue", "tumpukan": "stack", "interupsi": "interrupt", "pemrosesan": "processing",
    "prosesor": "processor", "inti": "core", "halaman": "page", "segmen": "segment",
    "alokasi": "allocation", "pembagian waktu": "time sharing", "waktu tunggu": "waiting time",
    "kernel": "kernel", "pengguna": "user", "sumber daya": "resource", "keamanan": "security",
    "proteksi": "protection",
    # databases
    "basis data": "database", "pangkalan data": "database", "tabel": "table", "kolom": "column",
    "baris": "row", "kunci": "key", "kunci primer": "primary key", "kunci tamu": "foreign key",
    "kunci asing": "foreign key", "relasi": "relation", "hubungan": "relationship",
    "entitas": "entity", "normalisasi": "normalization", "kueri": "query",
    "transaksi": "transaction",
    "integritas": "integrity", "skema": "schema", "pengguna basis data": "database user",
    # web
    "halaman web": "web page", "situs": "website", "peramban": "browser", "tautan": "link",
    "formulir": "form", "gambar": "image", "tautan balik": "backlink", "gaya": "style",
    "elemen": "element", "tag": "tag", "server": "server", "klien": "client",
    # computer organisation
    "komputer": "computer", "organisasi komputer": "computer organization",
    "arsitektur": "architecture", "gerbang logika": "logic gate", "gerbang": "gate",
    "biner": "binary", "bilangan biner": "binary number", "heksadesimal": "hexadecimal",
    "desimal": "decimal", "register": "register", "rangkaian": "circuit", "sirkuit": "circuit",
    "penjumlah": "adder", "penjumlahan": "addition", "pengurangan": "subtraction",
    "perkalian": "multiplication", "pembagian": "division", "instruksi": "instruction",
    "alamat": "address", "bus": "bus", "jam": "clock", "sinyal": "signal", "tegangan": "voltage",
    "transistor": "transistor", "saklar": "switch", "pencacah": "counter", "penghitung": "counter",
    "mesin keadaan": "state machine", "keadaan": "state", "tabel kebenaran": "truth table",
    "aljabar boolean": "boolean algebra", "kebenaran": "truth",
    # networks and IT management
    "jaringan": "network", "jaringan komputer": "computer network", "internet": "internet",
    "protokol": "protocol", "lapisan": "layer", "topologi": "topology", "kabel": "cable",
    "nirkabel": "wireless", "paket": "packet", "alamat ip": "ip address", "pita lebar": "bandwidth",
    "keamanan jaringan": "network security", "infrastruktur": "infrastructure",
    "teknologi informasi": "information technology", "manajemen": "management",
    "pengelolaan": "management", "perencanaan": "planning", "layanan": "service",
    "pusat data": "data center", "cadangan": "backup", "pemulihan": "recovery",
    "ketersediaan": "availability", "kinerja": "performance", "biaya": "cost",
    "anggaran": "budget", "risiko": "risk", "kebijakan": "policy", "pemeliharaan": "maintenance",
    "pemantauan": "monitoring", "kapasitas": "capacity", "awan": "cloud",
    "komputasi awan": "cloud computing", "virtualisasi": "virtualization", "data": "data",
    "informasi": "information", "sistem": "system", "teknologi": "technology",
    "komunikasi": "communication", "perangkat jaringan": "network device",
}  # fmt: skip


def _normalise(term: str) -> str:
    return " ".join(words(term))


class Glossary:
    """Phrase tables in both directions, with longest-match translation."""

    def __init__(self, id_en: Mapping[str, str], extra: Iterable[tuple[str, str]] = ()) -> None:
        pairs = [(_normalise(i), _normalise(e)) for i, e in [*id_en.items(), *extra]]
        self._tables: dict[tuple[str, str], dict[str, str]] = {("id", "en"): {}, ("en", "id"): {}}
        for id_term, en_term in pairs:
            if not id_term:
                continue
            self._tables[("id", "en")][id_term] = en_term
            if en_term:
                self._tables[("en", "id")].setdefault(en_term, id_term)
        self._longest = max((len(t.split()) for tbl in self._tables.values() for t in tbl),
                            default=1)  # fmt: skip

    @classmethod
    def default(cls, extra: Iterable[tuple[str, str]] = ()) -> Glossary:
        return cls(ID_EN, extra)

    def translate(self, text: str, source: str, target: str) -> str:
        table = self._tables.get((source, target))
        tokens = words(text)
        if table is None:
            return " ".join(tokens)
        out: list[str] = []
        i = 0
        while i < len(tokens):
            for size in range(min(self._longest, len(tokens) - i), 0, -1):
                phrase = " ".join(tokens[i : i + size])
                if phrase in table:
                    if table[phrase]:
                        out.append(table[phrase])
                    i += size
                    break
            else:
                out.append(tokens[i])
                i += 1
        return " ".join(out)

    def __len__(self) -> int:
        return len(self._tables[("id", "en")])
