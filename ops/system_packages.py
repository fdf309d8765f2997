"""Debian packages the project needs beside Python: installed when missing, explained when not.

Some capabilities rest on programs PyPI does not carry (Tesseract for OCR, Chromium for the page
tests). ``tutor-ops system install`` checks each group with ``dpkg-query`` and installs what is
missing with apt when it can (root, or passwordless sudo); otherwise it prints the command to run
and carries on, because every capability that needs a package also says so itself when it is
absent (ingestion reports "needs OCR: install tesseract-ocr ...", and so on).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass


@dataclass(frozen=True)
class PackageGroup:
    name: str
    packages: tuple[str, ...]
    why: str


# One list, so `make install`, CI and the docs agree on what the project installs.
GROUPS: tuple[PackageGroup, ...] = (
    PackageGroup(
        "ocr",
        # osd: orientation detection, so upside-down and sideways scans read right; pages are
        # rendered by pypdfium2 (a wheel), so poppler is not needed
        ("tesseract-ocr", "tesseract-ocr-osd", "tesseract-ocr-ind", "tesseract-ocr-eng"),
        "reading scanned course modules (OCR)",
    ),
    PackageGroup("browser", ("chromium",), "the chat page and dashboard tests (headless Chromium)"),
    PackageGroup("proxy", ("nginx-light",), "the deployment test: nginx in front of two servers"),
)


def missing(packages: tuple[str, ...]) -> list[str]:
    """Packages of ``packages`` that dpkg does not list as installed."""
    if shutil.which("dpkg-query") is None:
        return list(packages)
    absent = []
    for package in packages:
        result = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", package],
            capture_output=True,
            text=True,
            check=False,
        )
        if "install ok installed" not in result.stdout:
            absent.append(package)
    return absent


def _apt_prefix() -> list[str] | None:
    if shutil.which("apt-get") is None:
        return None
    if os.geteuid() == 0:
        return []
    if shutil.which("sudo") and subprocess.run(["sudo", "-n", "true"], check=False).returncode == 0:
        return ["sudo", "-n"]
    return None


def install(groups: tuple[PackageGroup, ...] = GROUPS) -> int:
    """Install what is missing; return how many packages are still missing afterwards."""
    wanted = [p for group in groups for p in missing(group.packages)]
    if not wanted:
        print("system packages: all present")
        return 0
    prefix = _apt_prefix()
    if prefix is None:
        for group in groups:
            absent = missing(group.packages)
            if absent:
                print(
                    f"system packages: {', '.join(absent)} missing ({group.why}); install them "
                    f"with: sudo apt-get install -y {' '.join(absent)}"
                )
        return len(wanted)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print(f"system packages: installing {' '.join(wanted)} ...", flush=True)
    update = subprocess.run([*prefix, "apt-get", "update", "-qq"], env=env, check=False)
    if update.returncode != 0:
        print("system packages: apt-get update failed; trying the install anyway")
    subprocess.run(
        [*prefix, "apt-get", "install", "-y", "-qq", "--no-install-recommends", *wanted],
        env=env,
        check=False,
    )
    still = [p for group in groups for p in missing(group.packages)]
    if still:
        print(f"system packages: still missing after apt-get: {' '.join(still)}")
    return len(still)
