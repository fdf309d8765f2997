"""Distinct student questions about the sample course ``course_tik_01`` (modules 6 and 7).

Distinct, so that each one misses the semantic cache (its distance threshold is tight).
"""

from __future__ import annotations

TYPICAL = "Sebutkan lima tahap perencanaan infrastruktur TI."

QUESTIONS = (
    "Apa yang dimaksud dengan manajemen infrastruktur TI?",
    "Mengapa infrastruktur TI perlu dikelola dengan baik?",
    "Apa saja komponen utama infrastruktur TI di sebuah kampus?",
    "Bagaimana keterkaitan antarkomponen infrastruktur TI?",
    "Apa saja unsur komunikasi data?",
    "Jelaskan mode transmisi simplex, half duplex dan full duplex.",
    "Apa perbedaan transmisi sinkron dan asinkron?",
    "Sebutkan media transmisi kabel beserta kelebihannya.",
    "Apa saja media transmisi nirkabel?",
    "Bandingkan jaringan kabel dengan jaringan nirkabel.",
    "Apa perbedaan LAN, MAN dan WAN?",
    "Jelaskan macam-macam topologi jaringan.",
    "Apa perbedaan hub dan switch?",
    "Apa fungsi router dalam jaringan?",
    "Apa fungsi access point, firewall dan modem?",
    "Apa yang dimaksud dengan pusat data?",
    "Jelaskan klasifikasi tier pusat data.",
    "Bagaimana memilih tier pusat data yang sesuai?",
    "Mengapa pusat data membutuhkan sistem pendingin?",
    "Apa peran catu daya dan UPS di pusat data?",
    "Apa itu redundansi pada pusat data?",
    "Bagaimana cara meningkatkan efisiensi energi pusat data?",
    "Apa perbedaan model client-server dan peer-to-peer?",
    "Sebutkan jenis-jenis server.",
    "Apa itu virtualisasi server?",
    "Siapa saja peran dalam pengelolaan infrastruktur TI?",
    "Apa itu kerangka kerja ITIL?",
    "Apa yang dimaksud dengan perjanjian tingkat layanan atau SLA?",
    "Apa tujuan perencanaan infrastruktur TI?",
    "Apa yang dilakukan pada tahap penilaian kebutuhan?",
    "Apa yang dikerjakan pada tahap perancangan infrastruktur?",
    "Bagaimana proses pengadaan perangkat infrastruktur?",
    "Apa itu total biaya kepemilikan (TCO)?",
    "Bagaimana cara mengevaluasi vendor?",
    "Apa yang dilakukan pada tahap implementasi?",
    "Apa yang dimaksud dengan perencanaan kapasitas?",
    "Bagaimana menghitung kebutuhan bandwidth?",
    "Bagaimana menghitung kebutuhan penyimpanan?",
    "Kapan kapasitas infrastruktur perlu ditambah?",
    "Apa saja yang dipantau dalam pemantauan infrastruktur?",
    "Apa itu aturan backup 3-2-1?",
    "Apa perbedaan backup penuh, inkremental dan diferensial?",
    "Apa arti RPO dan RTO?",
    "Bagaimana menjadwalkan backup dengan cron?",
    "Apa itu segitiga CIA dalam keamanan informasi?",
    "Sebutkan langkah pengamanan dasar infrastruktur.",
    "Bagaimana membuat kata sandi yang kuat?",
    "Apa yang dimaksud dengan keamanan fisik infrastruktur?",
)
